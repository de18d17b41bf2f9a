//! `failure.regroup_jobs` and the failures a regroup job reads and moves.
//!
//! A job is claimed in a transaction without a project that opts in to the
//! `regroup_claim_*` policies (it sees and leases unfinished jobs of every
//! project, and nothing else); everything after the claim runs in a
//! transaction confined to the job's project.

use chrono::{DateTime, Utc};
use tenant_core::{DbError, TenantTx};
use tokio_postgres::Row;
use uuid::Uuid;

use crate::domain::{ClaimedJob, RegroupJob};

const JOB_COLUMNS: &str =
    "id, state, since, created_at, started_at, finished_at, total, processed, moved, error";

fn regroup_job(row: &Row) -> Result<RegroupJob, tokio_postgres::Error> {
    Ok(RegroupJob {
        id: row.try_get("id")?,
        kind: "regroup",
        state: row.try_get("state")?,
        since: row.try_get("since")?,
        created_at: row.try_get("created_at")?,
        started_at: row.try_get("started_at")?,
        finished_at: row.try_get("finished_at")?,
        total: row.try_get("total")?,
        processed: row.try_get("processed")?,
        moved: row.try_get("moved")?,
        error: row.try_get("error")?,
    })
}

fn claimed_job(row: &Row) -> Result<ClaimedJob, tokio_postgres::Error> {
    let at: Option<DateTime<Utc>> = row.try_get("cursor_created_at")?;
    let id: Option<Uuid> = row.try_get("cursor_id")?;
    Ok(ClaimedJob {
        project_id: row.try_get("project_id")?,
        id: row.try_get("id")?,
        since: row.try_get("since")?,
        cursor: at.zip(id),
        attempts: row.try_get("attempts")?,
    })
}

/// Queues a job unless the project has one queued or running; either way
/// answers the project's active job and whether it was created now.
#[tracing::instrument(skip_all, fields(project_id = %project_id), err(level = "warn"))]
pub async fn queue_job(
    tx: &TenantTx,
    project_id: Uuid,
    since: DateTime<Utc>,
    requested_by: Uuid,
    now: DateTime<Utc>,
) -> Result<(RegroupJob, bool), DbError> {
    let id = Uuid::now_v7();
    let inserted = tx
        .query_opt(
            &format!(
                "INSERT INTO failure.regroup_jobs (project_id, id, state, since, requested_by, created_at)
                 VALUES ($1, $2, 'queued', $3, $4, $5)
                 ON CONFLICT (project_id) WHERE state IN ('queued', 'running') DO NOTHING
                 RETURNING {JOB_COLUMNS}"
            ),
            &[&project_id, &id, &since, &requested_by, &now],
        )
        .await?;
    if let Some(row) = inserted {
        return Ok((regroup_job(&row)?, true));
    }
    let row = tx
        .query_one(
            &format!(
                "SELECT {JOB_COLUMNS} FROM failure.regroup_jobs
                  WHERE project_id = $1 AND state IN ('queued', 'running')"
            ),
            &[&project_id],
        )
        .await?;
    Ok((regroup_job(&row)?, false))
}

#[tracing::instrument(skip_all, fields(project_id = %project_id, job_id = %job_id), err(level = "warn"))]
pub async fn get_job(
    tx: &TenantTx,
    project_id: Uuid,
    job_id: Uuid,
) -> Result<Option<RegroupJob>, DbError> {
    let row = tx
        .query_opt(
            &format!(
                "SELECT {JOB_COLUMNS} FROM failure.regroup_jobs WHERE project_id = $1 AND id = $2"
            ),
            &[&project_id, &job_id],
        )
        .await?;
    Ok(row.as_ref().map(regroup_job).transpose()?)
}

/// Claims the oldest job that is queued, or running with an expired lease
/// (its worker died), for `worker` until `lease_secs` from now, in a
/// transaction without a project (see the module documentation). Jobs
/// another worker is claiming at this moment are skipped, not waited for.
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn claim_job(
    tx: &TenantTx,
    worker: Uuid,
    lease_secs: f64,
) -> Result<Option<ClaimedJob>, DbError> {
    tx.execute("SELECT set_config('app.regroup_claim', 'claim', true)", &[])
        .await?;
    let row = tx
        .query_opt(
            "WITH next AS (
                 SELECT project_id, id FROM failure.regroup_jobs
                  WHERE state IN ('queued', 'running')
                    AND (lease_until IS NULL OR lease_until < clock_timestamp())
                  ORDER BY created_at
                  LIMIT 1
                    FOR UPDATE SKIP LOCKED
             )
             UPDATE failure.regroup_jobs j
                SET state = 'running', claimed_by = $1,
                    lease_until = clock_timestamp() + make_interval(secs => $2),
                    attempts = j.attempts + 1,
                    started_at = coalesce(j.started_at, clock_timestamp())
               FROM next
              WHERE j.project_id = next.project_id AND j.id = next.id
          RETURNING j.project_id, j.id, j.since, j.cursor_created_at, j.cursor_id, j.attempts",
            &[&worker, &lease_secs],
        )
        .await?;
    Ok(row.as_ref().map(claimed_job).transpose()?)
}

