//! The auth service's OpenAPI 3.1 document, generated from the handlers'
//! `#[utoipa::path]` annotations and served to other services at
//! `GET /internal/v1/openapi.json` (the gateway merges it into the public
//! `/api/openapi.json`).
//!
//! The schemas below describe what the handlers send and receive; the
//! response types themselves live in `flows` and `repo`.

use actix_web::HttpResponse;
use chrono::{DateTime, Utc};
use serde::Serialize;
use tenant_core::TenantContext;
use utoipa::{OpenApi, ToSchema};
use uuid::Uuid;

use super::{api_keys, me, sessions, users};

use tenant_core::openapi::CommonResponses;
pub use tenant_core::openapi::{FieldProblem, Problem};

/// A user account.
#[derive(Debug, Serialize, ToSchema)]
pub struct User {
    id: Uuid,
    email: String,
    display_name: String,
    /// `user` or `admin`.
    platform_role: String,
    default_project: Option<Uuid>,
    disabled: bool,
    created_at: DateTime<Utc>,
}

/// A page of users, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserPage {
    items: Vec<User>,
    /// Pass as `cursor` for the next page; absent on the last one.
    next_cursor: Option<String>,
}

/// An access token and the refresh token that renews it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Tokens {
    access_token: String,
    /// Always `Bearer`.
    token_type: String,
    /// Seconds until the access token expires.
    expires_in: i64,
    refresh_token: String,
}

/// How many sessions a log-out ended.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionsRevoked {
    sessions_revoked: u64,
}

/// The roles an API key may have.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code, reason = "described here, never built")]
pub enum ApiKeyRole {
    Viewer,
    Member,
}

/// An API key as listed (the key itself is shown once, at creation).
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKey {
    id: Uuid,
    project_id: Uuid,
    name: String,
    role: ApiKeyRole,
    /// `flt_` and the key's first four characters.
    display_prefix: String,
    last_four: String,
    created_by: Uuid,
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    revoked_at: Option<DateTime<Utc>>,
    last_used_at: Option<DateTime<Utc>>,
}

/// A new API key, with the key itself (never shown again).
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedApiKey {
    #[serde(flatten)]
    record: ApiKey,
    key: String,
}

/// A page of API keys, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyPage {
    items: Vec<ApiKey>,
    next_cursor: Option<String>,
}

#[derive(Debug, OpenApi)]
#[openapi(
    info(title = "auth-service", description = "Users, sessions, tokens and API keys."),
    paths(
        users::sign_up,
        sessions::log_in,
        sessions::refresh,
        sessions::log_out,
        sessions::log_out_everywhere,
        me::get_me,
        me::update_me,
        me::change_password,
        users::list_users,
        users::disable_user,
        api_keys::list,
        api_keys::create,
        api_keys::revoke,
    ),
    components(schemas(Problem, FieldProblem)),
    modifiers(&CommonResponses),
    tags((name = "auth", description = "Sign-up, sign-in and sessions"),
         (name = "me", description = "The signed-in user"),
         (name = "admin", description = "Platform administration"),
         (name = "api-keys", description = "A project's API keys")),
)]
pub struct ApiDoc;

/// `GET /internal/v1/openapi.json`: this service's OpenAPI document, for
/// the gateway. Service principals only, like every `/internal` route.
pub async fn spec(ctx: TenantContext) -> Result<HttpResponse, tenant_core::Problem> {
    tenant_core::openapi::serve(&ctx, &ApiDoc::openapi())
}
