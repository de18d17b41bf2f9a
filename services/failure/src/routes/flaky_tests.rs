//! `/v1/projects/{project}/flaky-tests` (the tests the monitors flagged,
//! ranked) and `/v1/projects/{project}/settings/flaky-tests` (how the
//! monitors judge).

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use tenant_core::json::Object;
use tenant_core::pagination::{Page, PageParams, PageRequest};
use tenant_core::{Db, Role, TenantContext};
use utoipa::{IntoParams, ToSchema};

use super::openapi as doc;
use super::project_scope;
use crate::domain::flakiness::{FlakySettings, FlakyTest, FlakyTestFilter, HealthState};
use crate::error::FailureError;
use crate::repository::flaky_settings;
use crate::repository::test_health::{self, FlakyRank};

/// A flagged state, as the list filters by it.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum FlaggedState {
    Flaky,
    Broken,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FlakyTestQuery {
    /// Page size (default 50); above 500 counts as 500.
    #[param(value_type = Option<u64>, minimum = 1, maximum = 4_294_967_295_u64)]
    limit: Option<u32>,
    /// `next_cursor` of the previous page, as it was given.
    #[param(pattern = r"^[A-Za-z0-9_-]+$")]
    cursor: Option<String>,
    /// Only tests in this state.
    #[param(inline)]
    state: Option<FlaggedState>,
    /// Only quarantined tests (`true`) or only the others (`false`).
    quarantined: Option<bool>,
}

/// `GET /v1/projects/{project}/flaky-tests`: broken tests first, then by
/// failure rate.
/// The project's flaky and broken tests, ranked, with their evidence.
#[utoipa::path(
    get,
    path = "/v1/projects/{project}/flaky-tests",
    tag = "tests",
    params(
        ("project" = String, Path, description = "Project id or slug"),
        FlakyTestQuery,
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of flagged tests: broken first, then by failure rate", body = FlakyTestPage),
        (status = 400, description = "Invalid query (`request.invalid_query`, `pagination.*`), or the path names another project (`project.context_mismatch`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid context token (`context.*`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller has no role in the project (`context.role_too_low`)", body = doc::Problem, content_type = "application/problem+json"),
    ),
)]
#[tracing::instrument(skip_all, fields(project_id = tracing::field::Empty), err(level = "info"))]
pub async fn list(
    ctx: TenantContext,
    db: web::Data<Db>,
    path: web::Path<String>,
    query: web::Query<FlakyTestQuery>,
) -> Result<HttpResponse, FailureError> {
    let project_id = project_scope(&ctx, &path, Role::Viewer)?;
    let query = query.into_inner();
    let page = PageRequest::<FlakyRank>::from_params(&PageParams {
        limit: query.limit,
        cursor: query.cursor,
    })?;
    let filter = FlakyTestFilter {
        state: query.state.map(|state| match state {
            FlaggedState::Flaky => HealthState::Flaky,
            FlaggedState::Broken => HealthState::Broken,
        }),
        quarantined: query.quarantined,
    };
    let tx = db.tenant_tx(&ctx).await?;
    let rows =
        test_health::list_flagged(&tx, project_id, &filter, page.after, page.fetch_limit()).await?;
    tx.commit().await?;
    let page = Page::from_rows(rows, page.limit, |(rank, _)| *rank);
    Ok(HttpResponse::Ok().json(FlakyTestPage {
        items: page.items.into_iter().map(|(_, test)| test).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// A page of flagged tests.
#[derive(Debug, Serialize, ToSchema)]
pub struct FlakyTestPage {
    items: Vec<FlakyTest>,
    /// Pass as `cursor` for the next page; absent on the last one.
    next_cursor: Option<String>,
}

/// `GET /v1/projects/{project}/settings/flaky-tests`.
/// The project's flaky-test monitor settings (the defaults until set).
#[utoipa::path(
    get,
    path = "/v1/projects/{project}/settings/flaky-tests",
    tag = "tests",
    params(("project" = String, Path, description = "Project id or slug")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The settings", body = FlakySettings),
        (status = 400, description = "The path names another project (`project.context_mismatch`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid context token (`context.*`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller has no role in the project (`context.role_too_low`)", body = doc::Problem, content_type = "application/problem+json"),
    ),
)]
#[tracing::instrument(skip_all, fields(project_id = tracing::field::Empty), err(level = "info"))]
pub async fn show_settings(
    ctx: TenantContext,
    db: web::Data<Db>,
    path: web::Path<String>,
) -> Result<HttpResponse, FailureError> {
    let project_id = project_scope(&ctx, &path, Role::Viewer)?;
    let tx = db.tenant_tx(&ctx).await?;
    let settings = flaky_settings::get_settings(&tx, project_id).await?;
    tx.commit().await?;
    Ok(HttpResponse::Ok().json(settings))
}

/// `PUT /v1/projects/{project}/settings/flaky-tests`: replaces them all;
/// an omitted field takes its default. They apply from the next upload.
/// Replaces the project's flaky-test monitor settings.
#[utoipa::path(
    put,
    path = "/v1/projects/{project}/settings/flaky-tests",
    tag = "tests",
    params(("project" = String, Path, description = "Project id or slug")),
    request_body = FlakySettings,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The settings now in force", body = FlakySettings),
        (status = 400, description = "Malformed JSON (`request.malformed_json`), text with a NUL character (`request.invalid_text`), or the path names another project (`project.context_mismatch`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid context token (`context.*`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller's role in the project is below admin (`context.role_too_low`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is too large (`request.body_too_large`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not JSON (`request.unsupported_media_type`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is unknown or out of its bounds (`request.invalid_body`, with `errors`)", body = doc::Problem, content_type = "application/problem+json"),
    ),
)]
#[tracing::instrument(skip_all, fields(project_id = tracing::field::Empty), err(level = "info"))]
pub async fn replace_settings(
    ctx: TenantContext,
    db: web::Data<Db>,
    path: web::Path<String>,
    body: web::Json<Object<FlakySettings>>,
) -> Result<HttpResponse, FailureError> {
    let project_id = project_scope(&ctx, &path, Role::Admin)?;
    let settings = body
        .into_inner()
        .into_inner()
        .validated()
        .map_err(|(field, message)| FailureError::invalid(field, message))?;
    let tx = db.tenant_tx(&ctx).await?;
    flaky_settings::put_settings(&tx, project_id, &settings).await?;
    tx.commit().await?;
    Ok(HttpResponse::Ok().json(settings))
}
