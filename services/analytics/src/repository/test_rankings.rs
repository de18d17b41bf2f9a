//! The test rankings' reads (top failing, flakiest and slowest tests):
//! per test from the weekly and daily test rollups, the totals over every
//! branch and job when the filter names neither, with run durations
//! estimated from the rows' histograms.

use chrono::NaiveDate;
use tenant_core::{DbError, TenantTx};
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;
use uuid::Uuid;

use crate::domain::dashboards::{Direction, RankedTest};
use crate::domain::filters::{DashboardFilter, WeekSplit};

/// What a test ranking orders by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestMetric {
    Failures,
    Flaky,
}

impl TestMetric {
    fn column(self) -> &'static str {
        match self {
            Self::Failures => "failures",
            Self::Flaky => "flaky",
        }
    }
}

/// A test ranking's parameters: `$1` project, `$2` branch, `$3` job, `$4`
/// limit, `$5`..`$10` the parts of the range, `$11`..`$16` those of the
/// previous range (see [`test_rows`]).
struct TestRankParams<'a> {
    project_id: Uuid,
    branch: Option<&'a str>,
    job: Option<&'a str>,
    limit: i64,
    parts: [NaiveDate; 12],
}

impl<'a> TestRankParams<'a> {
    fn new(
        project_id: Uuid,
        filter: &'a DashboardFilter,
        previous: &DashboardFilter,
        limit: i64,
    ) -> Self {
        let flat = |split: WeekSplit| {
            [
                split.head.0,
                split.head.1,
                split.weeks.0,
                split.weeks.1,
                split.tail.0,
                split.tail.1,
            ]
        };
        let [a, b, c, d, e, f] = flat(filter.week_split());
        let [g, h, i, j, k, l] = flat(previous.week_split());
        Self {
            project_id,
            branch: filter.branch.as_deref(),
            job: filter.job.as_deref(),
            limit,
            parts: [a, b, c, d, e, f, g, h, i, j, k, l],
        }
    }

    fn list(&self) -> Vec<&(dyn ToSql + Sync)> {
        let mut list: Vec<&(dyn ToSql + Sync)> =
            vec![&self.project_id, &self.branch, &self.job, &self.limit];
        list.extend(self.parts.iter().map(|day| day as &(dyn ToSql + Sync)));
        list
    }
}

/// A range's per-test rows: its first and last days (`$first`..`$first+1`,
/// `$first+4`..`$first+5`) from a daily rollup and its full weeks
/// (`$first+2`..`$first+3`, Mondays) from a weekly one. Without a branch
/// or job filter they come from the totals over every branch and job
/// (one row per test and day or week); with one, from the rows split by
/// branch and job, up to one per branch and job pair more.
fn test_rows(first: usize, split: bool) -> String {
    let [a, b, c, d, e, f] = [0, 1, 2, 3, 4, 5].map(|i| first + i);
    let (daily, weekly, filter) = if split {
        (
            "test_daily_rollups",
            "test_weekly_rollups",
            "($2::text IS NULL OR r.branch = $2) AND ($3::text IS NULL OR r.job_name = $3)",
        )
    } else {
        (
            "test_daily_totals",
            "test_weekly_totals",
            "$2::text IS NULL AND $3::text IS NULL",
        )
    };
    let columns = "r.test_id, r.runs, r.failures, r.flaky, r.duration_buckets, r.duration_counts";
    format!(
        "SELECT {columns}
           FROM analytics.{daily} r
          WHERE r.project_id = $1 AND r.day BETWEEN ${a} AND ${b} AND {filter}
         UNION ALL
         SELECT {columns}
           FROM analytics.{weekly} r
          WHERE r.project_id = $1 AND r.week BETWEEN ${c} AND ${d} AND {filter}
         UNION ALL
         SELECT {columns}
           FROM analytics.{daily} r
          WHERE r.project_id = $1 AND r.day BETWEEN ${e} AND ${f} AND {filter}"
    )
}

/// Per test of the rows `{rows}` (see [`test_rows`]) that meets
/// `{tests}` (a condition on `t.test_id`): its runs with a duration and its p50 and p95 estimated from the summed histogram by
/// `analytics.duration_estimate` (docs/analytics.md says how).
fn test_percentiles(rows: &str, tests: &str) -> String {
    format!(
        "SELECT c.test_id, max(c.total) AS runs,
                max(analytics.duration_estimate(c.bucket, c.n, c.before, 0.5 * (c.total - 1)))
                    FILTER (WHERE c.before <= 0.5 * (c.total - 1)
                              AND 0.5 * (c.total - 1) < c.before + c.n) AS p50_ms,
                max(analytics.duration_estimate(c.bucket, c.n, c.before, 0.95 * (c.total - 1)))
                    FILTER (WHERE c.before <= 0.95 * (c.total - 1)
                              AND 0.95 * (c.total - 1) < c.before + c.n) AS p95_ms
           FROM (SELECT h.test_id, h.bucket, h.n,
                        (sum(h.n) OVER (PARTITION BY h.test_id ORDER BY h.bucket) - h.n)::bigint
                            AS before,
                        (sum(h.n) OVER (PARTITION BY h.test_id))::bigint AS total
                   FROM (SELECT t.test_id, x.bucket, sum(x.n)::bigint AS n
                           FROM ({rows}) t
                          CROSS JOIN LATERAL
                                unnest(t.duration_buckets, t.duration_counts) AS x(bucket, n)
                          WHERE {tests}
                          GROUP BY t.test_id, x.bucket) h) c
          GROUP BY c.test_id"
    )
}

