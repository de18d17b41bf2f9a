//! The signed-in user: their profile and their password.

use actix_web::{HttpResponse, web};
use secrecy::SecretString;
use serde::{Deserialize, Deserializer};
use serde_json::json;
use tenant_core::TenantContext;
use tenant_core::json::Object;
use uuid::Uuid;

use super::openapi as doc;
use crate::AuthState;
use crate::accounts::current_user;
use crate::domain::audit::AuditEvent;
use crate::domain::display_name::DisplayName;
use crate::domain::password::NewPassword;
use crate::domain::user::User;
use crate::error::AuthError;
use crate::log_in::{record_failure, unless_locked};
use crate::repository::sessions::{self, Ending};
use crate::repository::{audit, login_throttle, users};

/// The signed-in user's profile.
#[utoipa::path(
    get,
    path = "/v1/me",
    tag = "me",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The profile", body = User),
        (status = 401, description = "No valid context: not signed in, or the session has ended (`auth.session_ended`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 404, description = "The user no longer exists (`user.not_found`)", body = doc::Problem, content_type = "application/problem+json"),
    ),
)]
#[tracing::instrument(skip_all, err(level = "info"))]
pub async fn get_me(
    ctx: TenantContext,
    state: web::Data<AuthState>,
) -> Result<HttpResponse, AuthError> {
    Ok(HttpResponse::Ok().json(current_user(&state, &ctx).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateMe {
    /// 1 to 100 characters without control characters (surrounding
    /// whitespace is trimmed); absent or `null`: unchanged.
    #[schema(
        pattern = r"^[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000](?:[^\x00-\x1f\x7f-\x9f]{0,98}[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000])?[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$"
    )]
    display_name: Option<String>,
    /// Absent: unchanged; `null`: cleared.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Uuid>)]
    default_project: Option<Option<Uuid>>,
}

fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Option<Uuid>>, D::Error> {
    Option::<Uuid>::deserialize(deserializer).map(Some)
}

/// Changes the display name or the default project.
#[utoipa::path(
    patch,
    path = "/v1/me",
    tag = "me",
    request_body = UpdateMe,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The changed profile", body = User),
        (status = 400, description = "Malformed JSON (`request.malformed_json`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid context: not signed in, or the session has ended (`auth.session_ended`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 404, description = "The user no longer exists (`user.not_found`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is too large (`request.body_too_large`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not JSON (`request.unsupported_media_type`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is invalid or unknown (`auth.invalid_input`, `request.invalid_body`)", body = doc::Problem, content_type = "application/problem+json"),
    ),
)]
#[tracing::instrument(skip_all, err(level = "info"))]
pub async fn update_me(
    ctx: TenantContext,
    state: web::Data<AuthState>,
    body: web::Json<Object<UpdateMe>>,
) -> Result<HttpResponse, AuthError> {
    let body = body.into_inner().into_inner();
    let user = current_user(&state, &ctx).await?;
    let display_name = body
        .display_name
        .as_deref()
        .map(DisplayName::parse)
        .transpose()?;
    let tx = state.db.unscoped_tx().await?;
    let updated = users::update_profile(
        &tx,
        user.id,
        display_name.as_ref().map(DisplayName::as_str),
        body.default_project,
    )
    .await?
    .ok_or(AuthError::SessionEnded)?;
    tx.commit().await?;
    Ok(HttpResponse::Ok().json(updated))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct ChangePassword {
    #[schema(value_type = String, format = Password)]
    current_password: SecretString,
    /// 12 to 1024 characters, not one character repeated, not a common
    /// password.
    #[schema(value_type = String, format = Password, min_length = 12, max_length = 1024, pattern = r"^([\s\S])(?!\1*$)")]
    new_password: SecretString,
}

/// Changes the password; ends every other session.
#[utoipa::path(
    post,
    path = "/v1/me/password",
    tag = "me",
    request_body = ChangePassword,
    security(("bearer" = [])),
    responses(
        (status = 204, description = "The password changed"),
        (status = 400, description = "Malformed JSON (`request.malformed_json`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 401, description = "Not signed in, or the current password is wrong (`auth.invalid_credentials`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is too large (`request.body_too_large`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not JSON (`request.unsupported_media_type`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 422, description = "The new password breaks the rules (`auth.invalid_input`, `request.invalid_body`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many failed attempts (`auth.throttled`); see `Retry-After`", body = doc::Problem, content_type = "application/problem+json"),
    ),
)]
#[tracing::instrument(skip_all, err(level = "info"))]
pub async fn change_password(
    ctx: TenantContext,
    state: web::Data<AuthState>,
    body: web::Json<Object<ChangePassword>>,
) -> Result<HttpResponse, AuthError> {
    let client_ip = ctx.client_ip().map(|ip| ip.to_string());
    let client_ip = client_ip.as_deref();
    let user = current_user(&state, &ctx).await?;
    let new = NewPassword::parse(&body.new_password)?;
    unless_locked(state.db.unscoped_tx().await?, &user.email, client_ip)
        .await?
        .commit()
        .await?;
    if !state
        .hasher
        .verify(&body.current_password, Some(&user.password_hash))
        .await?
        .matches
    {
        record_failure(&state, &user.email, Some(user.id), client_ip).await?;
        return Err(AuthError::InvalidCredentials);
    }
    let hash = state.hasher.hash(new.secret()).await?;
    let tx = state.db.unscoped_tx().await?;
    users::set_password_hash(&tx, user.id, &hash).await?;
    let others = ctx.session_id().map_or(Ending::All, Ending::AllBut);
    let revoked = sessions::revoke(&tx, user.id, others, "password_changed").await?;
    login_throttle::clear(&tx, &user.email).await?;
    let event = |kind| {
        AuditEvent::new(kind)
            .user(user.id)
            .session(ctx.session_id())
            .client_ip(client_ip)
    };
    audit::record(&tx, event("password_changed")).await?;
    audit::record(
        &tx,
        event("sessions_revoked")
            .details(json!({ "count": revoked.len(), "reason": "password_changed" })),
    )
    .await?;
    tx.commit().await?;
    Ok(HttpResponse::NoContent().finish())
}
