//! The regroup worker.
//!
//! A job is claimed with `FOR UPDATE SKIP LOCKED` in a short transaction
//! that has no project: it may see the unfinished jobs of every project
//! through the `regroup_claim_*` policies, and nothing else. The claim is a
//! lease (`service.regroup_lease_secs`): a worker that dies stops renewing
//! it, and once it has expired another worker takes the job over. Each
//! batch then runs in its own transaction confined to the job's project:
//! it renews the lease (and locks the job's row, so two workers never
//! write one job's batches at once; a worker that lost its lease stops),
//! reads the next failures by keyset, recomputes their signatures under
//! the current grouping rules and the project's settings, inserts the
//! groups that are missing, moves the failures and records its position.
//! A job taken over resumes after the last batch committed. Running a job
//! twice gives the same groups: each failure's group depends only on its
//! own text, the rules, and the groups that exist. A job claimed more than
//! [`MAX_REGROUP_ATTEMPTS`] times (its workers kept dying or failing) is
//! marked `failed` instead of being run again.

use std::sync::Weak;
use std::time::Duration;

use chrono::Utc;
use tenant_core::Db;
use uuid::Uuid;

use crate::domain::classification::{CompiledRule, LabelledGroups, UploadClassifier};
use crate::domain::{
    ClaimedJob, FailureKind, FailureRow, GroupScope, MAX_REGROUP_ATTEMPTS, SimilarGroups,
    batch_groups,
};
use crate::error::FailureError;
use crate::repository::classification_rules;
use crate::repository::grouping_settings::get_grouping_settings;
use crate::repository::groups::{self, insert_groups, refresh_group_figures};
use crate::repository::regroup_jobs::{self, StoredFailure};
use crate::upload::similar::join_similar_in_batch;

/// Claims and runs regroup jobs.
#[derive(Debug)]
pub struct RegroupWorker {
    db: Db,
    /// This worker's id in `claimed_by`, new at every start.
    id: Uuid,
    batch_size: i64,
    lease_secs: f64,
}

impl RegroupWorker {
    pub fn new(db: Db, batch_size: i64, lease_secs: u64) -> Self {
        Self {
            db,
            id: Uuid::now_v7(),
            batch_size,
            lease_secs: lease_secs as f64,
        }
    }

    /// Claims one job and runs it to its end (or until the lease is lost);
    /// `true` when there was a job.
    #[tracing::instrument(name = "regroup_once", skip_all, fields(worker = %self.id))]
    pub async fn run_once(&self) -> Result<bool, FailureError> {
        let tx = self.db.unscoped_tx().await?;
        let claimed = regroup_jobs::claim_job(&tx, self.id, self.lease_secs).await?;
        tx.commit().await?;
        let Some(job) = claimed else {
            return Ok(false);
        };
        tracing::info!(project_id = %job.project_id, job_id = %job.id, attempt = job.attempts, "regroup job claimed");
        if job.attempts > MAX_REGROUP_ATTEMPTS {
            let tx = self.db.worker_tx(job.project_id).await?;
            let error = format!("stopped after {MAX_REGROUP_ATTEMPTS} attempts");
            regroup_jobs::finish_job(&tx, job.project_id, job.id, Some(&error)).await?;
            tx.commit().await?;
            tracing::warn!(job_id = %job.id, "regroup job failed: {error}");
            return Ok(true);
        }
        let mut similar = SimilarGroups::default();
        let mut context = None;
        while self.run_batch(&job, &mut context, &mut similar).await? {}
        Ok(true)
    }

