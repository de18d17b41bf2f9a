//! Computing rollups again from the failure service's views, one slice,
//! group or project at a time. Each function replaces what it computes
//! whole, in the caller's transaction, so it gives the same rows however
//! often and in whatever order it runs: this is what makes a repeated,
//! late or out-of-order event harmless. Reads only the failure schema's `analytics_`
//! views (a test checks that no analytics SQL names another failure relation).

use chrono::{Datelike, Days, NaiveDate};
use tenant_core::{DbError, TenantTx};
use uuid::Uuid;

use super::dashboards::project_counts;
use super::rollup_versions;
use super::test_rollups::{histogram_of, refresh_test_totals, refresh_test_week};
use crate::domain::events::Refresh;

/// One project's finished builds of one UTC day, branch (`""` for none)
/// and job: the unit the build, daily, label, test and group rollups are
/// computed in (and then its week's test rollups).
///
/// Slices sort by week, branch, job and then day: the order in which
/// their locks are taken (the week's, then the day's), so two
/// transactions computing overlapping slices never wait on each other in
/// a circle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slice {
    pub day: NaiveDate,
    pub branch: String,
    pub job_name: String,
}

impl Slice {
    /// The Monday of the slice's ISO week.
    pub fn week(&self) -> NaiveDate {
        let back = u64::from(self.day.weekday().num_days_from_monday());
        self.day
            .checked_sub_days(Days::new(back))
            .unwrap_or(self.day)
    }

    fn lock_order(&self) -> (NaiveDate, &str, &str, NaiveDate) {
        (self.week(), &self.branch, &self.job_name, self.day)
    }
}

impl Ord for Slice {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.lock_order().cmp(&other.lock_order())
    }
}

impl PartialOrd for Slice {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// The builds of the slice `$1..$4` (project, day, branch, job) that have
/// finished, as the failure service's view shows them now.
const SLICE_BUILDS: &str = "
    SELECT b.id, b.status, b.created_at, b.finished_at
      FROM failure.analytics_builds b
     WHERE b.project_id = $1
       AND b.created_at >= ($2::date)::timestamp AT TIME ZONE 'UTC'
       AND b.created_at < ($2::date + 1)::timestamp AT TIME ZONE 'UTC'
       AND coalesce(b.branch, '') = $3
       AND b.job_name = $4
       AND b.status <> 'running'";

/// The slice `build_id` belongs to, if the build exists.
#[tracing::instrument(skip_all, fields(project_id = %project_id, build_id = %build_id), err(level = "warn"))]
pub async fn slice_of_build(
    tx: &TenantTx,
    project_id: Uuid,
    build_id: Uuid,
) -> Result<Option<Slice>, DbError> {
    let row = tx
        .query_opt(
            "SELECT (created_at AT TIME ZONE 'UTC')::date AS day,
                    coalesce(branch, '') AS branch, job_name
               FROM failure.analytics_builds
              WHERE project_id = $1 AND id = $2",
            &[&project_id, &build_id],
        )
        .await?;
    row.map(|row| slice_from_row(&row)).transpose()
}

/// The slices of the builds `group_id` failed in.
#[tracing::instrument(skip_all, fields(project_id = %project_id, group_id = %group_id), err(level = "warn"))]
pub async fn slices_of_group(
    tx: &TenantTx,
    project_id: Uuid,
    group_id: Uuid,
) -> Result<Vec<Slice>, DbError> {
    let rows = tx
        .query(
            "SELECT DISTINCT (b.created_at AT TIME ZONE 'UTC')::date AS day,
                    coalesce(b.branch, '') AS branch, b.job_name
               FROM failure.analytics_failures f
               JOIN failure.analytics_builds b ON b.project_id = f.project_id AND b.id = f.build_id
              WHERE f.project_id = $1 AND f.group_id = $2",
            &[&project_id, &group_id],
        )
        .await?;
    rows.iter().map(slice_from_row).collect()
}

/// Every slice with a build created from `since` on, those computed
/// longest ago (or never) first, at most `limit`: the reconciliation's
/// work for one round.
#[tracing::instrument(skip_all, fields(project_id = %project_id), err(level = "warn"))]
pub async fn stalest_slices(
    tx: &TenantTx,
    project_id: Uuid,
    since: Option<NaiveDate>,
    limit: i64,
) -> Result<Vec<Slice>, DbError> {
    let rows = tx
        .query(
            "SELECT s.day, s.branch, s.job_name
               FROM (SELECT DISTINCT (created_at AT TIME ZONE 'UTC')::date AS day,
                            coalesce(branch, '') AS branch, job_name
                       FROM failure.analytics_builds
                      WHERE project_id = $1
                        AND ($2::date IS NULL
                             OR created_at >= ($2::date)::timestamp AT TIME ZONE 'UTC')) s
               LEFT JOIN analytics.rollup_slices r
                      ON r.project_id = $1 AND r.day = s.day
                     AND r.branch = s.branch AND r.job_name = s.job_name
              ORDER BY r.refreshed_at NULLS FIRST, s.day DESC, s.branch, s.job_name
              LIMIT $3",
            &[&project_id, &since, &limit],
        )
        .await?;
    rows.iter().map(slice_from_row).collect()
}

/// The rollup tables a slice's rows live in, each with the column its
/// rows are ordered by in a fingerprint.
const SLICE_TABLES: [(&str, &str); 5] = [
    ("build_rollups", "build_id"),
    ("daily_rollups", "day"),
    ("daily_label_rollups", "label"),
    ("test_daily_rollups", "test_id"),
    ("group_daily_rollups", "group_id"),
];

/// Whether a computation changed what readers see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum Change {
    Changed,
    Unchanged,
}

