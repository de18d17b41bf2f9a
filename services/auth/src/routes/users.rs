//! Accounts: signing up, platform admins listing and disabling users, and
//! other services looking users up by address.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::json;
use tenant_core::TenantContext;
use tenant_core::email::Email;
use tenant_core::json::Object;
use tenant_core::pagination::{Page, PageParams, PageRequest};
use uuid::Uuid;

use super::openapi as doc;
use crate::AuthState;
use crate::accounts;
use crate::domain::audit::AuditEvent;
use crate::domain::user::User;
use crate::error::AuthError;
use crate::repository::sessions::{self, Ending};
use crate::repository::{audit, users};

#[derive(Deserialize, utoipa::ToSchema)]
pub struct SignUp {
    /// An email address: at most 254 characters, no spaces, a dotted
    /// domain (surrounding whitespace is trimmed, letters are lower-cased).
    #[schema(
        max_length = 254,
        pattern = r"^[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*[!-?A-~]{1,64}@(?:[0-9A-Za-z](?:[0-9A-Za-z-]{0,61}[0-9A-Za-z])?\.)+[0-9A-Za-z](?:[0-9A-Za-z-]{0,61}[0-9A-Za-z])?[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$"
    )]
    email: String,
    /// 12 to 1024 characters, not one character repeated, not a common
    /// password.
    #[schema(value_type = String, format = Password, min_length = 12, max_length = 1024, pattern = r"^([\s\S])(?!\1*$)")]
    password: SecretString,
    /// 1 to 100 characters without control characters (surrounding
    /// whitespace is trimmed).
    #[schema(
        pattern = r"^[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000](?:[^\x00-\x1f\x7f-\x9f]{0,98}[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000])?[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$"
    )]
    display_name: String,
}

/// Creates an account.
#[utoipa::path(
    post,
    path = "/v1/auth/signup",
    tag = "auth",
    request_body = SignUp,
    security(()),
    responses(
        (status = 201, description = "The account was created", body = User,
         headers(("location" = String, description = "`../me`: the account, at `/v1/me` beside `/v1/auth/signup`"))),
        (status = 400, description = "Malformed JSON (`request.malformed_json`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 409, description = "An account with this email exists (`auth.email_taken`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is too large (`request.body_too_large`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not JSON (`request.unsupported_media_type`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is missing or invalid: email, password rules, display name (`auth.invalid_input`, `request.invalid_body`)", body = doc::Problem, content_type = "application/problem+json"),
    ),
)]
#[tracing::instrument(skip_all, fields(user_id), err(level = "info"))]
pub async fn sign_up(
    _ctx: TenantContext,
    state: web::Data<AuthState>,
    body: web::Json<Object<SignUp>>,
) -> Result<HttpResponse, AuthError> {
    let user = accounts::create_user(
        &state,
        &body.email,
        &body.password,
        &body.display_name,
        "user",
    )
    .await?;
    tracing::Span::current().record("user_id", tracing::field::display(user.id));
    Ok(HttpResponse::Created()
        // Relative, so it holds behind the gateway (`/api/v1/me`) as well.
        .insert_header(("location", "../me"))
        .json(user))
}

/// Lists users (platform admins).
#[utoipa::path(
    get,
    path = "/v1/admin/users",
    tag = "admin",
    params(
        ("limit" = Option<u64>, Query, nullable = false, minimum = 1, maximum = 4_294_967_295_u64, description = "Page size (default 50); above 500 counts as 500"),
        ("cursor" = Option<String>, Query, nullable = false, pattern = r"^[A-Za-z0-9_-]+$", description = "`next_cursor` of the previous page, as it was given"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of users", body = doc::UserPage),
        (status = 400, description = "Invalid `limit` or `cursor` (`request.invalid_query`, `pagination.*`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid context: not signed in, or the session has ended (`auth.session_ended`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a platform admin", body = doc::Problem, content_type = "application/problem+json"),
    ),
)]
#[tracing::instrument(skip_all, err(level = "info"))]
pub async fn list_users(
    ctx: TenantContext,
    state: web::Data<AuthState>,
    params: web::Query<PageParams>,
) -> Result<HttpResponse, AuthError> {
    let page = PageRequest::<(DateTime<Utc>, Uuid)>::from_params(&params)?;
    ctx.require_platform_admin()?;
    let tx = state.db.unscoped_tx().await?;
    let users = users::list(&tx, page.after, page.fetch_limit()).await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(users, page.limit, |u| (u.created_at, u.id))))
}

/// Disables a user and ends all their sessions (platform admins).
#[utoipa::path(
    post,
    path = "/v1/admin/users/{user_id}/disable",
    tag = "admin",
    params(("user_id" = Uuid, Path, description = "The user")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "The user is disabled"),
        (status = 400, description = "The id is not a UUID (`request.invalid_path`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid context: not signed in, or the session has ended (`auth.session_ended`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a platform admin", body = doc::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such user (`user.not_found`)", body = doc::Problem, content_type = "application/problem+json"),
    ),
)]
#[tracing::instrument(skip_all, fields(user_id = %user_id), err(level = "info"))]
pub async fn disable_user(
    ctx: TenantContext,
    state: web::Data<AuthState>,
    user_id: web::Path<Uuid>,
) -> Result<HttpResponse, AuthError> {
    let user_id = user_id.into_inner();
    let admin = ctx.require_platform_admin()?;
    let tx = state.db.unscoped_tx().await?;
    if !users::disable(&tx, user_id).await? {
        return Err(AuthError::UserNotFound);
    }
    let revoked = sessions::revoke(&tx, user_id, Ending::All, "user_disabled").await?;
    audit::record(
        &tx,
        AuditEvent::new("user_disabled")
            .user(user_id)
            .details(json!({ "by": admin, "sessions_revoked": revoked.len() })),
    )
    .await?;
    tx.commit().await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize)]
pub struct ByEmail {
    email: String,
}

/// For the project service adding members by email.
#[tracing::instrument(skip_all, fields(user_id), err(level = "info"))]
pub async fn user_by_email(
    ctx: TenantContext,
    state: web::Data<AuthState>,
    query: web::Query<ByEmail>,
) -> Result<HttpResponse, AuthError> {
    ctx.require_service()?;
    let email = Email::parse(&query.email)?;
    let tx = state.db.unscoped_tx().await?;
    let user = users::by_email(&tx, email.as_str())
        .await?
        .ok_or(AuthError::UserNotFound)?;
    tracing::Span::current().record("user_id", tracing::field::display(user.id));
    Ok(HttpResponse::Ok().json(user))
}
