use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use tenant_core::json::Object;
use tenant_core::pagination::{Page, PageParams, PageRequest};
use tenant_core::{Problem, Role, TenantContext};
use uuid::Uuid;

use super::openapi as doc;
use crate::flows::AuthState;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKey {
    /// 1 to 100 characters (surrounding whitespace is trimmed).
    #[schema(
        pattern = r"^[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*[^\x00\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000](?:[^\x00]{0,98}[^\x00\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000])?[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$"
    )]
    name: String,
    #[schema(value_type = doc::ApiKeyRole)]
    role: Role,
    /// In the future, and at most `api_key_max_days` (365 by default) from now.
    expires_at: DateTime<Utc>,
}

/// Creates an API key for the project; the key is in this answer only.
#[utoipa::path(
    post,
    path = "/v1/projects/{project}/api-keys",
    tag = "api-keys",
    params(
        ("project" = String, Path, description = "Project id or slug"),
    ),
    request_body = CreateApiKey,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The key", body = doc::CreatedApiKey),
        (status = 400, description = "Malformed JSON (`request.malformed_json`), or text with a NUL character (`request.invalid_text`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid context: not signed in, or the session has ended (`auth.session_ended`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller's project role is below admin (`project.role_too_low`), or the caller's demotion or removal has reached the auth service (`api_key.creator_role_too_low`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such project, or not a member (`project.not_found`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is too large (`request.body_too_large`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not JSON (`request.unsupported_media_type`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid name, a role above member (`api_key.role_too_high`) or expiry (`api_key.invalid_expiry`)", body = doc::Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn create(
    ctx: TenantContext,
    state: web::Data<AuthState>,
    body: web::Json<Object<CreateApiKey>>,
) -> Result<HttpResponse, Problem> {
    let created = state
        .create_api_key(&ctx, &body.name, body.role, body.expires_at)
        .await?;
    Ok(HttpResponse::Created()
        .insert_header(("cache-control", "no-store"))
        .json(created))
}

/// Lists the project's API keys.
#[utoipa::path(
    get,
    path = "/v1/projects/{project}/api-keys",
    tag = "api-keys",
    params(
        ("project" = String, Path, description = "Project id or slug"),
        ("limit" = Option<u64>, Query, nullable = false, minimum = 1, maximum = 4_294_967_295_u64, description = "Page size (default 50); above 500 counts as 500"),
        ("cursor" = Option<String>, Query, nullable = false, pattern = r"^[A-Za-z0-9_-]+$", description = "`next_cursor` of the previous page, as it was given"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of keys", body = doc::ApiKeyPage),
        (status = 400, description = "Invalid `limit` or `cursor` (`request.invalid_query`, `pagination.*`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid context: not signed in, or the session has ended (`auth.session_ended`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller's project role is below admin (`project.role_too_low`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such project, or not a member (`project.not_found`)", body = doc::Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn list(
    ctx: TenantContext,
    state: web::Data<AuthState>,
    params: web::Query<PageParams>,
) -> Result<HttpResponse, Problem> {
    let page = PageRequest::from_params(&params)?;
    let keys = state
        .list_api_keys(&ctx, page.after, page.fetch_limit())
        .await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(keys, page.limit, |k| (k.created_at, k.id))))
}

/// Revokes an API key.
#[utoipa::path(
    delete,
    path = "/v1/projects/{project}/api-keys/{key_id}",
    tag = "api-keys",
    params(
        ("project" = String, Path, description = "Project id or slug"),
        ("key_id" = Uuid, Path, description = "The key's id"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "The key is revoked"),
        (status = 400, description = "The key id is not a UUID (`request.invalid_path`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid context: not signed in, or the session has ended (`auth.session_ended`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller's project role is below admin (`project.role_too_low`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such project or key (`project.not_found`, `api_key.not_found`)", body = doc::Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn revoke(
    ctx: TenantContext,
    state: web::Data<AuthState>,
    path: web::Path<(String, Uuid)>,
) -> Result<HttpResponse, Problem> {
    state.revoke_api_key(&ctx, path.1).await?;
    Ok(HttpResponse::NoContent().finish())
}
