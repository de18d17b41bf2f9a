//! `failure.builds`: a project's builds and the totals of their uploads.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use tenant_core::{DbError, TenantTx};
use tokio_postgres::Row;
use uuid::Uuid;

use crate::domain::{
    Build, BuildFilter, BuildStatus, BuildTotals, BuildVerdict, CommitSha, NewBuild,
};
use crate::junit::Counts;

const BUILD_COLUMNS: &str = "id, job_name, external_id, number, branch, commit_sha, url, status, \
     started_at, finished_at, created_at, updated_at, tests_total, passed, failures, errors, \
     skipped, flaky, duration_ms, infrastructure_outage";

/// [`BUILD_COLUMNS`] of the builds table aliased `b`, for an `UPDATE ...
/// FROM` whose other table has columns of the same names.
static BUILD_COLUMNS_OF_B: LazyLock<String> = LazyLock::new(|| {
    BUILD_COLUMNS
        .split(", ")
        .map(|column| format!("b.{column}"))
        .collect::<Vec<_>>()
        .join(", ")
});

/// A build as stored; its verdict counts no quarantined failures until
/// [`apply_verdicts`] says how many it has.
fn build_from_row(row: &Row) -> Result<Build, tokio_postgres::Error> {
    let totals = BuildTotals {
        tests: row.try_get("tests_total")?,
        passed: row.try_get("passed")?,
        failures: row.try_get("failures")?,
        errors: row.try_get("errors")?,
        skipped: row.try_get("skipped")?,
        flaky: row.try_get("flaky")?,
        duration_ms: row.try_get("duration_ms")?,
    };
    Ok(Build {
        id: row.try_get("id")?,
        job_name: row.try_get("job_name")?,
        external_id: row.try_get("external_id")?,
        number: row.try_get("number")?,
        branch: row.try_get("branch")?,
        commit_sha: row.try_get("commit_sha")?,
        url: row.try_get("url")?,
        status: row.try_get("status")?,
        started_at: row.try_get("started_at")?,
        finished_at: row.try_get("finished_at")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        infrastructure_outage: row.try_get("infrastructure_outage")?,
        verdict: BuildVerdict::of(&totals, 0),
        totals,
    })
}

fn optional_build(row: Option<Row>) -> Result<Option<Build>, DbError> {
    Ok(row.as_ref().map(build_from_row).transpose()?)
}

/// Creates the build, or returns the one with the same job and external
/// id; `true` when it was created.
#[tracing::instrument(skip_all, fields(project_id = %project_id), err(level = "warn"))]
pub async fn create_build(
    tx: &TenantTx,
    project_id: Uuid,
    build: &NewBuild,
) -> Result<(Build, bool), DbError> {
    let inserted = tx
        .query_opt(
            &format!(
                "INSERT INTO failure.builds
                    (project_id, id, job_name, external_id, number, branch, commit_sha, url, started_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                 ON CONFLICT ON CONSTRAINT builds_external_id_key DO NOTHING
                 RETURNING {BUILD_COLUMNS}"
            ),
            &[
                &project_id,
                &Uuid::now_v7(),
                &build.job_name.as_str(),
                &build.external_id.as_str(),
                &build.number,
                &build.branch,
                &build.commit_sha.as_ref().map(CommitSha::as_str),
                &build.url,
                &build.started_at,
            ],
        )
        .await?;
    if let Some(row) = inserted {
        return Ok((build_from_row(&row)?, true));
    }
    let existing = tx
        .query_one(
            &format!(
                "SELECT {BUILD_COLUMNS} FROM failure.builds
                  WHERE project_id = $1 AND job_name = $2 AND external_id = $3"
            ),
            &[
                &project_id,
                &build.job_name.as_str(),
                &build.external_id.as_str(),
            ],
        )
        .await?;
    Ok((build_from_row(&existing)?, false))
}

#[tracing::instrument(skip_all, fields(project_id = %project_id, build_id = %build_id), err(level = "warn"))]
pub async fn get_build(
    tx: &TenantTx,
    project_id: Uuid,
    build_id: Uuid,
) -> Result<Option<Build>, DbError> {
    let row = tx
        .query_opt(
            &format!(
                "SELECT {BUILD_COLUMNS} FROM failure.builds WHERE project_id = $1 AND id = $2"
            ),
            &[&project_id, &build_id],
        )
        .await?;
    optional_build(row)
}

/// The build, locked until the transaction ends: uploads to one build run
/// one after the other, so totals and idempotency records stay exact.
#[tracing::instrument(skip_all, fields(project_id = %project_id, build_id = %build_id), err(level = "warn"))]
pub async fn lock_build(
    tx: &TenantTx,
    project_id: Uuid,
    build_id: Uuid,
) -> Result<Option<Build>, DbError> {
    let row = tx
        .query_opt(
            &format!(
                "SELECT {BUILD_COLUMNS} FROM failure.builds
                  WHERE project_id = $1 AND id = $2 FOR UPDATE"
            ),
            &[&project_id, &build_id],
        )
        .await?;
    optional_build(row)
}

/// Sets the build's status (and when it finished), returning it with the
/// status it had before: a build that goes from `running` to a finished
/// status has completed (`build.completed`).
#[tracing::instrument(skip_all, fields(project_id = %project_id, build_id = %build_id), err(level = "warn"))]
pub async fn finish_build(
    tx: &TenantTx,
    project_id: Uuid,
    build_id: Uuid,
    status: BuildStatus,
    finished_at: Option<DateTime<Utc>>,
) -> Result<Option<(Build, BuildStatus)>, DbError> {
    let row = tx
        .query_opt(
            &format!(
                "WITH before AS (
                     SELECT status FROM failure.builds
                      WHERE project_id = $1 AND id = $2
                        FOR UPDATE
                 )
                 UPDATE failure.builds b
                    SET status = $3,
                        finished_at = CASE WHEN $3 = 'running' THEN NULL
                                           ELSE coalesce($4, b.finished_at, now()) END,
                        updated_at = now()
                   FROM before
                  WHERE b.project_id = $1 AND b.id = $2
                  RETURNING {}, before.status AS previous_status",
                *BUILD_COLUMNS_OF_B
            ),
            &[&project_id, &build_id, &status.as_str(), &finished_at],
        )
        .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let build = build_from_row(&row)?;
    let previous: BuildStatus = row.try_get("previous_status")?;
    Ok(Some((build, previous)))
}

