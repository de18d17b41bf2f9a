//! The per-test rollups of a week and the totals over every branch and
//! job, rewritten from the day's split rows whenever a slice is computed
//! (see [`super::rollups::refresh_slice`]).

use chrono::NaiveDate;
use tenant_core::{DbError, TenantTx};
use uuid::Uuid;

/// The per-test sums of the rows `{source}` selects (`test_id`, counts
/// and a histogram each), one row per test with its summed histogram.
///
/// Two aggregations and no join: the first sums the counts per test and
/// bucket, each source row's counts taken once (with its first bucket, or
/// its empty histogram's single row); the second gathers a test's buckets.
/// A join of per-test sums with per-test histograms can turn into a
/// nested loop that computes one side again for every row of the other
/// when the planner expects a handful of rows (a project far larger than
/// the average), which ran past the statement timeout.
fn summed_tests(source: &str) -> String {
    format!(
        "WITH b AS (SELECT d.test_id, x.bucket, sum(x.n)::bigint AS n,
                           sum(d.runs) FILTER (WHERE x.i IS NULL OR x.i = 1) AS runs,
                           sum(d.failures) FILTER (WHERE x.i IS NULL OR x.i = 1) AS failures,
                           sum(d.flaky) FILTER (WHERE x.i IS NULL OR x.i = 1) AS flaky,
                           sum(d.skipped) FILTER (WHERE x.i IS NULL OR x.i = 1) AS skipped
                      FROM ({source}) d
                      LEFT JOIN LATERAL unnest(d.duration_buckets, d.duration_counts)
                                WITH ORDINALITY AS x(bucket, n, i) ON true
                     GROUP BY d.test_id, x.bucket)
         SELECT b.test_id, coalesce(sum(b.runs), 0) AS runs,
                coalesce(sum(b.failures), 0) AS failures, coalesce(sum(b.flaky), 0) AS flaky,
                coalesce(sum(b.skipped), 0) AS skipped,
                coalesce(array_agg(b.bucket ORDER BY b.bucket)
                         FILTER (WHERE b.bucket IS NOT NULL), '{{}}') AS duration_buckets,
                coalesce(array_agg(b.n ORDER BY b.bucket)
                         FILTER (WHERE b.bucket IS NOT NULL), '{{}}') AS duration_counts
           FROM b
          GROUP BY b.test_id"
    )
}

/// A `CROSS JOIN LATERAL` that adds the histogram (`h.duration_buckets`,
/// `h.duration_counts`) of the durations array `{durations}` (a column of
/// the row it follows): computed from that row alone, so a statement
/// costs the same per row whatever the planner estimates (a join of the
/// rows with their histograms turned into a nested loop on a project far
/// larger than the average and ran past the statement timeout).
pub(super) fn histogram_of(durations: &str) -> String {
    format!(
        "CROSS JOIN LATERAL (
             SELECT coalesce(array_agg(x.bucket ORDER BY x.bucket), '{{}}') AS duration_buckets,
                    coalesce(array_agg(x.n ORDER BY x.bucket), '{{}}') AS duration_counts
               FROM (SELECT analytics.duration_bucket(d.ms) AS bucket, count(*) AS n
                       FROM unnest({durations}) AS d(ms)
                      GROUP BY 1) x) h"
    )
}

/// Rewrites the project's `test_daily_totals` of `day` from the day's
/// `test_daily_rollups` (every branch and job), then its
/// `test_weekly_totals` of `week` from the week's daily totals. The
/// caller holds the week's totals lock.
pub(super) async fn refresh_test_totals(
    tx: &TenantTx,
    project_id: Uuid,
    day: NaiveDate,
    week: NaiveDate,
) -> Result<(), DbError> {
    replace_totals(
        tx,
        "test_daily_totals",
        "day",
        [&project_id, &day],
        "SELECT test_id, runs, failures, flaky, skipped, duration_buckets, duration_counts
           FROM analytics.test_daily_rollups WHERE project_id = $1 AND day = $2",
    )
    .await?;
    replace_totals(
        tx,
        "test_weekly_totals",
        "week",
        [&project_id, &week],
        "SELECT test_id, runs, failures, flaky, skipped, duration_buckets, duration_counts
           FROM analytics.test_daily_totals
          WHERE project_id = $1 AND day BETWEEN $2 AND $2 + 6",
    )
    .await
}

/// Replaces the rows of totals `table` whose `period` column is `$2`
/// with the per-test sums of the rows `source` selects.
async fn replace_totals(
    tx: &TenantTx,
    table: &str,
    period: &str,
    key: [&(dyn tokio_postgres::types::ToSql + Sync); 2],
    source: &str,
) -> Result<(), DbError> {
    tx.execute(
        &format!("DELETE FROM analytics.{table} WHERE project_id = $1 AND {period} = $2"),
        &key,
    )
    .await?;
    let sums = summed_tests(source);
    tx.execute(
        &format!(
            "INSERT INTO analytics.{table}
                    (project_id, {period}, test_id, runs, failures, flaky, skipped,
                     duration_buckets, duration_counts)
             SELECT $1, $2, t.test_id, t.runs, t.failures, t.flaky, t.skipped,
                    t.duration_buckets, t.duration_counts
               FROM ({sums}) t"
        ),
        &key,
    )
    .await?;
    Ok(())
}

/// Rewrites the week `$2` (a Monday) of branch `$3` and job `$4` in
/// `test_weekly_rollups` from its days' `test_daily_rollups`.
pub(super) async fn refresh_test_week(
    tx: &TenantTx,
    week_key: &[&(dyn tokio_postgres::types::ToSql + Sync); 4],
) -> Result<(), DbError> {
    tx.execute(
        "DELETE FROM analytics.test_weekly_rollups
          WHERE project_id = $1 AND week = $2 AND branch = $3 AND job_name = $4",
        week_key,
    )
    .await?;
    tx.execute(
        &format!(
            "WITH w AS (
                 SELECT d.test_id,
                        sum(d.runs) FILTER (WHERE x.i IS NULL OR x.i = 1) AS runs,
                        sum(d.failures) FILTER (WHERE x.i IS NULL OR x.i = 1) AS failures,
                        sum(d.flaky) FILTER (WHERE x.i IS NULL OR x.i = 1) AS flaky,
                        sum(d.skipped) FILTER (WHERE x.i IS NULL OR x.i = 1) AS skipped,
                        coalesce(array_agg(x.ms ORDER BY x.ms) FILTER (WHERE x.ms IS NOT NULL),
                                 '{{}}') AS durations_ms
                   FROM analytics.test_daily_rollups d
                   LEFT JOIN LATERAL unnest(d.durations_ms) WITH ORDINALITY AS x(ms, i) ON true
                  WHERE d.project_id = $1 AND d.day BETWEEN $2 AND $2 + 6
                    AND d.branch = $3 AND d.job_name = $4
                  GROUP BY d.test_id)
             INSERT INTO analytics.test_weekly_rollups
                    (project_id, week, branch, job_name, test_id, runs, failures, flaky, skipped,
                     durations_ms, duration_buckets, duration_counts)
             SELECT $1, $2, $3, $4, w.test_id, w.runs, w.failures, w.flaky, w.skipped,
                    w.durations_ms, h.duration_buckets, h.duration_counts
               FROM w {}",
            histogram_of("w.durations_ms")
        ),
        week_key,
    )
    .await?;
    Ok(())
}
