//! The dashboards' reads: rollups only, never results. Every query takes
//! the project and the filter as `$1` (project), `$2`/`$3` (first and last
//! day), `$4` (branch or NULL) and `$5` (job or NULL).

use chrono::NaiveDate;
use tenant_core::{DbError, TenantTx};
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;
use uuid::Uuid;

use crate::domain::dashboards::{
    BuildSummary, Counts, GroupResolution, ProjectOverview, RankedGroup,
};
use crate::domain::dashboards::{Direction, pass_rate};
use crate::domain::filters::DashboardFilter;

/// The filter's conditions on a rollup aliased `d`.
const FILTER: &str = "d.project_id = $1 AND d.day BETWEEN $2 AND $3
    AND ($4::text IS NULL OR d.branch = $4) AND ($5::text IS NULL OR d.job_name = $5)";

struct Params<'a> {
    project_id: Uuid,
    from: NaiveDate,
    to: NaiveDate,
    branch: Option<&'a str>,
    job: Option<&'a str>,
}

impl<'a> Params<'a> {
    fn new(project_id: Uuid, filter: &'a DashboardFilter) -> Self {
        Self {
            project_id,
            from: filter.from,
            to: filter.to,
            branch: filter.branch.as_deref(),
            job: filter.job.as_deref(),
        }
    }

    fn list(&self) -> Vec<&(dyn ToSql + Sync)> {
        vec![
            &self.project_id,
            &self.from,
            &self.to,
            &self.branch,
            &self.job,
        ]
    }
}

/// The last `limit` finished builds in the filter, newest first.
#[tracing::instrument(skip_all, fields(project_id = %project_id), err(level = "warn"))]
pub async fn last_builds(
    tx: &TenantTx,
    project_id: Uuid,
    filter: &DashboardFilter,
    limit: i64,
) -> Result<Vec<BuildSummary>, DbError> {
    let params = Params::new(project_id, filter);
    let mut list = params.list();
    list.push(&limit);
    let rows = tx
        .query(
            &format!(
                "SELECT d.build_id, d.job_name, d.branch, d.status, d.created_at, d.finished_at,
                        1::bigint AS builds, d.tests, d.passed, d.failed, d.skipped, d.flaky,
                        d.new_groups, d.duration_ms
                   FROM analytics.build_rollups d
                  WHERE {FILTER}
                  ORDER BY d.created_at DESC, d.build_id DESC
                  LIMIT $6"
            ),
            &list,
        )
        .await?;
    rows.iter()
        .map(|row| {
            let counts = counts_from(row)?;
            Ok(BuildSummary {
                build_id: row.try_get("build_id")?,
                job_name: row.try_get("job_name")?,
                branch: row.try_get("branch")?,
                status: row.try_get("status")?,
                created_at: row.try_get("created_at")?,
                finished_at: row.try_get("finished_at")?,
                pass_rate: pass_rate(counts.passed, counts.flaky, counts.failed),
                counts,
                duration_ms: row.try_get("duration_ms")?,
            })
        })
        .collect()
}

/// The sums over the filter's days.
#[tracing::instrument(skip_all, fields(project_id = %project_id), err(level = "warn"))]
pub async fn period_counts(
    tx: &TenantTx,
    project_id: Uuid,
    filter: &DashboardFilter,
) -> Result<Counts, DbError> {
    let params = Params::new(project_id, filter);
    let row = tx
        .query_one(
            &format!("SELECT {SUMS} FROM analytics.daily_rollups d WHERE {FILTER}"),
            &params.list(),
        )
        .await?;
    counts_from(&row)
}

/// Sums of a daily rollup's counts, zero when there is no row.
const SUMS: &str = "coalesce(sum(d.builds), 0)::bigint AS builds,
    coalesce(sum(d.tests), 0)::bigint AS tests, coalesce(sum(d.passed), 0)::bigint AS passed,
    coalesce(sum(d.failed), 0)::bigint AS failed, coalesce(sum(d.skipped), 0)::bigint AS skipped,
    coalesce(sum(d.flaky), 0)::bigint AS flaky, coalesce(sum(d.new_groups), 0)::bigint AS new_groups,
    coalesce(sum(d.recurring_groups), 0)::bigint AS recurring_groups,
    coalesce(sum(d.duration_ms), 0)::bigint AS duration_ms";

/// The project's current counts: open groups, flaky tests, quarantined
/// tests (zeros before the first event).
#[tracing::instrument(skip_all, fields(project_id = %project_id), err(level = "warn"))]
pub async fn project_counts(tx: &TenantTx, project_id: Uuid) -> Result<[i64; 3], DbError> {
    let row = tx
        .query_opt(
            "SELECT open_groups, flaky_tests, quarantined_tests
               FROM analytics.project_rollups WHERE project_id = $1",
            &[&project_id],
        )
        .await?;
    match row {
        Some(row) => Ok([
            row.try_get("open_groups")?,
            row.try_get("flaky_tests")?,
            row.try_get("quarantined_tests")?,
        ]),
        None => Ok([0; 3]),
    }
}

