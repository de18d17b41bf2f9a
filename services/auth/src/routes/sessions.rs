//! Sessions: signing in, renewing tokens, signing out, and a session's
//! status for a gateway whose revocation feed is stale.

use actix_web::{HttpResponse, web};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tenant_core::TenantContext;
use tenant_core::json::Object;
use uuid::Uuid;

use super::openapi as doc;
use crate::AuthState;
use crate::domain::audit::AuditEvent;
use crate::domain::tokens::TokenResponse;
use crate::error::AuthError;
use crate::repository::audit;
use crate::repository::sessions::{self, Ending};
use crate::{log_in, refresh};

#[derive(Deserialize, utoipa::ToSchema)]
pub struct LogIn {
    /// The address signed up with (any text: one that is not an address
    /// is answered like an unknown account).
    #[schema(pattern = r"^[^\x00]*$")]
    email: String,
    #[schema(value_type = String, format = Password)]
    password: SecretString,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct Refresh {
    /// `flr_...`, from the last log-in or refresh.
    #[schema(value_type = String, format = Password, pattern = r"^flr_[A-Za-z0-9_-]{43}$")]
    refresh_token: SecretString,
}

fn no_store(response: &mut actix_web::HttpResponseBuilder) -> &mut actix_web::HttpResponseBuilder {
    response.insert_header(("cache-control", "no-store"))
}

/// Signs in with email and password.
#[utoipa::path(
    post,
    path = "/v1/auth/login",
    tag = "auth",
    request_body = LogIn,
    security(()),
    responses(
        (status = 200, description = "Signed in", body = TokenResponse),
        (status = 400, description = "Malformed JSON (`request.malformed_json`), or text with a NUL character (`request.invalid_text`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 401, description = "Unknown email or wrong password (`auth.invalid_credentials`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is too large (`request.body_too_large`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not JSON (`request.unsupported_media_type`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is missing or invalid (`request.invalid_body`, `auth.invalid_input`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many failed sign-ins of this account (`auth.throttled`), or too many requests without credentials (`gateway.rate_limited`); see `Retry-After`", body = doc::Problem, content_type = "application/problem+json"),
    ),
)]
#[tracing::instrument(skip_all, err(level = "info"))]
pub async fn log_in(
    ctx: TenantContext,
    state: web::Data<AuthState>,
    body: web::Json<Object<LogIn>>,
) -> Result<HttpResponse, AuthError> {
    let tokens = log_in::log_in(&state, &body.email, &body.password, ctx.client_ip()).await?;
    Ok(no_store(&mut HttpResponse::Ok()).json(tokens))
}

/// Exchanges a refresh token for a new pair (the old one is rotated out).
#[utoipa::path(
    post,
    path = "/v1/auth/refresh",
    tag = "auth",
    request_body = Refresh,
    security(()),
    responses(
        (status = 200, description = "A new token pair", body = TokenResponse),
        (status = 400, description = "Malformed JSON, or the refresh token is invalid, expired, revoked or reused (`auth.invalid_grant`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is too large (`request.body_too_large`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not JSON (`request.unsupported_media_type`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is missing or invalid (`request.invalid_body`)", body = doc::Problem, content_type = "application/problem+json"),
    ),
)]
#[tracing::instrument(skip_all, err(level = "info"))]
pub async fn refresh(
    ctx: TenantContext,
    state: web::Data<AuthState>,
    body: web::Json<Object<Refresh>>,
) -> Result<HttpResponse, AuthError> {
    let tokens = refresh::refresh(&state, &body.refresh_token, ctx.client_ip()).await?;
    Ok(no_store(&mut HttpResponse::Ok()).json(tokens))
}

/// Ends this session.
#[utoipa::path(
    post,
    path = "/v1/auth/logout",
    tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "The session ended"),
        (status = 401, description = "No valid context: not signed in, or the session has ended (`auth.session_ended`)", body = doc::Problem, content_type = "application/problem+json"),
    ),
)]
#[tracing::instrument(skip_all, err(level = "info"))]
pub async fn log_out(
    ctx: TenantContext,
    state: web::Data<AuthState>,
) -> Result<HttpResponse, AuthError> {
    end_sessions(&state, &ctx, false).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Ends every session of the signed-in user.
#[utoipa::path(
    post,
    path = "/v1/auth/logout-all",
    tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The sessions ended", body = SessionsRevoked),
        (status = 401, description = "No valid context: not signed in, or the session has ended (`auth.session_ended`)", body = doc::Problem, content_type = "application/problem+json"),
    ),
)]
#[tracing::instrument(skip_all, err(level = "info"))]
pub async fn log_out_everywhere(
    ctx: TenantContext,
    state: web::Data<AuthState>,
) -> Result<HttpResponse, AuthError> {
    let sessions_revoked = end_sessions(&state, &ctx, true).await?;
    Ok(HttpResponse::Ok().json(SessionsRevoked { sessions_revoked }))
}

/// How many sessions a log-out ended.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SessionsRevoked {
    sessions_revoked: u64,
}

/// Ends the caller's session (`everywhere = false`) or all of the user's;
/// returns how many ended.
async fn end_sessions(
    state: &AuthState,
    ctx: &TenantContext,
    everywhere: bool,
) -> Result<u64, AuthError> {
    let user_id = ctx.require_user()?;
    let (ending, reason) = if everywhere {
        (Ending::All, "logout_everywhere")
    } else {
        let session_id = ctx.session_id().ok_or(AuthError::SessionEnded)?;
        (Ending::Only(session_id), "logout")
    };
    let tx = state.db.unscoped_tx().await?;
    let revoked = sessions::revoke(&tx, user_id, ending, reason).await?;
    audit::record(
        &tx,
        AuditEvent::new("sessions_revoked")
            .user(user_id)
            .session(ctx.session_id())
            .details(json!({ "count": revoked.len(), "everywhere": everywhere })),
    )
    .await?;
    tx.commit().await?;
    Ok(u64::try_from(revoked.len()).unwrap_or(u64::MAX))
}

#[derive(Deserialize)]
pub struct SessionOf {
    user: Uuid,
}

/// For a gateway whose revocation feed is stale: whether one session is
/// still live (and its user enabled).
#[tracing::instrument(skip_all, fields(session_id = %session_id, user_id = %query.user), err(level = "info"))]
pub async fn session_status(
    ctx: TenantContext,
    state: web::Data<AuthState>,
    session_id: web::Path<Uuid>,
    query: web::Query<SessionOf>,
) -> Result<HttpResponse, AuthError> {
    ctx.require_service()?;
    let tx = state.db.unscoped_tx().await?;
    let live = sessions::is_live(&tx, *session_id, query.user).await?;
    tx.commit().await?;
    Ok(HttpResponse::Ok().json(json!({ "live": live })))
}
