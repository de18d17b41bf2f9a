//! A project's API keys: created by its admins and shown once, listed,
//! revoked; introspected by the gateway; revoked when the project service
//! reports their creator below admin.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::json;
use tenant_core::json::Object;
use tenant_core::pagination::{Page, PageParams, PageRequest};
use tenant_core::{Role, TenantContext};
use uuid::Uuid;

use super::openapi as doc;
use crate::AuthState;
use crate::domain::api_key::{
    ApiKey, ApiKeyName, ApiKeyRecord, ApiKeyRole, CreatedApiKey, Introspection,
};
use crate::domain::audit::AuditEvent;
use crate::domain::revocations::{MemberAccess, MemberAccessApplied};
use crate::error::AuthError;
use crate::repository::api_keys::{self, NewApiKey};
use crate::repository::{audit, key_creators};

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKey {
    /// 1 to 100 characters (surrounding whitespace is trimmed).
    #[schema(
        pattern = r"^[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*[^\x00\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000](?:[^\x00]{0,98}[^\x00\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000])?[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$"
    )]
    name: String,
    #[schema(value_type = ApiKeyRole)]
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
        (status = 201, description = "The key", body = CreatedApiKey,
         headers(("location" = String, description = "`api-keys/{id}`"))),
        (status = 400, description = "Malformed JSON (`request.malformed_json`), or text with a NUL character (`request.invalid_text`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid context: not signed in, or the session has ended (`auth.session_ended`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller's project role is below admin (`project.role_too_low`), or the caller's demotion or removal has reached the auth service (`api_key.creator_role_too_low`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such project, or not a member (`project.not_found`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is too large (`request.body_too_large`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not JSON (`request.unsupported_media_type`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid name, a role above member (`api_key.role_too_high`) or expiry (`api_key.invalid_expiry`)", body = doc::Problem, content_type = "application/problem+json"),
    ),
)]
#[tracing::instrument(skip_all, fields(api_key_id), err(level = "info"))]
pub async fn create(
    ctx: TenantContext,
    state: web::Data<AuthState>,
    body: web::Json<Object<CreateApiKey>>,
) -> Result<HttpResponse, AuthError> {
    let project = *ctx.require_role(Role::Admin)?;
    let created_by = ctx.require_user()?;
    let name = ApiKeyName::parse(&body.name)?;
    let role = ApiKeyRole::try_from(body.role)?;
    if !state
        .policy
        .allows_api_key_expiry(body.expires_at, Utc::now())
    {
        return Err(AuthError::ApiKeyExpiry {
            max_days: state.policy.api_key_max_days,
        });
    }
    let key = ApiKey::generate()?;
    let tx = state.db.tenant_tx(&ctx).await?;
    // The context's role may predate a demotion the project service
    // has already reported; under the lock, a report being applied
    // either sees this key or is seen here.
    key_creators::lock(&tx, project.project_id, created_by).await?;
    if key_creators::allowed(&tx, project.project_id, created_by).await? == Some(false) {
        return Err(AuthError::KeyCreatorRoleTooLow);
    }
    let record = api_keys::insert(
        &tx,
        &NewApiKey {
            project_id: project.project_id,
            name: name.as_str(),
            role,
            key_hash: &key.hash(),
            display_prefix: &key.display_prefix(),
            last_four: &key.last_four(),
            created_by,
            expires_at: body.expires_at,
        },
    )
    .await?;
    tracing::Span::current().record("api_key_id", tracing::field::display(record.id));
    audit::record(
        &tx,
        AuditEvent::new("api_key_created")
            .user(created_by)
            .session(ctx.session_id())
            .details(
                json!({ "project_id": project.project_id, "api_key_id": record.id, "role": role }),
            ),
    )
    .await?;
    tx.commit().await?;
    let created = CreatedApiKey {
        record,
        key: key.expose().to_owned(),
    };
    Ok(HttpResponse::Created()
        .insert_header(("cache-control", "no-store"))
        .insert_header((header::LOCATION, format!("api-keys/{}", created.record.id)))
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
#[tracing::instrument(skip_all, err(level = "info"))]
pub async fn list(
    ctx: TenantContext,
    state: web::Data<AuthState>,
    params: web::Query<PageParams>,
) -> Result<HttpResponse, AuthError> {
    let page = PageRequest::<(DateTime<Utc>, Uuid)>::from_params(&params)?;
    let project = *ctx.require_role(Role::Admin)?;
    let tx = state.db.tenant_tx(&ctx).await?;
    let keys: Vec<ApiKeyRecord> =
        api_keys::list(&tx, project.project_id, page.after, page.fetch_limit()).await?;
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
#[tracing::instrument(skip_all, fields(api_key_id = %path.1), err(level = "info"))]
pub async fn revoke(
    ctx: TenantContext,
    state: web::Data<AuthState>,
    path: web::Path<(String, Uuid)>,
) -> Result<HttpResponse, AuthError> {
    let id = path.1;
    let project = *ctx.require_role(Role::Admin)?;
    let tx = state.db.tenant_tx(&ctx).await?;
    if !api_keys::revoke(&tx, project.project_id, id).await? {
        return Err(AuthError::ApiKeyNotFound);
    }
    audit::record(
        &tx,
        AuditEvent::new("api_key_revoked")
            .user(ctx.require_user().ok())
            .session(ctx.session_id())
            .details(json!({ "project_id": project.project_id, "api_key_id": id })),
    )
    .await?;
    tx.commit().await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize)]
pub struct Introspect {
    key: SecretString,
}

/// For the gateway: who an API key is. POST, so the key stays out of URLs.
/// The checksum is checked first, so junk never reaches the database.
#[tracing::instrument(skip_all, err(level = "info"))]
pub async fn introspect(
    ctx: TenantContext,
    state: web::Data<AuthState>,
    body: web::Json<Introspect>,
) -> Result<HttpResponse, AuthError> {
    ctx.require_service()?;
    let key = ApiKey::parse(body.key.expose_secret()).ok_or(AuthError::ApiKeyInvalid)?;
    state.metrics.api_key_lookups.inc();
    let tx = state.db.unscoped_tx().await?;
    let found = api_keys::introspect(&tx, &key.hash()).await?;
    tx.commit().await?;
    let key = found.ok_or(AuthError::ApiKeyInvalid)?;
    Ok(HttpResponse::Ok().json(Introspection::from(key)))
}

#[derive(Deserialize)]
pub struct MemberReports {
    members: Vec<MemberAccess>,
}

/// For the project service: members whose access changed, in its change
/// feed's order, each applied in its project's transaction. A member below
/// admin (or gone) loses the keys they created there and may create none
/// until a later report says otherwise. Reports older than one already
/// applied change nothing, so a repeated delivery is harmless.
#[tracing::instrument(skip_all, fields(reports = body.members.len()), err(level = "info"))]
pub async fn member_access(
    ctx: TenantContext,
    state: web::Data<AuthState>,
    body: web::Json<MemberReports>,
) -> Result<HttpResponse, AuthError> {
    ctx.require_service()?;
    let mut applied = MemberAccessApplied::default();
    for report in &body.members {
        let may_create = report.may_create_keys();
        let tx = state.db.worker_tx(report.project_id).await?;
        key_creators::lock(&tx, report.project_id, report.user_id).await?;
        let newest = key_creators::record(
            &tx,
            report.project_id,
            report.user_id,
            may_create,
            report.as_of_seq,
        )
        .await?;
        if newest && !may_create {
            let revoked =
                api_keys::revoke_created_by(&tx, report.project_id, report.user_id).await?;
            if !revoked.is_empty() {
                audit::record(
                    &tx,
                    AuditEvent::new("api_key_revoked")
                        .user(report.user_id)
                        .details(json!({
                            "project_id": report.project_id,
                            "api_key_ids": revoked,
                            "reason": report.revocation_reason(),
                        })),
                )
                .await?;
                applied.api_keys_revoked += revoked.len();
            }
        }
        tx.commit().await?;
    }
    Ok(HttpResponse::Ok().json(applied))
}
