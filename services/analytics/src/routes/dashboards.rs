//! A project's dashboards: summary, trends, rankings and time to
//! resolution. Viewer and up; each reads rollups only, in one tenant
//! transaction (the rankings through the ranking cache).

use std::collections::BTreeMap;

use actix_web::{HttpResponse, web};
use tenant_core::{Db, Role, TenantContext};

use super::filters::{DashboardQuery, MAX_LIMIT};
use super::openapi as doc;
use super::project_scope;
use crate::domain::dashboards::{
    Counts, Direction, PeriodStats, ProjectSummary, Rankings, ResolutionTimes, TrendDay, Trends,
    pass_rate,
};
use crate::domain::filters::DashboardFilter;
use crate::error::AnalyticsError;
use crate::repository::dashboards as repository;
use crate::repository::ranking_cache::RankingCache;
use crate::repository::rollup_versions;

/// A pass rate change within this is flat.
const PASS_RATE_TOLERANCE: f64 = 0.005;

/// `GET /v1/projects/{project}/analytics/summary`.
/// The last builds with their pass rate, failures and new groups; the
/// period's totals against the previous period of the same length; flaky,
/// quarantined and open-group counts now.
#[utoipa::path(
    get,
    path = "/v1/projects/{project}/analytics/summary",
    tag = "analytics",
    params(("project" = String, Path, description = "Project id or slug"), DashboardQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The project's summary", body = ProjectSummary),
        (status = 400, description = "A bad filter (`filter.invalid`; `filter.inconsistent_range` for a range the wrong way round, too long, or given both as `period` and `from`/`to`; `request.invalid_query`) or the path names another project (`project.context_mismatch`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid context token (`context.*`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller has no role in the project (`context.role_too_low`)", body = doc::Problem, content_type = "application/problem+json"),
    ),
)]
#[tracing::instrument(skip_all, fields(project_id = tracing::field::Empty), err(level = "info"))]
pub async fn summary(
    ctx: TenantContext,
    db: web::Data<Db>,
    path: web::Path<String>,
    query: web::Query<DashboardQuery>,
) -> Result<HttpResponse, AnalyticsError> {
    let project_id = project_scope(&ctx, &path, Role::Viewer)?;
    let (filter, limit) = query.into_inner().parse(10, MAX_LIMIT)?;
    let previous = filter.previous();
    let tx = db.tenant_tx(&ctx).await?;
    let builds = repository::last_builds(&tx, project_id, &filter, limit).await?;
    let current = repository::period_counts(&tx, project_id, &filter).await?;
    let before = repository::period_counts(&tx, project_id, &previous).await?;
    let [open_groups, flaky_tests, quarantined_tests] =
        repository::project_counts(&tx, project_id).await?;
    tx.commit().await?;
    let period = PeriodStats::new(filter.from, filter.to, current);
    let previous_period = PeriodStats::new(previous.from, previous.to, before);
    Ok(HttpResponse::Ok().json(ProjectSummary {
        builds,
        direction: Direction::of(
            period.pass_rate,
            previous_period.pass_rate,
            PASS_RATE_TOLERANCE,
        ),
        period,
        previous_period,
        flaky_tests,
        quarantined_tests,
        open_groups,
    }))
}

/// `GET /v1/projects/{project}/analytics/trends`.
/// Every day of the range, oldest first: pass rate, failures by label,
/// new and recurring groups, flaky results and total duration.
#[utoipa::path(
    get,
    path = "/v1/projects/{project}/analytics/trends",
    tag = "analytics",
    params(("project" = String, Path, description = "Project id or slug"), DashboardQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The project's trends by day", body = Trends),
        (status = 400, description = "A bad filter (`filter.invalid`; `filter.inconsistent_range` for a range the wrong way round, too long, or given both as `period` and `from`/`to`; `request.invalid_query`) or the path names another project (`project.context_mismatch`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid context token (`context.*`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller has no role in the project (`context.role_too_low`)", body = doc::Problem, content_type = "application/problem+json"),
    ),
)]
#[tracing::instrument(skip_all, fields(project_id = tracing::field::Empty), err(level = "info"))]
pub async fn trends(
    ctx: TenantContext,
    db: web::Data<Db>,
    path: web::Path<String>,
    query: web::Query<DashboardQuery>,
) -> Result<HttpResponse, AnalyticsError> {
    let project_id = project_scope(&ctx, &path, Role::Viewer)?;
    let (filter, _) = query.into_inner().parse(10, MAX_LIMIT)?;
    let tx = db.tenant_tx(&ctx).await?;
    let sums = repository::daily_sums(&tx, project_id, &filter).await?;
    let labels = repository::daily_labels(&tx, project_id, &filter).await?;
    tx.commit().await?;
    Ok(HttpResponse::Ok().json(trend_days(&filter, sums, labels)))
}

