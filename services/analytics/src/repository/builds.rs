//! One build's data as the failure service publishes it
//! (`failure.gate_builds`, `gate_test_results`, `gate_failures`, views of
//! `migrations/failure/0011_gate_views.sql`): the build, its baseline and
//! its results beside another build's. Row level security applies through
//! the views, so another project's build is simply not there.

use chrono::{DateTime, Utc};
use tenant_core::{DbError, TenantTx};
use tokio_postgres::Row;
use uuid::Uuid;

use crate::domain::comparison::{BuildSnapshot, BuildTotals, GroupRef, ResultPair, test_title};

const BUILD_COLUMNS: &str = "id, job_name, branch, commit_sha, url, status, created_at, \
     tests_total, passed, failures, errors, skipped, flaky";

fn build(row: &Row) -> Result<BuildSnapshot, tokio_postgres::Error> {
    Ok(BuildSnapshot {
        id: row.try_get("id")?,
        job_name: row.try_get("job_name")?,
        branch: row.try_get("branch")?,
        commit_sha: row.try_get("commit_sha")?,
        url: row.try_get("url")?,
        status: row.try_get("status")?,
        created_at: row.try_get("created_at")?,
        totals: BuildTotals {
            tests: row.try_get("tests_total")?,
            passed: row.try_get("passed")?,
            failures: row.try_get("failures")?,
            errors: row.try_get("errors")?,
            skipped: row.try_get("skipped")?,
            flaky: row.try_get("flaky")?,
        },
    })
}

/// The build, if it is one of the project's.
#[tracing::instrument(skip_all, fields(project_id = %project_id, build_id = %build_id), err(level = "warn"))]
pub async fn find_build(
    tx: &TenantTx,
    project_id: Uuid,
    build_id: Uuid,
) -> Result<Option<BuildSnapshot>, DbError> {
    let row = tx
        .query_opt(
            &format!(
                "SELECT {BUILD_COLUMNS} FROM failure.gate_builds
                  WHERE project_id = $1 AND id = $2"
            ),
            &[&project_id, &build_id],
        )
        .await?;
    Ok(row.as_ref().map(build).transpose()?)
}

/// The build's baseline: the last good (`passed`) build of the same job
/// on the same branch created before it. The one definition both the
/// comparison's default and the gate's `max_newly_failing` use. Served by
/// `builds_job_recent_idx` (project, job, newest first).
#[tracing::instrument(skip_all, fields(project_id = %project_id, build_id = %of.id), err(level = "warn"))]
pub async fn last_good_build(
    tx: &TenantTx,
    project_id: Uuid,
    of: &BuildSnapshot,
) -> Result<Option<BuildSnapshot>, DbError> {
    let branch = match of.branch {
        Some(_) => "branch = $3",
        None => "branch IS NULL AND $3::text IS NULL",
    };
    let row = tx
        .query_opt(
            &format!(
                "SELECT {BUILD_COLUMNS} FROM failure.gate_builds
                  WHERE project_id = $1 AND job_name = $2 AND {branch}
                    AND status = 'passed'
                    AND (created_at, id) < ($4, $5)
                  ORDER BY created_at DESC, id DESC
                  LIMIT 1"
            ),
            &[
                &project_id,
                &of.job_name,
                &of.branch,
                &of.created_at,
                &of.id,
            ],
        )
        .await?;
    Ok(row.as_ref().map(build).transpose()?)
}

/// The tests a comparison of `current` with `other` can place in a set
/// (failing or skipped in `current`, failing in `other`), each with its
/// outcome in both; with no `other`, only `current`'s. Each side reads
/// one build's results in one partition; the other side's outcome is a
/// primary-key probe.
#[tracing::instrument(skip_all, fields(project_id = %project_id, build_id = %current.id), err(level = "warn"))]
pub async fn result_pairs(
    tx: &TenantTx,
    project_id: Uuid,
    current: &BuildSnapshot,
    other: Option<&BuildSnapshot>,
) -> Result<Vec<ResultPair>, DbError> {
    let (other_id, other_created): (Option<Uuid>, Option<DateTime<Utc>>) =
        (other.map(|b| b.id), other.map(|b| b.created_at));
    let rows = tx
        .query(
            "WITH cur AS (
                 SELECT test_id, status, suite, classname, name
                   FROM failure.gate_test_results
                  WHERE project_id = $1 AND build_id = $2 AND build_created_at = $3
                    AND status IN ('failed', 'error', 'skipped')),
             oth AS (
                 SELECT test_id, status, suite, classname, name
                   FROM failure.gate_test_results
                  WHERE project_id = $1 AND build_id = $4 AND build_created_at = $5
                    AND status IN ('failed', 'error'))
             SELECT c.test_id, c.suite, c.classname, c.name, c.status AS current_status,
                    (SELECT o.status FROM failure.gate_test_results o
                      WHERE o.project_id = $1 AND o.build_id = $4 AND o.build_created_at = $5
                        AND o.test_id = c.test_id) AS other_status
               FROM cur c
             UNION ALL
             SELECT o.test_id, o.suite, o.classname, o.name,
                    (SELECT c.status FROM failure.gate_test_results c
                      WHERE c.project_id = $1 AND c.build_id = $2 AND c.build_created_at = $3
                        AND c.test_id = o.test_id) AS current_status,
                    o.status AS other_status
               FROM oth o
              WHERE NOT EXISTS (SELECT 1 FROM cur WHERE cur.test_id = o.test_id)
             ORDER BY suite, classname, name, test_id",
            &[
                &project_id,
                &current.id,
                &current.created_at,
                &other_id,
                &other_created,
            ],
        )
        .await?;
    Ok(rows.iter().map(result_pair).collect::<Result<_, _>>()?)
}

fn result_pair(row: &Row) -> Result<ResultPair, tokio_postgres::Error> {
    let suite: String = row.try_get("suite")?;
    let classname: String = row.try_get("classname")?;
    let name: String = row.try_get("name")?;
    Ok(ResultPair {
        test_id: row.try_get("test_id")?,
        test: test_title(&suite, &classname, &name),
        current: row.try_get("current_status")?,
        other: row.try_get("other_status")?,
    })
}

/// Groups of `current`'s failing outcomes (attempt 0) that none of
/// `other`'s failures (any attempt) belongs to; with no `other`, all of
/// `current`'s.
#[tracing::instrument(skip_all, fields(project_id = %project_id, build_id = %current), err(level = "warn"))]
pub async fn groups_not_in(
    tx: &TenantTx,
    project_id: Uuid,
    current: Uuid,
    other: Option<Uuid>,
) -> Result<Vec<GroupRef>, DbError> {
    let rows = tx
        .query(
            "SELECT DISTINCT ON (f.group_id) f.group_id, f.group_label, f.group_status
               FROM failure.gate_failures f
              WHERE f.project_id = $1 AND f.build_id = $2 AND f.attempt = 0
                AND f.group_id IS NOT NULL
                AND NOT EXISTS (SELECT 1 FROM failure.gate_failures o
                                 WHERE o.project_id = $1 AND o.group_id = f.group_id
                                   AND o.build_id = $3)
              ORDER BY f.group_id",
            &[&project_id, &current, &other],
        )
        .await?;
    rows.iter()
        .map(|row| {
            Ok(GroupRef {
                group_id: row.try_get("group_id")?,
                label: row.try_get("group_label")?,
                status: row.try_get("group_status")?,
            })
        })
        .collect::<Result<_, tokio_postgres::Error>>()
        .map_err(DbError::from)
}
