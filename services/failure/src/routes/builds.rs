//! `/v1/projects/{project}/builds`: register a build, finish it, read it,
//! list a project's builds.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tenant_core::json::Object;
use tenant_core::pagination::{Page, PageParams, PageRequest};
use tenant_core::{Db, Role, TenantContext};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::openapi as doc;
use super::project_scope;
use crate::domain::{
    Build, BuildFilter, BuildStatus, CommitSha, ExternalId, JobName, NewBuild, events,
};
use crate::error::FailureError;
use crate::repository::builds as repository;
use crate::repository::outbox;

/// A build as CI registers it. The same (`job_name`, `external_id`) again
/// answers with the build already registered.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateBuild {
    /// The CI job: 1 to 200 characters without control characters
    /// (surrounding whitespace is trimmed).
    #[schema(
        pattern = r"^[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000](?:[^\x00-\x1f\x7f-\x9f]{0,198}[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000])?[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$"
    )]
    job_name: String,
    /// The CI system's own id for the build: `^[A-Za-z0-9._:-]{1,100}$`.
    #[schema(pattern = r"^[A-Za-z0-9._:-]{1,100}$")]
    external_id: String,
    /// The CI system's build number; not negative.
    #[serde(default, deserialize_with = "tenant_core::json::optional_integer")]
    #[schema(minimum = 0)]
    number: Option<i64>,
    /// At most 255 characters (surrounding whitespace is trimmed; empty:
    /// none).
    #[schema(
        pattern = r"^[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*(?:[^\x00\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000](?:[^\x00]{0,253}[^\x00\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000])?)?[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$"
    )]
    branch: Option<String>,
    /// 4 to 64 hexadecimal characters (stored lowercase).
    #[schema(pattern = r"^[0-9A-Fa-f]{4,64}$")]
    commit_sha: Option<String>,
    /// The build's page in the CI system: an http(s) URL of at most 2048
    /// characters (surrounding whitespace is trimmed; empty: none).
    #[schema(
        pattern = r"^[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*(?:https?://(?:[^\x00]{0,2039}[^\x00\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000])?)?[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$"
    )]
    url: Option<String>,
    started_at: Option<DateTime<Utc>>,
    /// Accepted when it names the project in the path, refused (400
    /// `project.context_mismatch`) otherwise.
    project_id: Option<Uuid>,
}

fn optional_text(
    field: &str,
    value: Option<String>,
    max: usize,
) -> Result<Option<String>, FailureError> {
    match value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()) {
        Some(v) if v.chars().count() > max => Err(FailureError::invalid(
            field,
            format!("must be at most {max} characters"),
        )),
        other => Ok(other),
    }
}

impl CreateBuild {
    fn parse(self, project_id: Uuid) -> Result<NewBuild, FailureError> {
        if self.project_id.is_some_and(|id| id != project_id) {
            return Err(FailureError::ContextMismatch);
        }
        let url = optional_text("url", self.url, 2048)?;
        if let Some(url) = &url
            && !(url.starts_with("https://") || url.starts_with("http://"))
        {
            return Err(FailureError::invalid("url", "must be an http(s) URL"));
        }
        Ok(NewBuild {
            job_name: JobName::parse(&self.job_name)
                .map_err(|message| FailureError::invalid("job_name", message))?,
            external_id: ExternalId::parse(&self.external_id)
                .map_err(|message| FailureError::invalid("external_id", message))?,
            number: match self.number {
                Some(n) if n < 0 => {
                    return Err(FailureError::invalid("number", "must not be negative"));
                }
                other => other,
            },
            branch: optional_text("branch", self.branch, 255)?,
            commit_sha: self
                .commit_sha
                .as_deref()
                .map(CommitSha::parse)
                .transpose()
                .map_err(|message| FailureError::invalid("commit_sha", message))?,
            url,
            started_at: self.started_at,
        })
    }
}