/// Renews `worker`'s lease on the job and locks its row until the
/// transaction ends: `None` when the worker lost the job (its lease
/// expired and another took it over, or it finished). A batch starts with
/// this, so two workers never write one job's batches at once. On the
/// first batch the failures to look at are counted.
#[tracing::instrument(skip_all, fields(project_id = %project_id, job_id = %job_id), err(level = "warn"))]
pub async fn renew_lease(
    tx: &TenantTx,
    project_id: Uuid,
    job_id: Uuid,
    worker: Uuid,
    lease_secs: f64,
) -> Result<Option<ClaimedJob>, DbError> {
    let row = tx
        .query_opt(
            "UPDATE failure.regroup_jobs j
                SET lease_until = clock_timestamp() + make_interval(secs => $4),
                    total = CASE WHEN j.cursor_created_at IS NULL
                                 THEN (SELECT count(*) FROM failure.failures f
                                        WHERE f.project_id = $1 AND f.created_at >= j.since)
                                 ELSE j.total END
              WHERE j.project_id = $1 AND j.id = $2 AND j.claimed_by = $3 AND j.state = 'running'
          RETURNING j.project_id, j.id, j.since, j.cursor_created_at, j.cursor_id, j.attempts",
            &[&project_id, &job_id, &worker, &lease_secs],
        )
        .await?;
    Ok(row.as_ref().map(claimed_job).transpose()?)
}

/// A stored failure as a regroup job reads it.
#[derive(Debug, Clone)]
pub struct StoredFailure {
    pub id: Uuid,
    pub created_at: DateTime<Utc>,
    pub message: Option<String>,
    pub stack_trace: Option<String>,
    pub group_id: Option<Uuid>,
}

/// The next `limit` failures recorded at or after `since`, oldest first,
/// after the keyset position `after`.
#[tracing::instrument(skip_all, fields(project_id = %project_id), err(level = "warn"))]
pub async fn failures_after(
    tx: &TenantTx,
    project_id: Uuid,
    since: DateTime<Utc>,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<StoredFailure>, DbError> {
    let (after_at, after_id) = after.unzip();
    let rows = tx
        .query(
            "SELECT id, created_at, message, stack_trace, group_id
               FROM failure.failures
              WHERE project_id = $1 AND created_at >= $2
                AND ($3::timestamptz IS NULL OR (created_at, id) > ($3, $4))
              ORDER BY created_at, id
              LIMIT $5",
            &[&project_id, &since, &after_at, &after_id, &limit],
        )
        .await?;
    rows.iter()
        .map(|row| {
            Ok(StoredFailure {
                id: row.try_get("id")?,
                created_at: row.try_get("created_at")?,
                message: row.try_get("message")?,
                stack_trace: row.try_get("stack_trace")?,
                group_id: row.try_get("group_id")?,
            })
        })
        .collect::<Result<_, tokio_postgres::Error>>()
        .map_err(DbError::from)
}

/// Points each failure of `failure_ids` at the group at the same position
/// of `group_ids`, in one statement; returns how many changed group.
#[tracing::instrument(skip_all, fields(project_id = %project_id, failures = failure_ids.len()), err(level = "warn"))]
pub async fn move_failures(
    tx: &TenantTx,
    project_id: Uuid,
    failure_ids: &[Uuid],
    group_ids: &[Uuid],
) -> Result<u64, DbError> {
    tx.execute(
        "UPDATE failure.failures f
            SET group_id = m.group_id
           FROM unnest($2::uuid[], $3::uuid[]) AS m(id, group_id)
          WHERE f.project_id = $1 AND f.id = m.id AND f.group_id IS DISTINCT FROM m.group_id",
        &[&project_id, &failure_ids, &group_ids],
    )
    .await
}

/// Records a batch done: the keyset position of its last failure and the
/// counts, in the batch's transaction.
#[tracing::instrument(skip_all, fields(project_id = %project_id, job_id = %job_id), err(level = "warn"))]
pub async fn record_progress(
    tx: &TenantTx,
    project_id: Uuid,
    job_id: Uuid,
    cursor: (DateTime<Utc>, Uuid),
    processed: i64,
    moved: i64,
) -> Result<(), DbError> {
    tx.execute(
        "UPDATE failure.regroup_jobs
            SET cursor_created_at = $3, cursor_id = $4,
                processed = processed + $5, moved = moved + $6
          WHERE project_id = $1 AND id = $2",
        &[
            &project_id,
            &job_id,
            &cursor.0,
            &cursor.1,
            &processed,
            &moved,
        ],
    )
    .await?;
    Ok(())
}

/// Ends the job: `succeeded`, or `failed` with `error`.
#[tracing::instrument(skip_all, fields(project_id = %project_id, job_id = %job_id), err(level = "warn"))]
pub async fn finish_job(
    tx: &TenantTx,
    project_id: Uuid,
    job_id: Uuid,
    error: Option<&str>,
) -> Result<(), DbError> {
    let state = if error.is_some() {
        "failed"
    } else {
        "succeeded"
    };
    tx.execute(
        "UPDATE failure.regroup_jobs
            SET state = $3, error = $4, finished_at = clock_timestamp(),
                claimed_by = NULL, lease_until = NULL
          WHERE project_id = $1 AND id = $2",
        &[&project_id, &job_id, &state, &error],
    )
    .await?;
    Ok(())
}