/// The groups first seen in this build: of the groups of its failures,
/// those whose earliest failure belongs to it. One statement, through
/// `failures_build_test_key` and `failures_group_recent_idx`.
#[tracing::instrument(skip_all, fields(project_id = %project_id, build_id = %build_id), err(level = "warn"))]
pub async fn groups_first_seen_in(
    tx: &TenantTx,
    project_id: Uuid,
    build_id: Uuid,
) -> Result<Vec<Uuid>, DbError> {
    let rows = tx
        .query(
            "SELECT g.group_id
               FROM (SELECT DISTINCT f.group_id
                       FROM failure.failures f
                      WHERE f.project_id = $1 AND f.build_id = $2 AND f.group_id IS NOT NULL) g
              CROSS JOIN LATERAL (
                    SELECT first.build_id
                      FROM failure.failures first
                     WHERE first.project_id = $1 AND first.group_id = g.group_id
                     ORDER BY first.created_at, first.id
                     LIMIT 1
                   ) earliest
              WHERE earliest.build_id = $2
              ORDER BY g.group_id",
            &[&project_id, &build_id],
        )
        .await?;
    rows.iter()
        .map(|row| row.try_get("group_id"))
        .collect::<Result<_, tokio_postgres::Error>>()
        .map_err(DbError::from)
}