/// `POST /v1/projects/{project}/builds`: registers a build, or answers
/// with the one registered for the same job and external id.
/// Registers a build (idempotent on job name and external id).
#[utoipa::path(
    post,
    path = "/v1/projects/{project}/builds",
    tag = "builds",
    params(
        ("project" = String, Path, description = "Project id or slug"),
    ),
    request_body = CreateBuild,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The new build", body = Build,
         headers(("location" = String, description = "`builds/{id}`"))),
        (status = 200, description = "The build already registered with this job name and external id", body = Build,
         headers(("location" = String, description = "`builds/{id}`"))),
        (status = 400, description = "Malformed JSON (`request.malformed_json`), text with a NUL character (`request.invalid_text`), or the path or `project_id` names another project (`project.context_mismatch`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid context token (`context.*`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller's role in the project is below member (`context.role_too_low`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is too large (`request.body_too_large`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not JSON (`request.unsupported_media_type`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is missing or invalid (`request.invalid_body`, with `errors`)", body = doc::Problem, content_type = "application/problem+json"),
    ),
)]
#[tracing::instrument(skip_all, fields(project_id = tracing::field::Empty), err(level = "info"))]
pub async fn create(
    ctx: TenantContext,
    db: web::Data<Db>,
    path: web::Path<String>,
    body: web::Json<Object<CreateBuild>>,
) -> Result<HttpResponse, FailureError> {
    let project_id = project_scope(&ctx, &path, Role::Member)?;
    let new_build = body.into_inner().into_inner().parse(project_id)?;
    let tx = db.tenant_tx(&ctx).await?;
    let (mut build, created) = repository::create_build(&tx, project_id, &new_build).await?;
    repository::apply_verdicts(&tx, project_id, std::slice::from_mut(&mut build)).await?;
    tx.commit().await?;
    let mut response = if created {
        HttpResponse::Created()
    } else {
        HttpResponse::Ok()
    };
    Ok(response
        .insert_header(("location", format!("builds/{}", build.id)))
        .json(build))
}

/// How a build ended (or that it runs again).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FinishBuild {
    status: BuildStatus,
    /// Default: now.
    finished_at: Option<DateTime<Utc>>,
}

/// `PATCH /v1/projects/{project}/builds/{build}`: records how the build ended.
/// Sets a build's status. A build leaving `running` publishes a
/// `build.completed` event with its counts and new groups.
#[utoipa::path(
    patch,
    path = "/v1/projects/{project}/builds/{build}",
    tag = "builds",
    params(
        ("project" = String, Path, description = "Project id or slug"),
        ("build" = Uuid, Path, description = "The build's id"),
    ),
    request_body = FinishBuild,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The build", body = Build),
        (status = 400, description = "Malformed JSON (`request.malformed_json`), a build id that is not a UUID (`request.invalid_path`), or the path names another project (`project.context_mismatch`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid context token (`context.*`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller's role in the project is below member (`context.role_too_low`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such build in this project (`build.not_found`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is too large (`request.body_too_large`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not JSON (`request.unsupported_media_type`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 422, description = "A missing or unknown status, or another invalid field (`request.invalid_body`)", body = doc::Problem, content_type = "application/problem+json"),
    ),
)]
#[tracing::instrument(
    skip_all,
    fields(project_id = tracing::field::Empty, build_id = %path.1),
    err(level = "info")
)]
pub async fn finish(
    ctx: TenantContext,
    db: web::Data<Db>,
    path: web::Path<(String, Uuid)>,
    body: web::Json<Object<FinishBuild>>,
) -> Result<HttpResponse, FailureError> {
    let (project, build_id) = path.into_inner();
    let project_id = project_scope(&ctx, &project, Role::Member)?;
    let tx = db.tenant_tx(&ctx).await?;
    let (mut build, previous) =
        repository::finish_build(&tx, project_id, build_id, body.status, body.finished_at)
            .await?
            .ok_or(FailureError::BuildNotFound)?;
    repository::apply_verdicts(&tx, project_id, std::slice::from_mut(&mut build)).await?;
    if previous == BuildStatus::Running && build.status != BuildStatus::Running {
        let new_groups = repository::groups_first_seen_in(&tx, project_id, build.id).await?;
        outbox::publish(
            &tx,
            &[events::build_completed(project_id, &build, &new_groups)],
        )
        .await?;
    }
    tx.commit().await?;
    Ok(HttpResponse::Ok().json(build))
}

