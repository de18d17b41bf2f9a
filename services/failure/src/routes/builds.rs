use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use tenant_core::pagination::{Page, PageParams, PageRequest};
use tenant_core::{Db, Problem, Role, TenantContext};
use uuid::Uuid;

use super::project_scope;
use crate::FailureState;
use crate::domain::{BuildStatus, CommitSha, ExternalId, JobName};
use crate::error::FailureError;
use crate::repo::{self, BuildFilter, NewBuild, Sql};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateBuild {
    job_name: String,
    external_id: String,
    number: Option<i64>,
    branch: Option<String>,
    commit_sha: Option<String>,
    url: Option<String>,
    started_at: Option<DateTime<Utc>>,
    /// Accepted when it names the request's project, refused otherwise.
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

pub async fn create(
    ctx: TenantContext,
    db: web::Data<Db>,
    state: web::Data<FailureState>,
    path: web::Path<String>,
    body: web::Json<CreateBuild>,
) -> Result<HttpResponse, Problem> {
    let project_id = project_scope(&ctx, &path, Role::Member)?;
    let new_build = body.into_inner().parse(project_id)?;
    let tx = db.tenant_tx(&ctx).await.map_err(FailureError::from)?;
    let (build, created) =
        repo::create_build(&Sql::new(&tx, &state.statements), project_id, &new_build)
            .await
            .map_err(FailureError::from)?;
    tx.commit().await.map_err(FailureError::from)?;
    let mut response = if created {
        HttpResponse::Created()
    } else {
        HttpResponse::Ok()
    };
    Ok(response
        .insert_header(("location", format!("builds/{}", build.id)))
        .json(build))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FinishBuild {
    status: BuildStatus,
    finished_at: Option<DateTime<Utc>>,
}

pub async fn finish(
    ctx: TenantContext,
    db: web::Data<Db>,
    state: web::Data<FailureState>,
    path: web::Path<(String, Uuid)>,
    body: web::Json<FinishBuild>,
) -> Result<HttpResponse, Problem> {
    let (project, build_id) = path.into_inner();
    let project_id = project_scope(&ctx, &project, Role::Member)?;
    let tx = db.tenant_tx(&ctx).await.map_err(FailureError::from)?;
    let build = repo::finish_build(
        &Sql::new(&tx, &state.statements),
        project_id,
        build_id,
        body.status,
        body.finished_at,
    )
    .await
    .map_err(FailureError::from)?
    .ok_or(FailureError::BuildNotFound)?;
    tx.commit().await.map_err(FailureError::from)?;
    Ok(HttpResponse::Ok().json(build))
}

pub async fn show(
    ctx: TenantContext,
    db: web::Data<Db>,
    state: web::Data<FailureState>,
    path: web::Path<(String, Uuid)>,
) -> Result<HttpResponse, Problem> {
    let (project, build_id) = path.into_inner();
    let project_id = project_scope(&ctx, &project, Role::Viewer)?;
    let tx = db.tenant_tx(&ctx).await.map_err(FailureError::from)?;
    let build = repo::get_build(&Sql::new(&tx, &state.statements), project_id, build_id)
        .await
        .map_err(FailureError::from)?
        .ok_or(FailureError::BuildNotFound)?;
    tx.commit().await.map_err(FailureError::from)?;
    Ok(HttpResponse::Ok().json(build))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BuildQuery {
    limit: Option<u32>,
    cursor: Option<String>,
    job: Option<String>,
    branch: Option<String>,
    status: Option<BuildStatus>,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
}

pub async fn list(
    ctx: TenantContext,
    db: web::Data<Db>,
    state: web::Data<FailureState>,
    path: web::Path<String>,
    query: web::Query<BuildQuery>,
) -> Result<HttpResponse, Problem> {
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
    let tx = db.tenant_tx(&ctx).await.map_err(FailureError::from)?;
    let builds = repo::list_builds(
        &Sql::new(&tx, &state.statements),
        project_id,
        &filter,
        page.after,
        page.fetch_limit(),
    )
    .await
    .map_err(FailureError::from)?;
    tx.commit().await.map_err(FailureError::from)?;
    Ok(
        HttpResponse::Ok().json(Page::from_rows(builds, page.limit, |b| {
            (b.created_at, b.id)
        })),
    )
}