/// Builds newest first, after the cursor `(created_at, id)`.
#[tracing::instrument(skip_all, fields(project_id = %project_id), err(level = "warn"))]
pub async fn list_builds(
    tx: &TenantTx,
    project_id: Uuid,
    filter: &BuildFilter,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<Build>, DbError> {
    let (after_at, after_id) = after.unzip();
    let rows = tx
        .query(
            &format!(
                "SELECT {BUILD_COLUMNS} FROM failure.builds
                  WHERE project_id = $1
                    AND ($2::text IS NULL OR job_name = $2)
                    AND ($3::text IS NULL OR branch = $3)
                    AND ($4::text IS NULL OR status = $4)
                    AND ($5::timestamptz IS NULL OR created_at >= $5)
                    AND ($6::timestamptz IS NULL OR created_at < $6)
                    AND ($7::timestamptz IS NULL OR (created_at, id) < ($7, $8))
                  ORDER BY created_at DESC, id DESC
                  LIMIT $9"
            ),
            &[
                &project_id,
                &filter.job,
                &filter.branch,
                &filter.status.map(BuildStatus::as_str),
                &filter.since,
                &filter.until,
                &after_at,
                &after_id,
                &limit,
            ],
        )
        .await?;
    Ok(rows.iter().map(build_from_row).collect::<Result<_, _>>()?)
}

/// Recounts the build's totals from its results (all uploads so far),
/// after adding `unlisted`, this upload's outcomes stated by suites that
/// list no test cases (kept apart, since they have no results to recount).
#[tracing::instrument(skip_all, fields(project_id = %project_id, build_id = %build_id), err(level = "warn"))]
pub async fn refresh_build_totals(
    tx: &TenantTx,
    project_id: Uuid,
    build_id: Uuid,
    build_created_at: DateTime<Utc>,
    unlisted: &Counts,
) -> Result<Build, DbError> {
    let count = |value: u64| i64::try_from(value).unwrap_or(i64::MAX);
    let (tests, passed, failures, errors, skipped) = (
        count(unlisted.tests),
        count(unlisted.passed),
        count(unlisted.failures),
        count(unlisted.errors),
        count(unlisted.skipped),
    );
    let row = tx
        .query_one(
            &format!(
                "WITH totals AS (
                    SELECT count(*) AS tests_total,
                           count(*) FILTER (WHERE status = 'passed') AS passed,
                           count(*) FILTER (WHERE status = 'failed') AS failures,
                           count(*) FILTER (WHERE status = 'error') AS errors,
                           count(*) FILTER (WHERE status = 'skipped') AS skipped,
                           count(*) FILTER (WHERE status = 'flaky') AS flaky,
                           coalesce(sum(duration_ms), 0)::bigint AS duration_ms
                      FROM failure.test_results
                     WHERE project_id = $1 AND build_id = $2 AND build_created_at = $3)
                 UPDATE failure.builds b
                    SET unlisted_tests = b.unlisted_tests + $4,
                        unlisted_passed = b.unlisted_passed + $5,
                        unlisted_failures = b.unlisted_failures + $6,
                        unlisted_errors = b.unlisted_errors + $7,
                        unlisted_skipped = b.unlisted_skipped + $8,
                        tests_total = t.tests_total + b.unlisted_tests + $4,
                        passed = t.passed + b.unlisted_passed + $5,
                        failures = t.failures + b.unlisted_failures + $6,
                        errors = t.errors + b.unlisted_errors + $7,
                        skipped = t.skipped + b.unlisted_skipped + $8,
                        flaky = t.flaky, duration_ms = t.duration_ms, updated_at = now()
                   FROM totals t
                  WHERE b.project_id = $1 AND b.id = $2
                  RETURNING {}",
                *BUILD_COLUMNS_OF_B
            ),
            &[
                &project_id,
                &build_id,
                &build_created_at,
                &tests,
                &passed,
                &failures,
                &errors,
                &skipped,
            ],
        )
        .await?;
    Ok(build_from_row(&row)?)
}

/// Sets each build's verdict: how many of its failing results belong to
/// tests quarantined now, in one statement that probes each quarantined
/// test's result in each build (the quarantine list is short; a build's
/// results are many).
#[tracing::instrument(skip_all, fields(project_id = %project_id, builds = builds.len()), err(level = "warn"))]
pub async fn apply_verdicts(
    tx: &TenantTx,
    project_id: Uuid,
    builds: &mut [Build],
) -> Result<(), DbError> {
    if builds.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = builds.iter().map(|b| b.id).collect();
    let created: Vec<DateTime<Utc>> = builds.iter().map(|b| b.created_at).collect();
    let rows = tx
        .query(
            "SELECT b.id, count(r.test_id) AS quarantined_failures
               FROM unnest($2::uuid[], $3::timestamptz[]) AS b(id, created_at)
               LEFT JOIN failure.quarantined_tests q ON q.project_id = $1
               LEFT JOIN failure.test_results r
                      ON r.project_id = $1 AND r.build_id = b.id
                     AND r.build_created_at = b.created_at AND r.test_id = q.test_id
                     AND r.status IN ('failed', 'error')
              GROUP BY b.id",
            &[&project_id, &ids, &created],
        )
        .await?;
    for row in &rows {
        let id: Uuid = row.try_get("id")?;
        let quarantined: i64 = row.try_get("quarantined_failures")?;
        if let Some(build) = builds.iter_mut().find(|b| b.id == id) {
            build.verdict = BuildVerdict::of(&build.totals, quarantined);
        }
    }
    Ok(())
}

/// Marks the build as an infrastructure outage: health queries skip its
/// results from now on.
#[tracing::instrument(skip_all, fields(project_id = %project_id, build_id = %build_id), err(level = "warn"))]
pub async fn mark_infrastructure_outage(
    tx: &TenantTx,
    project_id: Uuid,
    build_id: Uuid,
) -> Result<(), DbError> {
    tx.execute(
        "UPDATE failure.builds SET infrastructure_outage = true
          WHERE project_id = $1 AND id = $2 AND NOT infrastructure_outage",
        &[&project_id, &build_id],
    )
    .await?;
    Ok(())
}