fn split_by_branch_or_job(filter: &DashboardFilter) -> bool {
    filter.branch.is_some() || filter.job.is_some()
}

/// The `limit` tests with the most failures (or flaky passes) in the
/// filter, most first, each with the same count over `previous`.
#[tracing::instrument(skip_all, fields(project_id = %project_id), err(level = "warn"))]
pub async fn rank_tests(
    tx: &TenantTx,
    project_id: Uuid,
    filter: &DashboardFilter,
    previous: &DashboardFilter,
    metric: TestMetric,
    limit: i64,
) -> Result<Vec<RankedTest>, DbError> {
    let column = metric.column();
    let params = TestRankParams::new(project_id, filter, previous, limit);
    let split = split_by_branch_or_job(filter);
    let (current_rows, previous_rows) = (test_rows(5, split), test_rows(11, split));
    let rows = tx
        .query(
            &format!(
                "WITH cur AS (
                     SELECT t.test_id, sum(t.{column})::bigint AS value, sum(t.runs)::bigint AS runs
                       FROM ({current_rows}) t
                      GROUP BY t.test_id
                     HAVING sum(t.{column}) > 0
                      ORDER BY value DESC, t.test_id
                      LIMIT $4),
                 prev AS (
                     SELECT t.test_id, sum(t.{column})::bigint AS value
                       FROM ({previous_rows}) t
                      WHERE t.test_id IN (SELECT test_id FROM cur)
                      GROUP BY t.test_id)
                 SELECT cur.test_id, cur.value::float8 AS value, cur.runs,
                        coalesce(prev.value, 0)::float8 AS previous_value,
                        NULL::float8 AS p50_ms, NULL::float8 AS p95_ms,
                        t.suite, t.classname, t.name
                   FROM cur
                   LEFT JOIN prev ON prev.test_id = cur.test_id
                   LEFT JOIN failure.analytics_tests t ON t.project_id = $1 AND t.id = cur.test_id
                  ORDER BY cur.value DESC, cur.test_id"
            ),
            &params.list(),
        )
        .await?;
    rows.iter().map(ranked_test_from).collect()
}

/// The `limit` tests with the highest p95 run duration in the filter,
/// with their p50, and their p95 over `previous`.
#[tracing::instrument(skip_all, fields(project_id = %project_id), err(level = "warn"))]
pub async fn slowest_tests(
    tx: &TenantTx,
    project_id: Uuid,
    filter: &DashboardFilter,
    previous: &DashboardFilter,
    limit: i64,
) -> Result<Vec<RankedTest>, DbError> {
    let params = TestRankParams::new(project_id, filter, previous, limit);
    let split = split_by_branch_or_job(filter);
    let (current, earlier) = (
        test_percentiles(&test_rows(5, split), "true"),
        // Only the current range's top tests: the previous range's other
        // tests are never summed.
        test_percentiles(
            &test_rows(11, split),
            "t.test_id IN (SELECT test_id FROM cur)",
        ),
    );
    let rows = tx
        .query(
            &format!(
                "WITH cur AS (
                     SELECT p.test_id, p.p50_ms, p.p95_ms, p.runs
                       FROM ({current}) p
                      ORDER BY p.p95_ms DESC, p.test_id
                      LIMIT $4),
                 prev AS (
                     SELECT p.test_id, p.p95_ms FROM ({earlier}) p)
                 SELECT cur.test_id, cur.p95_ms AS value, cur.runs, prev.p95_ms AS previous_value,
                        cur.p50_ms, cur.p95_ms, t.suite, t.classname, t.name
                   FROM cur
                   LEFT JOIN prev ON prev.test_id = cur.test_id
                   LEFT JOIN failure.analytics_tests t ON t.project_id = $1 AND t.id = cur.test_id
                  ORDER BY cur.p95_ms DESC, cur.test_id"
            ),
            &params.list(),
        )
        .await?;
    rows.iter().map(ranked_test_from).collect()
}

fn ranked_test_from(row: &Row) -> Result<RankedTest, DbError> {
    let value: f64 = row.try_get("value")?;
    let previous_value: Option<f64> = row.try_get("previous_value")?;
    Ok(RankedTest {
        test_id: row.try_get("test_id")?,
        suite: row
            .try_get::<_, Option<String>>("suite")?
            .unwrap_or_default(),
        classname: row
            .try_get::<_, Option<String>>("classname")?
            .unwrap_or_default(),
        name: row
            .try_get::<_, Option<String>>("name")?
            .unwrap_or_default(),
        value,
        trend: Direction::of(Some(value), previous_value, 0.0),
        previous_value,
        runs: row.try_get("runs")?,
        p50_ms: row.try_get("p50_ms")?,
        p95_ms: row.try_get("p95_ms")?,
    })
}