/// One day's sums: counts, recurring groups and total duration.
#[derive(Debug, Clone)]
pub struct DaySums {
    pub day: NaiveDate,
    pub counts: Counts,
    pub recurring_groups: i64,
    pub duration_ms: i64,
}

/// The filter's sums per day that has builds, oldest first.
#[tracing::instrument(skip_all, fields(project_id = %project_id), err(level = "warn"))]
pub async fn daily_sums(
    tx: &TenantTx,
    project_id: Uuid,
    filter: &DashboardFilter,
) -> Result<Vec<DaySums>, DbError> {
    let params = Params::new(project_id, filter);
    let rows = tx
        .query(
            &format!(
                "SELECT d.day, {SUMS} FROM analytics.daily_rollups d
                  WHERE {FILTER} GROUP BY d.day ORDER BY d.day"
            ),
            &params.list(),
        )
        .await?;
    rows.iter()
        .map(|row| {
            Ok(DaySums {
                day: row.try_get("day")?,
                counts: counts_from(row)?,
                recurring_groups: row.try_get("recurring_groups")?,
                duration_ms: row.try_get("duration_ms")?,
            })
        })
        .collect()
}

/// The filter's failing outcomes per day and label.
#[tracing::instrument(skip_all, fields(project_id = %project_id), err(level = "warn"))]
pub async fn daily_labels(
    tx: &TenantTx,
    project_id: Uuid,
    filter: &DashboardFilter,
) -> Result<Vec<(NaiveDate, String, i64)>, DbError> {
    let params = Params::new(project_id, filter);
    let rows = tx
        .query(
            &format!(
                "SELECT d.day, d.label, sum(d.failures)::bigint AS failures
                   FROM analytics.daily_label_rollups d
                  WHERE {FILTER} GROUP BY d.day, d.label ORDER BY d.day, d.label"
            ),
            &params.list(),
        )
        .await?;
    rows.iter()
        .map(|row| {
            Ok((
                row.try_get("day")?,
                row.try_get("label")?,
                row.try_get("failures")?,
            ))
        })
        .collect()
}

/// The `limit` groups with the most failing outcomes in the filter.
#[tracing::instrument(skip_all, fields(project_id = %project_id), err(level = "warn"))]
pub async fn rank_groups(
    tx: &TenantTx,
    project_id: Uuid,
    filter: &DashboardFilter,
    previous: &DashboardFilter,
    limit: i64,
) -> Result<Vec<RankedGroup>, DbError> {
    let params = Params::new(project_id, filter);
    let mut list = params.list();
    list.extend([&limit as &(dyn ToSql + Sync), &previous.from, &previous.to]);
    let rows = tx
        .query(
            &format!(
                "WITH cur AS (
                     SELECT d.group_id, sum(d.failures)::bigint AS failures
                       FROM analytics.group_daily_rollups d
                      WHERE {FILTER}
                      GROUP BY d.group_id
                      ORDER BY failures DESC, d.group_id
                      LIMIT $6),
                 prev AS (
                     SELECT d.group_id, sum(d.failures)::bigint AS failures
                       FROM analytics.group_daily_rollups d
                      WHERE d.project_id = $1 AND d.day BETWEEN $7 AND $8
                        AND ($4::text IS NULL OR d.branch = $4)
                        AND ($5::text IS NULL OR d.job_name = $5)
                        AND d.group_id IN (SELECT group_id FROM cur)
                      GROUP BY d.group_id)
                 SELECT cur.group_id, cur.failures, coalesce(prev.failures, 0) AS previous_failures,
                        g.label, g.status
                   FROM cur
                   LEFT JOIN prev ON prev.group_id = cur.group_id
                   LEFT JOIN analytics.group_rollups g
                          ON g.project_id = $1 AND g.group_id = cur.group_id
                  ORDER BY cur.failures DESC, cur.group_id"
            ),
            &list,
        )
        .await?;
    rows.iter()
        .map(|row| {
            let failures: i64 = row.try_get("failures")?;
            let previous_failures: i64 = row.try_get("previous_failures")?;
            Ok(RankedGroup {
                group_id: row.try_get("group_id")?,
                label: row.try_get("label")?,
                status: row.try_get("status")?,
                failures,
                previous_failures,
                trend: Direction::of_counts(failures, previous_failures),
            })
        })
        .collect()
}