impl Change {
    fn between<T: PartialEq>(before: &T, after: &T) -> Self {
        if before == after {
            Self::Unchanged
        } else {
            Self::Changed
        }
    }

    pub fn any(changes: impl IntoIterator<Item = Change>) -> Self {
        if changes.into_iter().any(|change| change == Self::Changed) {
            Self::Changed
        } else {
            Self::Unchanged
        }
    }
}

/// A digest of every row of the slice `$1..$4` in the slice's tables: equal
/// before and after a computation exactly when it changed nothing.
async fn slice_fingerprint(
    tx: &TenantTx,
    key: &[&(dyn tokio_postgres::types::ToSql + Sync); 4],
) -> Result<Option<String>, DbError> {
    let parts = SLICE_TABLES
        .iter()
        .map(|(table, order)| {
            format!(
                "(SELECT string_agg(t::text, ',' ORDER BY t.{order}) FROM analytics.{table} t
                   WHERE t.project_id = $1 AND t.day = $2 AND t.branch = $3 AND t.job_name = $4)"
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    let row = tx
        .query_one(
            &format!("SELECT md5(concat_ws('|', {parts})) AS digest"),
            key,
        )
        .await?;
    Ok(row.try_get("digest")?)
}

/// Computes the build, daily, label, test and group-per-day rollups of
/// `slice` again from the views and, when they changed, its week's test
/// rollups and the project's per-test totals of its day and week (which
/// are sums of the day's rows). The slice's `rollup_slices` row is
/// written first: its row lock makes concurrent computations of one slice
/// take turns, the later one reading what the earlier committed.
#[tracing::instrument(skip_all, fields(project_id = %project_id, day = %slice.day), err(level = "warn"))]
pub async fn refresh_slice(
    tx: &TenantTx,
    project_id: Uuid,
    slice: &Slice,
) -> Result<Change, DbError> {
    let key: [&(dyn tokio_postgres::types::ToSql + Sync); 4] =
        [&project_id, &slice.day, &slice.branch, &slice.job_name];
    let week = slice.week();
    let week_key: [&(dyn tokio_postgres::types::ToSql + Sync); 4] =
        [&project_id, &week, &slice.branch, &slice.job_name];
    // The project's test totals of the week are rewritten from every
    // branch and job: that lock comes first, then the week of this branch
    // and job, then the day (all held to the end of the transaction).
    // Slices sort by week first, so this keeps one global lock order.
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended(
                    concat_ws('/', 'analytics.week_totals', $1::uuid, $2::date), 0))",
        &[&project_id, &week],
    )
    .await?;
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended(
                    concat_ws('/', 'analytics.week', $1::uuid, $2::date, $3::text, $4::text), 0))",
        &week_key,
    )
    .await?;
    tx.execute(
        "INSERT INTO analytics.rollup_slices (project_id, day, branch, job_name, refreshed_at)
         VALUES ($1, $2, $3, $4, clock_timestamp())
         ON CONFLICT (project_id, day, branch, job_name)
         DO UPDATE SET refreshed_at = excluded.refreshed_at",
        &key,
    )
    .await?;
    let before = slice_fingerprint(tx, &key).await?;
    for (table, _) in SLICE_TABLES {
        tx.execute(
            &format!(
                "DELETE FROM analytics.{table}
                  WHERE project_id = $1 AND day = $2 AND branch = $3 AND job_name = $4"
            ),
            &key,
        )
        .await?;
    }
    tx.execute(
        &format!(
            "WITH b AS ({SLICE_BUILDS}),
             r AS (SELECT r.build_id,
                          count(*) AS tests,
                          count(*) FILTER (WHERE r.status = 'passed') AS passed,
                          count(*) FILTER (WHERE r.status IN ('failed', 'error')) AS failed,
                          count(*) FILTER (WHERE r.status = 'skipped') AS skipped,
                          count(*) FILTER (WHERE r.status = 'flaky') AS flaky,
                          coalesce(sum(r.duration_ms), 0) AS duration_ms
                     FROM failure.analytics_test_results r
                     JOIN b ON r.build_id = b.id AND r.build_created_at = b.created_at
                    WHERE r.project_id = $1
                    GROUP BY r.build_id),
             g AS (SELECT bg.build_id,
                          count(*) AS groups,
                          count(*) FILTER (WHERE earliest.build_id = bg.build_id) AS new_groups
                     FROM (SELECT DISTINCT f.build_id, f.group_id
                             FROM failure.analytics_failures f
                             JOIN b ON f.build_id = b.id
                            WHERE f.project_id = $1 AND f.group_id IS NOT NULL) bg
                    CROSS JOIN LATERAL (
                          SELECT first.build_id
                            FROM failure.analytics_failures first
                           WHERE first.project_id = $1 AND first.group_id = bg.group_id
                           ORDER BY first.created_at, first.id
                           LIMIT 1) earliest
                    GROUP BY bg.build_id)
             INSERT INTO analytics.build_rollups
                    (project_id, build_id, day, branch, job_name, status, created_at, finished_at,
                     tests, passed, failed, skipped, flaky, duration_ms, new_groups, recurring_groups)
             SELECT $1, b.id, $2, $3, $4, b.status, b.created_at, b.finished_at,
                    coalesce(r.tests, 0), coalesce(r.passed, 0), coalesce(r.failed, 0),
                    coalesce(r.skipped, 0), coalesce(r.flaky, 0), coalesce(r.duration_ms, 0),
                    coalesce(g.new_groups, 0), coalesce(g.groups - g.new_groups, 0)
               FROM b
               LEFT JOIN r ON r.build_id = b.id
               LEFT JOIN g ON g.build_id = b.id"
        ),
        &key,
    )
    .await?;
    tx.execute(
        "INSERT INTO analytics.daily_rollups
                (project_id, day, branch, job_name, builds, tests, passed, failed, skipped, flaky,
                 duration_ms, new_groups, recurring_groups)
         SELECT $1, $2, $3, $4, count(*), sum(tests), sum(passed), sum(failed), sum(skipped),
                sum(flaky), sum(duration_ms), sum(new_groups), sum(recurring_groups)
           FROM analytics.build_rollups
          WHERE project_id = $1 AND day = $2 AND branch = $3 AND job_name = $4
         HAVING count(*) > 0",
        &key,
    )
    .await?;
    tx.execute(
        "INSERT INTO analytics.daily_label_rollups (project_id, day, branch, job_name, label, failures)
         SELECT $1, $2, $3, $4, coalesce(g.label, f.label), count(*)
           FROM analytics.build_rollups b
           JOIN failure.analytics_failures f ON f.project_id = b.project_id AND f.build_id = b.build_id
           LEFT JOIN failure.analytics_groups g ON g.project_id = f.project_id AND g.id = f.group_id
          WHERE b.project_id = $1 AND b.day = $2 AND b.branch = $3 AND b.job_name = $4
            AND f.attempt = 0
          GROUP BY coalesce(g.label, f.label)",
        &key,
    )
    .await?;
    tx.execute(
        &format!(
            "INSERT INTO analytics.test_daily_rollups
                    (project_id, day, branch, job_name, test_id, runs, failures, flaky, skipped,
                     durations_ms, duration_buckets, duration_counts)
             SELECT $1, $2, $3, $4, t.test_id, t.runs, t.failures, t.flaky, t.skipped,
                    t.durations_ms, h.duration_buckets, h.duration_counts
               FROM (SELECT r.test_id,
                            count(*) FILTER (WHERE r.status <> 'skipped') AS runs,
                            count(*) FILTER (WHERE r.status IN ('failed', 'error')) AS failures,
                            count(*) FILTER (WHERE r.status = 'flaky') AS flaky,
                            count(*) FILTER (WHERE r.status = 'skipped') AS skipped,
                            coalesce(array_agg(r.duration_ms ORDER BY r.duration_ms)
                                     FILTER (WHERE r.status <> 'skipped'
                                               AND r.duration_ms IS NOT NULL),
                                     '{{}}') AS durations_ms
                       FROM analytics.build_rollups b
                       JOIN failure.analytics_test_results r
                         ON r.project_id = b.project_id AND r.build_id = b.build_id
                        AND r.build_created_at = b.created_at
                      WHERE b.project_id = $1 AND b.day = $2 AND b.branch = $3 AND b.job_name = $4
                      GROUP BY r.test_id) t
               {}",
            histogram_of("t.durations_ms")
        ),
        &key,
    )
    .await?;
    tx.execute(
        "INSERT INTO analytics.group_daily_rollups (project_id, day, branch, job_name, group_id, failures)
         SELECT $1, $2, $3, $4, f.group_id, count(*)
           FROM analytics.build_rollups b
           JOIN failure.analytics_failures f ON f.project_id = b.project_id AND f.build_id = b.build_id
          WHERE b.project_id = $1 AND b.day = $2 AND b.branch = $3 AND b.job_name = $4
            AND f.attempt = 0 AND f.group_id IS NOT NULL
          GROUP BY f.group_id",
        &key,
    )
    .await?;
    let change = Change::between(&before, &slice_fingerprint(tx, &key).await?);
    if change == Change::Changed {
        refresh_test_week(tx, &week_key).await?;
        refresh_test_totals(tx, project_id, slice.day, week).await?;
    }
    Ok(change)
}

