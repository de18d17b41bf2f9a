//! Regroup jobs: `POST /v2/projects/{project}/regroup` queues one,
//! `GET /v2/projects/{project}/jobs/{job}` shows its progress. The work is
//! done by [`crate::jobs::regroup`].

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use tenant_core::json::Object;
use tenant_core::{Db, Role, TenantContext};
use utoipa::ToSchema;
use uuid::Uuid;

use super::openapi as doc;
use super::project_scope;
use crate::domain::{DEFAULT_REGROUP_DAYS, RegroupJob};
use crate::error::FailureError;
use crate::repository::regroup_jobs as repository;

/// What to regroup.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestRegroup {
    /// Failures recorded at or after this time; default 30 days ago. Not
    /// in the future.
    since: Option<DateTime<Utc>>,
}

/// `POST /v2/projects/{project}/regroup`.
/// Queues a job that moves the project's failures since `since` to the
/// groups the current grouping rules and the project's grouping settings
/// give them. While a job is queued or running, asking again answers
/// that job (200) instead of queueing another.
#[utoipa::path(
    post,
    path = "/v2/projects/{project}/regroup",
    tag = "jobs",
    params(("project" = String, Path, description = "Project id or slug")),
    request_body = RequestRegroup,
    security(("bearer" = [])),
    responses(
        (status = 202, description = "The job, queued", body = RegroupJob,
         headers(("location" = String, description = "`jobs/{id}`"))),
        (status = 200, description = "The project's job already queued or running (its `since` may differ)", body = RegroupJob,
         headers(("location" = String, description = "`jobs/{id}`"))),
        (status = 400, description = "Malformed JSON (`request.malformed_json`), or the path names another project (`project.context_mismatch`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid context token (`context.*`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller's role in the project is below admin (`context.role_too_low`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is too large (`request.body_too_large`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not JSON (`request.unsupported_media_type`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 422, description = "`since` is invalid or in the future (`request.invalid_body`)", body = doc::Problem, content_type = "application/problem+json"),
    ),
)]
#[tracing::instrument(skip_all, fields(project_id = tracing::field::Empty), err(level = "info"))]
pub async fn request(
    ctx: TenantContext,
    db: web::Data<Db>,
    path: web::Path<String>,
    body: web::Json<Object<RequestRegroup>>,
) -> Result<HttpResponse, FailureError> {
    let project_id = project_scope(&ctx, &path, Role::Admin)?;
    let now = Utc::now();
    let since = body
        .into_inner()
        .into_inner()
        .since
        .unwrap_or(now - Duration::days(DEFAULT_REGROUP_DAYS));
    if since > now {
        return Err(FailureError::invalid("since", "must not be in the future"));
    }
    let tx = db.tenant_tx(&ctx).await?;
    let (job, created) =
        repository::queue_job(&tx, project_id, since, ctx.principal().id, now).await?;
    tx.commit().await?;
    let mut response = if created {
        HttpResponse::Accepted()
    } else {
        HttpResponse::Ok()
    };
    Ok(response
        .insert_header(("location", format!("jobs/{}", job.id)))
        .json(job))
}

/// `GET /v2/projects/{project}/jobs/{job}`.
/// A job's state and progress.
#[utoipa::path(
    get,
    path = "/v2/projects/{project}/jobs/{job}",
    tag = "jobs",
    params(
        ("project" = String, Path, description = "Project id or slug"),
        ("job" = Uuid, Path, description = "The job's id"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The job", body = RegroupJob),
        (status = 400, description = "A job id that is not a UUID (`request.invalid_path`), or the path names another project (`project.context_mismatch`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid context token (`context.*`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller has no role in the project (`context.role_too_low`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such job in this project (`job.not_found`)", body = doc::Problem, content_type = "application/problem+json"),
    ),
)]
#[tracing::instrument(
    skip_all,
    fields(project_id = tracing::field::Empty, job_id = %path.1),
    err(level = "info")
)]
pub async fn show_job(
    ctx: TenantContext,
    db: web::Data<Db>,
    path: web::Path<(String, Uuid)>,
) -> Result<HttpResponse, FailureError> {
    let (project, job_id) = path.into_inner();
    let project_id = project_scope(&ctx, &project, Role::Viewer)?;
    let tx = db.tenant_tx(&ctx).await?;
    let job = repository::get_job(&tx, project_id, job_id)
        .await?
        .ok_or(FailureError::JobNotFound)?;
    tx.commit().await?;
    Ok(HttpResponse::Ok().json(job))
}