/// Groups resolved (or first triaged, `triage`) in the filter's days,
/// latest first; with a branch or job, only groups that failed there in
/// the range. Returns the count and mean seconds over all of them, and
/// the first `limit`.
#[tracing::instrument(skip_all, fields(project_id = %project_id), err(level = "warn"))]
pub async fn resolution_times(
    tx: &TenantTx,
    project_id: Uuid,
    filter: &DashboardFilter,
    triage: bool,
    limit: i64,
) -> Result<(i64, Option<f64>, Vec<GroupResolution>), DbError> {
    let column = if triage { "triaged_at" } else { "resolved_at" };
    let params = Params::new(project_id, filter);
    let mut list = params.list();
    list.push(&limit);
    let rows = tx
        .query(
            &format!(
                "WITH picked AS (
                     SELECT g.group_id, g.first_seen_at, g.triaged_at, g.resolved_at,
                            extract(epoch FROM g.{column} - g.first_seen_at)::float8 AS secs
                       FROM analytics.group_rollups g
                      WHERE g.project_id = $1
                        AND g.{column} >= ($2::date)::timestamp AT TIME ZONE 'UTC'
                        AND g.{column} < ($3::date + 1)::timestamp AT TIME ZONE 'UTC'
                        AND (($4::text IS NULL AND $5::text IS NULL) OR EXISTS (
                             SELECT 1 FROM analytics.group_daily_rollups d
                              WHERE {FILTER} AND d.group_id = g.group_id)))
                 SELECT p.*, count(*) OVER () AS total, avg(p.secs) OVER () AS mean_secs
                   FROM picked p
                  ORDER BY p.{column} DESC, p.group_id
                  LIMIT $6"
            ),
            &list,
        )
        .await?;
    let (total, mean) = match rows.first() {
        Some(row) => (row.try_get("total")?, row.try_get("mean_secs")?),
        None => (0, None),
    };
    let groups = rows
        .iter()
        .map(|row| {
            let first_seen_at: chrono::DateTime<chrono::Utc> = row.try_get("first_seen_at")?;
            let triaged_at: Option<chrono::DateTime<chrono::Utc>> = row.try_get("triaged_at")?;
            let resolved_at: Option<chrono::DateTime<chrono::Utc>> = row.try_get("resolved_at")?;
            let secs = |at: Option<chrono::DateTime<chrono::Utc>>| {
                at.map(|at| (at - first_seen_at).as_seconds_f64())
            };
            Ok(GroupResolution {
                group_id: row.try_get("group_id")?,
                first_seen_at,
                time_to_triage_secs: secs(triaged_at),
                time_to_resolution_secs: secs(resolved_at),
                triaged_at,
                resolved_at,
            })
        })
        .collect::<Result<_, DbError>>()?;
    Ok((total, mean, groups))
}

/// The overview's rows for `project_ids`, in a transaction opened with
/// `Db::member_projects_tx` for those projects (the `member_overview`
/// policies show their rows, and no other project's).
#[tracing::instrument(skip_all, fields(projects = project_ids.len()), err(level = "warn"))]
pub async fn overview(
    tx: &TenantTx,
    project_ids: &[Uuid],
    filter: &DashboardFilter,
) -> Result<Vec<ProjectOverview>, DbError> {
    let branch = filter.branch.as_deref();
    let job = filter.job.as_deref();
    let rows = tx
        .query(
            &format!(
                "SELECT p.id AS project_id, s.*,
                        coalesce(r.open_groups, 0) AS open_groups,
                        coalesce(r.flaky_tests, 0) AS flaky_tests,
                        coalesce(r.quarantined_tests, 0) AS quarantined_tests
                   FROM unnest($1::uuid[]) AS p(id)
                  CROSS JOIN LATERAL (
                        SELECT {SUMS} FROM analytics.daily_rollups d
                         WHERE d.project_id = p.id AND d.day BETWEEN $2 AND $3
                           AND ($4::text IS NULL OR d.branch = $4)
                           AND ($5::text IS NULL OR d.job_name = $5)) s
                   LEFT JOIN analytics.project_rollups r ON r.project_id = p.id
                  ORDER BY p.id"
            ),
            &[&project_ids, &filter.from, &filter.to, &branch, &job],
        )
        .await?;
    rows.iter()
        .map(|row| {
            let counts = counts_from(row)?;
            Ok(ProjectOverview {
                project_id: row.try_get("project_id")?,
                pass_rate: pass_rate(counts.passed, counts.flaky, counts.failed),
                counts,
                open_groups: row.try_get("open_groups")?,
                flaky_tests: row.try_get("flaky_tests")?,
                quarantined_tests: row.try_get("quarantined_tests")?,
            })
        })
        .collect()
}

fn counts_from(row: &Row) -> Result<Counts, DbError> {
    Ok(Counts {
        builds: row.try_get("builds")?,
        tests: row.try_get("tests")?,
        passed: row.try_get("passed")?,
        failed: row.try_get("failed")?,
        skipped: row.try_get("skipped")?,
        flaky: row.try_get("flaky")?,
        new_groups: row.try_get("new_groups")?,
    })
}