/// Computes `group_id`'s row again: its label and status now, its first
/// status change (triage) and, while resolved, its latest move to
/// `resolved`. A group the view no longer shows loses its row.
#[tracing::instrument(skip_all, fields(project_id = %project_id, group_id = %group_id), err(level = "warn"))]
pub async fn refresh_group(
    tx: &TenantTx,
    project_id: Uuid,
    group_id: Uuid,
) -> Result<Change, DbError> {
    let state = "SELECT (label, status, first_seen_at, triaged_at, resolved_at)::text AS state
                   FROM analytics.group_rollups WHERE project_id = $1 AND group_id = $2";
    let read_state = || async {
        let row = tx.query_opt(state, &[&project_id, &group_id]).await?;
        row.map(|row| row.try_get::<_, String>("state"))
            .transpose()
            .map_err(DbError::from)
    };
    let before = read_state().await?;
    let updated = tx
        .execute(
            "WITH g AS (SELECT id, label, status, first_seen_at
                          FROM failure.analytics_groups
                         WHERE project_id = $1 AND id = $2),
                  a AS (SELECT min(created_at) FILTER (WHERE kind = 'status') AS triaged_at,
                               max(created_at) FILTER (WHERE kind = 'status'
                                                         AND new_value = 'resolved') AS resolved_at
                          FROM failure.analytics_group_activity
                         WHERE project_id = $1 AND group_id = $2)
             INSERT INTO analytics.group_rollups
                    (project_id, group_id, label, status, first_seen_at, triaged_at, resolved_at,
                     refreshed_at)
             SELECT $1, g.id, g.label, g.status, g.first_seen_at, a.triaged_at,
                    CASE WHEN g.status = 'resolved' THEN a.resolved_at END, clock_timestamp()
               FROM g CROSS JOIN a
             ON CONFLICT (project_id, group_id) DO UPDATE
                SET label = excluded.label, status = excluded.status,
                    first_seen_at = excluded.first_seen_at, triaged_at = excluded.triaged_at,
                    resolved_at = excluded.resolved_at, refreshed_at = excluded.refreshed_at",
            &[&project_id, &group_id],
        )
        .await?;
    if updated == 0 {
        tx.execute(
            "DELETE FROM analytics.group_rollups WHERE project_id = $1 AND group_id = $2",
            &[&project_id, &group_id],
        )
        .await?;
    }
    Ok(Change::between(&before, &read_state().await?))
}