    /// One batch in one transaction; `false` when the job is done or was
    /// lost.
    async fn run_batch(
        &self,
        job: &ClaimedJob,
        context: &mut Option<JobContext>,
        similar: &mut SimilarGroups,
    ) -> Result<bool, FailureError> {
        let project_id = job.project_id;
        let tx = self.db.worker_tx(project_id).await?;
        let Some(current) =
            regroup_jobs::renew_lease(&tx, project_id, job.id, self.id, self.lease_secs).await?
        else {
            tx.rollback().await?;
            tracing::warn!(job_id = %job.id, "regroup job lost to another worker");
            return Ok(false);
        };
        if context.is_none() {
            *context = Some(JobContext::load(&tx, project_id).await?);
        }
        let Some(context) = context.as_mut() else {
            return Ok(false);
        };
        let scope = context.scope.clone();
        let failures = regroup_jobs::failures_after(
            &tx,
            project_id,
            current.since,
            current.cursor,
            self.batch_size,
        )
        .await?;
        let Some(last) = failures.last().map(|f| (f.created_at, f.id)) else {
            regroup_jobs::finish_job(&tx, project_id, job.id, None).await?;
            tx.commit().await?;
            tracing::info!(job_id = %job.id, "regroup job done");
            return Ok(false);
        };
        let ids: Vec<Uuid> = failures.iter().map(|f| f.id).collect();
        let previous_groups: Vec<Uuid> = failures.iter().filter_map(|f| f.group_id).collect();
        let mut rows = tokio::task::spawn_blocking(move || regrouped(&scope, failures))
            .await
            .map_err(|_| FailureError::ParserCrashed)?;
        join_similar_in_batch(&tx, project_id, similar, rows.iter_mut()).await?;
        let new_groups = batch_groups(&rows);
        let classes = context.classifier.classify_groups(&rows, &new_groups);
        insert_groups(&tx, project_id, Utc::now(), &new_groups, &classes).await?;
        let group_ids: Vec<Uuid> = rows.iter().map(|row| row.group_id).collect();
        let moved = regroup_jobs::move_failures(&tx, project_id, &ids, &group_ids).await?;
        // The figures of the groups failures left and of those they joined.
        let mut touched: Vec<Uuid> = group_ids.iter().copied().chain(previous_groups).collect();
        touched.sort_unstable();
        touched.dedup();
        refresh_group_figures(&tx, project_id, &touched).await?;
        // Re-analysis: the batch's groups labelled under today's rules.
        groups::reanalyse_groups(&tx, project_id, &new_groups, &classes).await?;
        let processed = i64::try_from(ids.len()).unwrap_or(i64::MAX);
        let moved = i64::try_from(moved).unwrap_or(i64::MAX);
        regroup_jobs::record_progress(&tx, project_id, job.id, last, processed, moved).await?;
        tx.commit().await?;
        Ok(true)
    }
}

/// What a job reads once, in its first batch: the project's grouping
/// settings and what classifies the groups it creates (the project's
/// rules and user-labelled groups; no flaky evidence outside an upload).
#[derive(Debug)]
struct JobContext {
    scope: GroupScope,
    classifier: UploadClassifier,
}

impl JobContext {
    async fn load(tx: &tenant_core::TenantTx, project_id: Uuid) -> Result<Self, FailureError> {
        let rules = get_grouping_settings(tx, project_id).await?.rules();
        let classification = classification_rules::list_rules(tx, project_id).await?;
        let labelled = groups::user_labelled_groups(tx, project_id).await?;
        Ok(Self {
            scope: GroupScope { project_id, rules },
            classifier: UploadClassifier::new(
                CompiledRule::compile_all(&classification),
                LabelledGroups::new(labelled),
                Default::default(),
            ),
        })
    }
}

/// The failures with their signatures under `scope`'s rules: CPU work,
/// off the async runtime.
fn regrouped(scope: &GroupScope, failures: Vec<StoredFailure>) -> Vec<FailureRow> {
    failures
        .into_iter()
        .map(|failure| {
            FailureRow::new(
                scope,
                FailureKind::Failure,
                None,
                failure.message,
                failure.stack_trace,
                None,
                None,
            )
        })
        .collect()
}

/// Runs jobs for as long as the worker exists: at once while jobs are
/// waiting, else every `interval`, the first time one `interval` after
/// the start (a job queued meanwhile waits for it). Failures are logged;
/// the job they hit is retried when its lease expires.
pub fn spawn_regroup_worker(worker: Weak<RegroupWorker>, interval: Duration) {
    tokio::spawn(async move {
        let mut more = false;
        loop {
            if !more {
                tokio::time::sleep(interval).await;
            }
            let Some(current) = worker.upgrade() else {
                return;
            };
            more = match current.run_once().await {
                Ok(more) => more,
                Err(error) => {
                    tracing::warn!(error = %tenant_core::error::error_chain(&error), "regroup job interrupted");
                    false
                }
            };
            drop(current);
        }
    });
}
