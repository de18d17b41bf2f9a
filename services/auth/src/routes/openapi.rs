//! The auth service's OpenAPI 3.1 document, generated from the handlers'
//! `#[utoipa::path]` annotations and served to other services at
//! `GET /internal/v1/openapi.json` (the gateway merges it into the public
//! `/api/openapi.json`).
//!
//! The schemas are the types the handlers send and receive; only the
//! pages are described here.

use actix_web::HttpResponse;
use serde::Serialize;
use tenant_core::TenantContext;
use tenant_core::openapi::CommonResponses;
pub use tenant_core::openapi::{FieldProblem, Problem};
use utoipa::{OpenApi, ToSchema};

use super::{api_keys, me, sessions, users};
use crate::domain::api_key::ApiKeyRecord;
use crate::domain::user::User;
use crate::error::AuthError;

// tenant-core's `Page<T>` is generic and foreign: it cannot carry a schema
// per item type, so the two pages are described here.

/// A page of users, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserPage {
    items: Vec<User>,
    /// Pass as `cursor` for the next page; absent on the last one.
    next_cursor: Option<String>,
}

/// A page of API keys, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyPage {
    items: Vec<ApiKeyRecord>,
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
#[tracing::instrument(skip_all, err(level = "info"))]
pub async fn spec(ctx: TenantContext) -> Result<HttpResponse, AuthError> {
    Ok(tenant_core::openapi::serve(&ctx, &ApiDoc::openapi())?)
}
