//! `GET /v1/analytics/overview`: a signed-in user's projects side by side.
//!
//! The projects are the ones the project service lists for the user now
//! (one call), and all of them are read in one statement: the transaction
//! is opened with `Db::member_projects_tx`, whose setting the
//! `member_overview` policies of the two rollups it reads compare with.
//! The list is never taken from the request, so naming another project in
//! it is impossible, and row level security still refuses every row of a
//! project not on the list.

use actix_web::{HttpResponse, web};
use tenant_core::{Db, TenantContext};

use super::filters::DashboardQuery;
use super::openapi as doc;
use crate::domain::dashboards::Overview;
use crate::error::AnalyticsError;
use crate::project_client::ProjectClient;
use crate::repository::dashboards as repository;

/// `GET /v1/analytics/overview`.
/// The caller's projects side by side: pass rate and counts over the
/// range, open groups, flaky and quarantined tests now.
#[utoipa::path(
    get,
    path = "/v1/analytics/overview",
    tag = "analytics",
    params(DashboardQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller's projects, by id", body = Overview),
        (status = 400, description = "A bad filter (`filter.invalid`, `request.invalid_query`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 401, description = "Not signed in (`auth.required`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a user (`auth.user_required`)", body = doc::Problem, content_type = "application/problem+json"),
    ),
)]
#[tracing::instrument(skip_all, fields(user_id = tracing::field::Empty), err(level = "info"))]
pub async fn overview(
    ctx: TenantContext,
    db: web::Data<Db>,
    projects: web::Data<ProjectClient>,
    query: web::Query<DashboardQuery>,
) -> Result<HttpResponse, AnalyticsError> {
    let user = ctx.require_user()?;
    tracing::Span::current().record("user_id", tracing::field::display(user));
    let (filter, _) = query.into_inner().parse(10, 100)?;
    let project_ids = projects.member_projects(user, ctx.request_id()).await?;
    let tx = db.member_projects_tx(user, &project_ids).await?;
    let rows = repository::overview(&tx, &project_ids, &filter).await?;
    tx.commit().await?;
    Ok(HttpResponse::Ok().json(Overview {
        from: filter.from,
        to: filter.to,
        projects: rows,
    }))
}