/// The groups seen (first or last) from `since` on, those computed
/// longest ago (or never) first, at most `limit`.
#[tracing::instrument(skip_all, fields(project_id = %project_id), err(level = "warn"))]
pub async fn stalest_groups(
    tx: &TenantTx,
    project_id: Uuid,
    since: Option<NaiveDate>,
    limit: i64,
) -> Result<Vec<Uuid>, DbError> {
    let rows = tx
        .query(
            "SELECT g.id
               FROM failure.analytics_groups g
               LEFT JOIN analytics.group_rollups r ON r.project_id = $1 AND r.group_id = g.id
              WHERE g.project_id = $1
                AND ($2::date IS NULL
                     OR g.last_seen_at >= ($2::date)::timestamp AT TIME ZONE 'UTC'
                     OR r.refreshed_at IS NULL)
              ORDER BY r.refreshed_at NULLS FIRST, g.id
              LIMIT $3",
            &[&project_id, &since, &limit],
        )
        .await?;
    rows.iter()
        .map(|row| row.try_get("id"))
        .collect::<Result<_, tokio_postgres::Error>>()
        .map_err(DbError::from)
}

/// Computes the project's current counts again: groups neither resolved
/// nor muted, tests judged flaky, tests in quarantine (no row when all
/// are zero).
#[tracing::instrument(skip_all, fields(project_id = %project_id), err(level = "warn"))]
pub async fn refresh_project(tx: &TenantTx, project_id: Uuid) -> Result<Change, DbError> {
    // `project_counts` reads no row as zeros, which is how zeros are
    // stored (the row is deleted below).
    let before = project_counts(tx, project_id).await?;
    tx.execute(
        "INSERT INTO analytics.project_rollups
                (project_id, open_groups, flaky_tests, quarantined_tests, refreshed_at)
         SELECT $1,
                (SELECT count(*) FROM failure.analytics_groups
                  WHERE project_id = $1 AND status IN ('open', 'triaged')),
                (SELECT count(*) FROM failure.analytics_test_health
                  WHERE project_id = $1 AND state = 'flaky'),
                (SELECT count(*) FROM failure.analytics_quarantined_tests WHERE project_id = $1),
                clock_timestamp()
         ON CONFLICT (project_id) DO UPDATE
            SET open_groups = excluded.open_groups, flaky_tests = excluded.flaky_tests,
                quarantined_tests = excluded.quarantined_tests,
                refreshed_at = excluded.refreshed_at",
        &[&project_id],
    )
    .await?;
    // Nothing open, flaky or quarantined is the same as no row (readers
    // take zeros), so a project's state does not depend on whether an
    // event ever asked for it.
    tx.execute(
        "DELETE FROM analytics.project_rollups
          WHERE project_id = $1 AND open_groups = 0 AND flaky_tests = 0
            AND quarantined_tests = 0",
        &[&project_id],
    )
    .await?;
    Ok(Change::between(
        &before,
        &project_counts(tx, project_id).await?,
    ))
}