/// `GET /v1/projects/{project}/builds/{build}`.
/// A build, with the totals of all its uploads.
#[utoipa::path(
    get,
    path = "/v1/projects/{project}/builds/{build}",
    tag = "builds",
    params(
        ("project" = String, Path, description = "Project id or slug"),
        ("build" = Uuid, Path, description = "The build's id"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The build", body = Build),
        (status = 400, description = "A build id that is not a UUID (`request.invalid_path`), or the path names another project (`project.context_mismatch`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid context token (`context.*`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller has no role in the project (`context.role_too_low`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such build in this project (`build.not_found`)", body = doc::Problem, content_type = "application/problem+json"),
    ),
)]
#[tracing::instrument(
    skip_all,
    fields(project_id = tracing::field::Empty, build_id = %path.1),
    err(level = "info")
)]
pub async fn show(
    ctx: TenantContext,
    db: web::Data<Db>,
    path: web::Path<(String, Uuid)>,
) -> Result<HttpResponse, FailureError> {
    let (project, build_id) = path.into_inner();
    let project_id = project_scope(&ctx, &project, Role::Viewer)?;
    let tx = db.tenant_tx(&ctx).await?;
    let mut build = repository::get_build(&tx, project_id, build_id)
        .await?
        .ok_or(FailureError::BuildNotFound)?;
    repository::apply_verdicts(&tx, project_id, std::slice::from_mut(&mut build)).await?;
    tx.commit().await?;
    Ok(HttpResponse::Ok().json(build))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct BuildQuery {
    /// Page size (default 50); above 500 counts as 500.
    #[param(value_type = Option<u64>, minimum = 1, maximum = 4_294_967_295_u64)]
    limit: Option<u32>,
    /// `next_cursor` of the previous page, as it was given.
    #[param(pattern = r"^[A-Za-z0-9_-]+$")]
    cursor: Option<String>,
    /// Only builds of this job (exact name).
    #[param(pattern = r"^[^\x00]*$")]
    job: Option<String>,
    /// Only builds of this branch.
    #[param(pattern = r"^[^\x00]*$")]
    branch: Option<String>,
    /// Only builds in this state.
    status: Option<BuildStatus>,
    /// Only builds created at or after this time.
    since: Option<DateTime<Utc>>,
    /// Only builds created before this time.
    until: Option<DateTime<Utc>>,
}

/// `GET /v1/projects/{project}/builds`.
/// A project's builds, newest first.
#[utoipa::path(
    get,
    path = "/v1/projects/{project}/builds",
    tag = "builds",
    params(
        ("project" = String, Path, description = "Project id or slug"),
        BuildQuery,
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of builds", body = BuildPage),
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
    query: web::Query<BuildQuery>,
) -> Result<HttpResponse, FailureError> {
    let project_id = project_scope(&ctx, &path, Role::Viewer)?;
    let query = query.into_inner();
    let page = PageRequest::<(DateTime<Utc>, Uuid)>::from_params(&PageParams {
        limit: query.limit,
        cursor: query.cursor,
    })?;
    let filter = BuildFilter {
        job: query.job,
        branch: query.branch,
        status: query.status,
        since: query.since,
        until: query.until,
    };
    let tx = db.tenant_tx(&ctx).await?;
    let mut builds =
        repository::list_builds(&tx, project_id, &filter, page.after, page.fetch_limit()).await?;
    repository::apply_verdicts(&tx, project_id, &mut builds).await?;
    tx.commit().await?;
    let page = Page::from_rows(builds, page.limit, |b| (b.created_at, b.id));
    Ok(HttpResponse::Ok().json(BuildPage::from(page)))
}

/// A page of builds, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct BuildPage {
    items: Vec<Build>,
    /// Pass as `cursor` for the next page; absent on the last one.
    next_cursor: Option<String>,
}

impl From<Page<Build>> for BuildPage {
    fn from(page: Page<Build>) -> Self {
        Self {
            items: page.items,
            next_cursor: page.next_cursor,
        }
    }
}
