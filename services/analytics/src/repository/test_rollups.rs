//! The per-test rollups of a week and the totals over every branch and
//! job, rewritten from the day's split rows whenever a slice is computed
//! (see [`super::rollups::refresh_slice`]).

use chrono::NaiveDate;
use tenant_core::{DbError, TenantTx};
use uuid::Uuid;

/// The per-test sums of the rows `{source}` selects (`test_id`, counts
/// and a histogram each), one row per test with its summed histogram.
fn summed_tests(source: &str) -> String {
    format!(
        "WITH d AS ({source}),
              sums AS (SELECT test_id, sum(runs) AS runs, sum(failures) AS failures,
                              sum(flaky) AS flaky, sum(skipped) AS skipped
                         FROM d GROUP BY test_id),
              buckets AS (SELECT d.test_id, x.bucket, sum(x.n)::bigint AS n
                            FROM d CROSS JOIN LATERAL
                                 unnest(d.duration_buckets, d.duration_counts) AS x(bucket, n)
                           GROUP BY d.test_id, x.bucket),
              h AS (SELECT test_id, array_agg(bucket ORDER BY bucket) AS buckets,
                           array_agg(n ORDER BY bucket) AS counts
                      FROM buckets GROUP BY test_id)
         SELECT s.test_id, s.runs, s.failures, s.flaky, s.skipped,
                coalesce(h.buckets, '{{}}') AS duration_buckets,
                coalesce(h.counts, '{{}}') AS duration_counts
           FROM sums s LEFT JOIN h ON h.test_id = s.test_id"
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
    tx.execute(
        "DELETE FROM analytics.test_daily_totals WHERE project_id = $1 AND day = $2",
        &[&project_id, &day],
    )
    .await?;
    let daily = summed_tests(
        "SELECT test_id, runs, failures, flaky, skipped, duration_buckets, duration_counts
           FROM analytics.test_daily_rollups WHERE project_id = $1 AND day = $2",
    );
    tx.execute(
        &format!(
            "INSERT INTO analytics.test_daily_totals
                    (project_id, day, test_id, runs, failures, flaky, skipped,
                     duration_buckets, duration_counts)
             SELECT $1, $2, t.test_id, t.runs, t.failures, t.flaky, t.skipped,
                    t.duration_buckets, t.duration_counts
               FROM ({daily}) t"
        ),
        &[&project_id, &day],
    )
    .await?;
    tx.execute(
        "DELETE FROM analytics.test_weekly_totals WHERE project_id = $1 AND week = $2",
        &[&project_id, &week],
    )
    .await?;
    let weekly = summed_tests(
        "SELECT test_id, runs, failures, flaky, skipped, duration_buckets, duration_counts
           FROM analytics.test_daily_totals
          WHERE project_id = $1 AND day BETWEEN $2 AND $2 + 6",
    );
    tx.execute(
        &format!(
            "INSERT INTO analytics.test_weekly_totals
                    (project_id, week, test_id, runs, failures, flaky, skipped,
                     duration_buckets, duration_counts)
             SELECT $1, $2, t.test_id, t.runs, t.failures, t.flaky, t.skipped,
                    t.duration_buckets, t.duration_counts
               FROM ({weekly}) t"
        ),
        &[&project_id, &week],
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
        "WITH d AS (SELECT test_id, runs, failures, flaky, skipped, durations_ms
                      FROM analytics.test_daily_rollups
                     WHERE project_id = $1 AND day BETWEEN $2 AND $2 + 6
                       AND branch = $3 AND job_name = $4),
              sums AS (SELECT test_id, sum(runs) AS runs, sum(failures) AS failures,
                              sum(flaky) AS flaky, sum(skipped) AS skipped
                         FROM d GROUP BY test_id),
              durations AS (SELECT d.test_id, array_agg(x.ms ORDER BY x.ms) AS durations_ms
                              FROM d CROSS JOIN LATERAL unnest(d.durations_ms) AS x(ms)
                             GROUP BY d.test_id)
         INSERT INTO analytics.test_weekly_rollups
                (project_id, week, branch, job_name, test_id, runs, failures, flaky, skipped,
                 durations_ms)
         SELECT $1, $2, $3, $4, s.test_id, s.runs, s.failures, s.flaky, s.skipped,
                coalesce(t.durations_ms, '{}')
           FROM sums s LEFT JOIN durations t ON t.test_id = s.test_id",
        week_key,
    )
    .await?;
    let weekly = summed_tests(
        "SELECT test_id, runs, failures, flaky, skipped, duration_buckets, duration_counts
           FROM analytics.test_daily_rollups
          WHERE project_id = $1 AND day BETWEEN $2 AND $2 + 6 AND branch = $3 AND job_name = $4",
    );
    tx.execute(
        &format!(
            "UPDATE analytics.test_weekly_rollups w
                SET duration_buckets = t.duration_buckets, duration_counts = t.duration_counts
               FROM ({weekly}) t
              WHERE w.project_id = $1 AND w.week = $2 AND w.branch = $3 AND w.job_name = $4
                AND w.test_id = t.test_id"
        ),
        week_key,
    )
    .await?;
    Ok(())
}
