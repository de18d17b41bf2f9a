use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tenant_core::pagination::{Page, PageParams, PageRequest};
use tenant_core::{Db, Problem, Role, TenantContext};
use uuid::Uuid;

use super::project_scope;
use crate::FailureState;
use crate::error::FailureError;
use crate::repo::{self, FailureFilter, HistoryEntry, Sql, TestIdentity};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailureQuery {
    limit: Option<u32>,
    cursor: Option<String>,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    build: Option<Uuid>,
    branch: Option<String>,
    job: Option<String>,
    /// Substring of the test name, case-insensitive.
    test: Option<String>,
    error_type: Option<String>,
}

pub async fn list(
    ctx: TenantContext,
    db: web::Data<Db>,
    state: web::Data<FailureState>,
    path: web::Path<String>,
    query: web::Query<FailureQuery>,
) -> Result<HttpResponse, Problem> {
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
    let tx = db.tenant_tx(&ctx).await.map_err(FailureError::from)?;
    let failures = repo::list_failures(
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
        HttpResponse::Ok().json(Page::from_rows(failures, page.limit, |f| {
            (f.created_at, f.id)
        })),
    )
}

pub async fn show(
    ctx: TenantContext,
    db: web::Data<Db>,
    state: web::Data<FailureState>,
    path: web::Path<(String, Uuid)>,
) -> Result<HttpResponse, Problem> {
    let (project, failure_id) = path.into_inner();
    let project_id = project_scope(&ctx, &project, Role::Viewer)?;
    let tx = db.tenant_tx(&ctx).await.map_err(FailureError::from)?;
    let failure = repo::get_failure(&Sql::new(&tx, &state.statements), project_id, failure_id)
        .await
        .map_err(FailureError::from)?
        .ok_or(FailureError::FailureNotFound)?;
    tx.commit().await.map_err(FailureError::from)?;
    Ok(HttpResponse::Ok().json(failure))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryQuery {
    /// How many results, newest first (default 50, at most 500).
    limit: Option<u32>,
}

#[derive(Debug, Serialize)]
struct History {
    test: TestIdentity,
    results: Vec<HistoryEntry>,
}

pub async fn history(
    ctx: TenantContext,
    db: web::Data<Db>,
    state: web::Data<FailureState>,
    path: web::Path<(String, Uuid)>,
    query: web::Query<HistoryQuery>,
) -> Result<HttpResponse, Problem> {
    let (project, test_id) = path.into_inner();
    let project_id = project_scope(&ctx, &project, Role::Viewer)?;
    let limit = i64::from(query.limit.unwrap_or(50).clamp(1, 500));
    let tx = db.tenant_tx(&ctx).await.map_err(FailureError::from)?;
    let sql = Sql::new(&tx, &state.statements);
    let test = repo::get_test(&sql, project_id, test_id)
        .await
        .map_err(FailureError::from)?
        .ok_or(FailureError::TestNotFound)?;
    let results = repo::test_history(&sql, project_id, test_id, limit)
        .await
        .map_err(FailureError::from)?;
    tx.commit().await.map_err(FailureError::from)?;
    Ok(HttpResponse::Ok().json(History { test, results }))
}