/// Applies what a batch of events asks for: the slices of the builds
/// they name and of the relabelled groups' failures, the groups, and the
/// project's counts. Slices are computed in key order, so two batches
/// touching the same slices take their locks in the same order.
pub async fn apply_refresh(
    tx: &TenantTx,
    project_id: Uuid,
    refresh: &Refresh,
) -> Result<(), DbError> {
    let mut slices = std::collections::BTreeSet::new();
    for build_id in &refresh.builds {
        slices.extend(slice_of_build(tx, project_id, *build_id).await?);
    }
    for group_id in &refresh.relabelled_groups {
        slices.extend(slices_of_group(tx, project_id, *group_id).await?);
    }
    let mut changes = Vec::new();
    for slice in &slices {
        changes.push(refresh_slice(tx, project_id, slice).await?);
    }
    for group_id in &refresh.groups {
        changes.push(refresh_group(tx, project_id, *group_id).await?);
    }
    if refresh.project {
        changes.push(refresh_project(tx, project_id).await?);
    }
    rollup_versions::bump_version_if(tx, project_id, Change::any(changes)).await
}

/// Throws away every rollup of the project and computes them all again
/// from the views: the from-scratch computation the incremental one must
/// equal, and a repair after a change of definitions.
#[tracing::instrument(skip_all, fields(project_id = %project_id), err(level = "warn"))]
pub async fn rebuild_project(tx: &TenantTx, project_id: Uuid) -> Result<(), DbError> {
    for table in [
        "rollup_slices",
        "build_rollups",
        "daily_rollups",
        "daily_label_rollups",
        "test_daily_rollups",
        "test_weekly_rollups",
        "test_daily_totals",
        "test_weekly_totals",
        "group_daily_rollups",
        "group_rollups",
        "project_rollups",
    ] {
        tx.execute(
            &format!("DELETE FROM analytics.{table} WHERE project_id = $1"),
            &[&project_id],
        )
        .await?;
    }
    for slice in stalest_slices(tx, project_id, None, i64::MAX).await? {
        let _ = refresh_slice(tx, project_id, &slice).await?;
    }
    for group_id in stalest_groups(tx, project_id, None, i64::MAX).await? {
        let _ = refresh_group(tx, project_id, group_id).await?;
    }
    let _ = refresh_project(tx, project_id).await?;
    // Everything was thrown away and computed again: readers must not
    // keep anything computed before, whatever it equals.
    rollup_versions::bump_version(tx, project_id).await
}

fn slice_from_row(row: &tokio_postgres::Row) -> Result<Slice, DbError> {
    Ok(Slice {
        day: row.try_get("day")?,
        branch: row.try_get("branch")?,
        job_name: row.try_get("job_name")?,
    })
}
