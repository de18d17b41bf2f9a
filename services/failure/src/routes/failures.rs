//! `/v1/projects/{project}/failures` and a test's history: what failed,
//! where, and how a test fared across builds.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tenant_core::pagination::{Page, PageParams, PageRequest};
use tenant_core::{Db, Role, TenantContext};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::groups::SetLabel;
use super::openapi as doc;
use super::project_scope;
use crate::domain::{FailureDetails, FailureFilter, FailureSummary, HistoryEntry, TestIdentity};
use crate::error::FailureError;
use crate::labels;
use crate::repository::{failures as repository, results as test_results};

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FailureQuery {
    /// Page size (default 50); above 500 counts as 500.
    #[param(value_type = Option<u64>, minimum = 1, maximum = 4_294_967_295_u64)]
    limit: Option<u32>,
    /// `next_cursor` of the previous page, as it was given.
    #[param(pattern = r"^[A-Za-z0-9_-]+$")]
    cursor: Option<String>,
    /// Only failures recorded at or after this time.
    since: Option<DateTime<Utc>>,
    /// Only failures recorded before this time.
    until: Option<DateTime<Utc>>,
    /// Only failures of this build.
    build: Option<Uuid>,
    /// Only failures in builds of this branch.
    #[param(pattern = r"^[^\x00]*$")]
    branch: Option<String>,
    /// Only failures in builds of this job (exact name).
    #[param(pattern = r"^[^\x00]*$")]
    job: Option<String>,
    /// Substring of the test name, case-insensitive.
    #[param(pattern = r"^[^\x00]*$")]
    test: Option<String>,
    /// Only failures of this type (exact, e.g. an exception class).
    #[param(pattern = r"^[^\x00]*$")]
    error_type: Option<String>,
}

/// `GET /v1/projects/{project}/failures`: one statement whatever the page size.
/// A project's failures, newest first, each with its build and test.
#[utoipa::path(
    get,
    path = "/v1/projects/{project}/failures",
    tag = "failures",
    params(
        ("project" = String, Path, description = "Project id or slug"),
        FailureQuery,
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of failures", body = FailurePage),
        (status = 400, description = "Invalid query (`request.invalid_query`, `pagination.*`, `request.invalid_text`), or the path names another project (`project.context_mismatch`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid context token (`context.*`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller has no role in the project (`context.role_too_low`)", body = doc::Problem, content_type = "application/problem+json"),
    ),
)]
#[tracing::instrument(skip_all, fields(project_id = tracing::field::Empty), err(level = "info"))]
pub async fn list(
    ctx: TenantContext,
    db: web::Data<Db>,
    path: web::Path<String>,
    query: web::Query<FailureQuery>,
) -> Result<HttpResponse, FailureError> {
    let project_id = project_scope(&ctx, &path, Role::Viewer)?;
    let query = query.into_inner();
    let page = PageRequest::<(DateTime<Utc>, Uuid)>::from_params(&PageParams {
        limit: query.limit,
        cursor: query.cursor,
    })?;
    let filter = FailureFilter {
        since: query.since,
        until: query.until,
        build: query.build,
        branch: query.branch,
        job: query.job,
        test: query.test.filter(|t| !t.is_empty()),
        error_type: query.error_type,
    };
    let tx = db.tenant_tx(&ctx).await?;
    let failures =
        repository::list_failures(&tx, project_id, &filter, page.after, page.fetch_limit()).await?;
    tx.commit().await?;
    let page = Page::from_rows(failures, page.limit, |f| (f.created_at, f.id));
    Ok(HttpResponse::Ok().json(FailurePage::from(page)))
}

/// A page of failures, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct FailurePage {
    items: Vec<FailureSummary>,
    /// Pass as `cursor` for the next page; absent on the last one.
    next_cursor: Option<String>,
}

impl From<Page<FailureSummary>> for FailurePage {
    fn from(page: Page<FailureSummary>) -> Self {
        Self {
            items: page.items,
            next_cursor: page.next_cursor,
        }
    }
}

/// `GET /v1/projects/{project}/failures/{failure}`.
/// A failure with its full (capped) message, stack trace and output.
#[utoipa::path(
    get,
    path = "/v1/projects/{project}/failures/{failure}",
    tag = "failures",
    params(
        ("project" = String, Path, description = "Project id or slug"),
        ("failure" = Uuid, Path, description = "The failure's id"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The failure", body = FailureDetails),
        (status = 400, description = "A failure id that is not a UUID (`request.invalid_path`), or the path names another project (`project.context_mismatch`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid context token (`context.*`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller has no role in the project (`context.role_too_low`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such failure in this project (`failure.not_found`)", body = doc::Problem, content_type = "application/problem+json"),
    ),
)]
#[tracing::instrument(
    skip_all,
    fields(project_id = tracing::field::Empty, failure_id = %path.1),
    err(level = "info")
)]
pub async fn show(
    ctx: TenantContext,
    db: web::Data<Db>,
    path: web::Path<(String, Uuid)>,
) -> Result<HttpResponse, FailureError> {
    let (project, failure_id) = path.into_inner();
    let project_id = project_scope(&ctx, &project, Role::Viewer)?;
    let tx = db.tenant_tx(&ctx).await?;
    let failure = repository::get_failure(&tx, project_id, failure_id)
        .await?
        .ok_or(FailureError::FailureNotFound)?;
    tx.commit().await?;
    Ok(HttpResponse::Ok().json(failure))
}

