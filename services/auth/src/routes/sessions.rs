use actix_web::{HttpResponse, web};
use secrecy::SecretString;
use serde::Deserialize;
use tenant_core::json::Object;
use tenant_core::{Problem, TenantContext};

use super::openapi as doc;
use crate::flows::AuthState;

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
        (status = 200, description = "Signed in", body = doc::Tokens),
        (status = 400, description = "Malformed JSON (`request.malformed_json`), or text with a NUL character (`request.invalid_text`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 401, description = "Unknown email or wrong password (`auth.invalid_credentials`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is too large (`request.body_too_large`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not JSON (`request.unsupported_media_type`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is missing or invalid (`request.invalid_body`, `auth.invalid_input`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many failed sign-ins of this account (`auth.throttled`), or too many requests without credentials (`gateway.rate_limited`); see `Retry-After`", body = doc::Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn log_in(
    ctx: TenantContext,
    state: web::Data<AuthState>,
    body: web::Json<Object<LogIn>>,
) -> Result<HttpResponse, Problem> {
    let tokens = state
        .log_in(&body.email, &body.password, ctx.client_ip())
        .await?;
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
        (status = 200, description = "A new token pair", body = doc::Tokens),
        (status = 400, description = "Malformed JSON, or the refresh token is invalid, expired, revoked or reused (`auth.invalid_grant`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is too large (`request.body_too_large`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not JSON (`request.unsupported_media_type`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is missing or invalid (`request.invalid_body`)", body = doc::Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn refresh(
    ctx: TenantContext,
    state: web::Data<AuthState>,
    body: web::Json<Object<Refresh>>,
) -> Result<HttpResponse, Problem> {
    let tokens = state.refresh(&body.refresh_token, ctx.client_ip()).await?;
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
pub async fn log_out(
    ctx: TenantContext,
    state: web::Data<AuthState>,
) -> Result<HttpResponse, Problem> {
    state.log_out(&ctx, false).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Ends every session of the signed-in user.
#[utoipa::path(
    post,
    path = "/v1/auth/logout-all",
    tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The sessions ended", body = doc::SessionsRevoked),
        (status = 401, description = "No valid context: not signed in, or the session has ended (`auth.session_ended`)", body = doc::Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn log_out_everywhere(
    ctx: TenantContext,
    state: web::Data<AuthState>,
) -> Result<HttpResponse, Problem> {
    let revoked = state.log_out(&ctx, true).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "sessions_revoked": revoked })))
}
