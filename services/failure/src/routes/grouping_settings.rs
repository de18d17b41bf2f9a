//! `/v1/projects/{project}/settings/grouping`: a project's in-app prefixes
//! and number masking. A change applies to failures stored after it; a
//! regroup job (`POST /v2/projects/{project}/regroup`) applies it to the
//! project's recent failures.

use actix_web::{HttpResponse, web};
use chrono::Utc;
use serde::Deserialize;
use tenant_core::json::Object;
use tenant_core::{Db, Role, TenantContext};
use utoipa::ToSchema;

use super::openapi as doc;
use super::project_scope;
use crate::domain::GroupingSettings;
use crate::error::FailureError;
use crate::repository::grouping_settings as repository;

/// `GET /v1/projects/{project}/settings/grouping`.
/// The project's grouping settings (the defaults when it never set any).
#[utoipa::path(
    get,
    path = "/v1/projects/{project}/settings/grouping",
    tag = "settings",
    params(("project" = String, Path, description = "Project id or slug")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The settings", body = GroupingSettings),
        (status = 400, description = "The path names another project (`project.context_mismatch`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid context token (`context.*`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller has no role in the project (`context.role_too_low`)", body = doc::Problem, content_type = "application/problem+json"),
    ),
)]
#[tracing::instrument(skip_all, fields(project_id = tracing::field::Empty), err(level = "info"))]
pub async fn show(
    ctx: TenantContext,
    db: web::Data<Db>,
    path: web::Path<String>,
) -> Result<HttpResponse, FailureError> {
    let project_id = project_scope(&ctx, &path, Role::Viewer)?;
    let tx = db.tenant_tx(&ctx).await?;
    let settings = repository::get_grouping_settings(&tx, project_id).await?;
    tx.commit().await?;
    Ok(HttpResponse::Ok().json(settings))
}

/// A package or path prefix: 1 to 200 characters, none of them whitespace
/// or a control character.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(
    value_type = String,
    pattern = r"^[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]{1,200}$"
)]
pub struct InAppPrefix(String);

/// New grouping settings; both fields are required (the whole settings
/// are replaced).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutGroupingSettings {
    /// Package or path prefixes of the project's own code, at most 50,
    /// each 1 to 200 characters without whitespace; `[]`: every frame
    /// outside well-known framework and runtime code is the project's.
    #[schema(max_items = 50)]
    in_app_prefixes: Vec<InAppPrefix>,
    /// Keep numbers of any length in messages instead of masking long ones.
    keep_numbers: bool,
}

/// `PUT /v1/projects/{project}/settings/grouping`.
/// Replaces the grouping settings. Failures stored from now on get
/// signatures under them (so they may land in new groups); queue a regroup
/// job to apply them to recent failures.
#[utoipa::path(
    put,
    path = "/v1/projects/{project}/settings/grouping",
    tag = "settings",
    params(("project" = String, Path, description = "Project id or slug")),
    request_body = PutGroupingSettings,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The settings now in force", body = GroupingSettings),
        (status = 400, description = "Malformed JSON (`request.malformed_json`), or the path names another project (`project.context_mismatch`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid context token (`context.*`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller's role in the project is below admin (`context.role_too_low`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is too large (`request.body_too_large`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not JSON (`request.unsupported_media_type`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is missing or invalid (`request.invalid_body`, with `errors`)", body = doc::Problem, content_type = "application/problem+json"),
    ),
)]
#[tracing::instrument(skip_all, fields(project_id = tracing::field::Empty), err(level = "info"))]
pub async fn replace(
    ctx: TenantContext,
    db: web::Data<Db>,
    path: web::Path<String>,
    body: web::Json<Object<PutGroupingSettings>>,
) -> Result<HttpResponse, FailureError> {
    let project_id = project_scope(&ctx, &path, Role::Admin)?;
    let body = body.into_inner().into_inner();
    let prefixes = body.in_app_prefixes.into_iter().map(|p| p.0).collect();
    let settings = GroupingSettings::parse(prefixes, body.keep_numbers)
        .map_err(|invalid| FailureError::invalid(invalid.field, invalid.message))?;
    let tx = db.tenant_tx(&ctx).await?;
    repository::put_grouping_settings(&tx, project_id, &settings, ctx.principal().id, Utc::now())
        .await?;
    tx.commit().await?;
    Ok(HttpResponse::Ok().json(settings))
}