/// `PUT /v1/projects/{project}/failures/{failure}/label`.
/// Labels one failure (confidence 1, source `user`); its group keeps its own label.
#[utoipa::path(
    put,
    path = "/v1/projects/{project}/failures/{failure}/label",
    tag = "failures",
    params(
        ("project" = String, Path, description = "Project id or slug"),
        ("failure" = Uuid, Path, description = "The failure's id"),
    ),
    request_body = SetLabel,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The failure, labelled", body = FailureDetails),
        (status = 400, description = "Malformed JSON (`request.malformed_json`), a failure id that is not a UUID (`request.invalid_path`), or the path names another project (`project.context_mismatch`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid context token (`context.*`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller's role in the project is below member (`context.role_too_low`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such failure in this project (`failure.not_found`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is too large (`request.body_too_large`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not JSON (`request.unsupported_media_type`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 422, description = "A missing or unknown label (`request.invalid_body`)", body = doc::Problem, content_type = "application/problem+json"),
    ),
)]
#[tracing::instrument(
    skip_all,
    fields(project_id = tracing::field::Empty, failure_id = %path.1),
    err(level = "info")
)]
pub async fn set_label(
    ctx: TenantContext,
    db: web::Data<Db>,
    path: web::Path<(String, Uuid)>,
    body: web::Json<tenant_core::json::Object<SetLabel>>,
) -> Result<HttpResponse, FailureError> {
    let (project, failure_id) = path.into_inner();
    let project_id = project_scope(&ctx, &project, Role::Member)?;
    let label = body.into_inner().into_inner().label;
    let tx = db.tenant_tx(&ctx).await?;
    if !labels::label_failure(&tx, project_id, failure_id, ctx.principal().id, label).await? {
        return Err(FailureError::FailureNotFound);
    }
    let failure = repository::get_failure(&tx, project_id, failure_id)
        .await?
        .ok_or(FailureError::FailureNotFound)?;
    tx.commit().await?;
    Ok(HttpResponse::Ok().json(failure))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// How many results, newest first (default 50); above 500 counts as 500.
    #[param(value_type = Option<u64>, minimum = 1, maximum = 4_294_967_295_u64)]
    limit: Option<u32>,
}

/// A test and its latest results across builds.
#[derive(Debug, Serialize, ToSchema)]
pub struct TestHistory {
    test: TestIdentity,
    /// Newest first.
    results: Vec<HistoryEntry>,
}

/// `GET /v1/projects/{project}/tests/{test}/history`.
/// A test's latest results across builds, newest first.
#[utoipa::path(
    get,
    path = "/v1/projects/{project}/tests/{test}/history",
    tag = "tests",
    params(
        ("project" = String, Path, description = "Project id or slug"),
        ("test" = Uuid, Path, description = "The test's id (`test.id` of a failure)"),
        HistoryQuery,
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The test and its results", body = TestHistory),
        (status = 400, description = "Invalid query (`request.invalid_query`, `pagination.invalid_limit`), a test id that is not a UUID (`request.invalid_path`), or the path names another project (`project.context_mismatch`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid context token (`context.*`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller has no role in the project (`context.role_too_low`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such test in this project (`test.not_found`)", body = doc::Problem, content_type = "application/problem+json"),
    ),
)]
#[tracing::instrument(
    skip_all,
    fields(project_id = tracing::field::Empty, test_id = %path.1),
    err(level = "info")
)]
pub async fn history(
    ctx: TenantContext,
    db: web::Data<Db>,
    path: web::Path<(String, Uuid)>,
    query: web::Query<HistoryQuery>,
) -> Result<HttpResponse, FailureError> {
    let (project, test_id) = path.into_inner();
    let project_id = project_scope(&ctx, &project, Role::Viewer)?;
    // Validated like every page size: 0 is refused, above 500 counts as 500.
    let page = PageRequest::<()>::from_params(&PageParams {
        limit: query.limit,
        cursor: None,
    })?;
    let limit = i64::from(page.limit);
    let tx = db.tenant_tx(&ctx).await?;
    let test = test_results::get_test(&tx, project_id, test_id)
        .await?
        .ok_or(FailureError::TestNotFound)?;
    let results = test_results::test_history(&tx, project_id, test_id, limit).await?;
    tx.commit().await?;
    Ok(HttpResponse::Ok().json(TestHistory { test, results }))
}