/// Every day of the filter, with zeros where no build ran.
fn trend_days(
    filter: &DashboardFilter,
    sums: Vec<repository::DaySums>,
    labels: Vec<(chrono::NaiveDate, String, i64)>,
) -> Trends {
    let mut by_day: BTreeMap<_, _> = sums.into_iter().map(|s| (s.day, s)).collect();
    let mut labels_by_day: BTreeMap<_, BTreeMap<String, i64>> = BTreeMap::new();
    for (day, label, failures) in labels {
        labels_by_day
            .entry(day)
            .or_default()
            .insert(label, failures);
    }
    let days = filter
        .from
        .iter_days()
        .take_while(|day| *day <= filter.to)
        .map(|day| {
            let sums = by_day.remove(&day);
            let counts = sums.as_ref().map_or_else(Counts::default, |s| s.counts);
            TrendDay {
                day,
                pass_rate: pass_rate(counts.passed, counts.flaky, counts.failed),
                counts,
                failures_by_label: labels_by_day.remove(&day).unwrap_or_default(),
                recurring_groups: sums.as_ref().map_or(0, |s| s.recurring_groups),
                duration_ms: sums.as_ref().map_or(0, |s| s.duration_ms),
            }
        })
        .collect();
    Trends {
        from: filter.from,
        to: filter.to,
        days,
    }
}

/// `GET /v1/projects/{project}/analytics/rankings`.
/// Top failing tests, top groups, flakiest tests and slowest tests (p95,
/// with p50) in the range, each with its figure over the previous period
/// of the same length and the direction it moved.
#[utoipa::path(
    get,
    path = "/v1/projects/{project}/analytics/rankings",
    tag = "analytics",
    params(("project" = String, Path, description = "Project id or slug"), DashboardQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The project's rankings", body = Rankings),
        (status = 400, description = "A bad filter (`filter.invalid`; `filter.inconsistent_range` for a range the wrong way round, too long, or given both as `period` and `from`/`to`; `request.invalid_query`) or the path names another project (`project.context_mismatch`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid context token (`context.*`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller has no role in the project (`context.role_too_low`)", body = doc::Problem, content_type = "application/problem+json"),
    ),
)]
#[tracing::instrument(skip_all, fields(project_id = tracing::field::Empty), err(level = "info"))]
pub async fn rankings(
    ctx: TenantContext,
    db: web::Data<Db>,
    cache: web::Data<RankingCache>,
    path: web::Path<String>,
    query: web::Query<DashboardQuery>,
) -> Result<HttpResponse, AnalyticsError> {
    let project_id = project_scope(&ctx, &path, Role::Viewer)?;
    let (filter, limit) = query.into_inner().parse(10, MAX_LIMIT)?;
    let tx = db.tenant_tx(&ctx).await?;
    let version = rollup_versions::version(&tx, project_id).await?;
    tx.commit().await?;
    let rankings = cache.rankings(&db, &ctx, &filter, limit, version).await?;
    Ok(HttpResponse::Ok().json(&*rankings))
}

/// `GET /v1/projects/{project}/analytics/mttr`.
/// Mean time to resolution (first seen -> resolved) of the groups
/// resolved in the range, each of them, and mean time to triage (first
/// seen -> first status change) of the groups first triaged in it.
#[utoipa::path(
    get,
    path = "/v1/projects/{project}/analytics/mttr",
    tag = "analytics",
    params(("project" = String, Path, description = "Project id or slug"), DashboardQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Times to triage and to resolution", body = ResolutionTimes),
        (status = 400, description = "A bad filter (`filter.invalid`; `filter.inconsistent_range` for a range the wrong way round, too long, or given both as `period` and `from`/`to`; `request.invalid_query`) or the path names another project (`project.context_mismatch`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid context token (`context.*`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller has no role in the project (`context.role_too_low`)", body = doc::Problem, content_type = "application/problem+json"),
    ),
)]
#[tracing::instrument(skip_all, fields(project_id = tracing::field::Empty), err(level = "info"))]
pub async fn mttr(
    ctx: TenantContext,
    db: web::Data<Db>,
    path: web::Path<String>,
    query: web::Query<DashboardQuery>,
) -> Result<HttpResponse, AnalyticsError> {
    let project_id = project_scope(&ctx, &path, Role::Viewer)?;
    let (filter, limit) = query.into_inner().parse(50, MAX_LIMIT)?;
    let tx = db.tenant_tx(&ctx).await?;
    let (resolved_groups, mean_resolution, groups) =
        repository::resolution_times(&tx, project_id, &filter, false, limit).await?;
    let (triaged_groups, mean_triage, _) =
        repository::resolution_times(&tx, project_id, &filter, true, 1).await?;
    tx.commit().await?;
    Ok(HttpResponse::Ok().json(ResolutionTimes {
        from: filter.from,
        to: filter.to,
        resolved_groups,
        mean_time_to_resolution_secs: mean_resolution,
        triaged_groups,
        mean_time_to_triage_secs: mean_triage,
        groups,
    }))
}
