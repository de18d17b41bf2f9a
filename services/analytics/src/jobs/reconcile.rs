//! The periodic reconciliation: rollups computed again from the failure
//! service's views, whatever events said, so a change that published no
//! event (an upload to a finished build, a label learned by a similar
//! group, a quarantine lifted) shows within a bounded time.
//!
//! Every `service.reconcile_interval_secs`, for each project that has
//! rollups, it computes again the `reconcile_slices_per_round` slices and
//! `reconcile_groups_per_round` groups of the last `reconcile_days` days
//! that were computed longest ago (never computed first), and the
//! project's counts, in one transaction per project. A round's work is
//! therefore bounded, and every recent slice comes round again after
//! (slices / per-round) rounds. What a round finds unchanged it does not
//! pass on: a slice's week and test totals are computed again, and the
//! project's rollup version increased, only when something differed.

use std::sync::Weak;
use std::time::Duration;

use chrono::{Days, Utc};
use tenant_core::error::error_chain;
use tenant_core::{Db, DbError};
use uuid::Uuid;

use crate::repository::rollup_versions;
use crate::repository::rollups::{self, Change};
use crate::settings::AnalyticsSettings;

/// What one round computed again.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReconcileRound {
    pub projects: u64,
    pub slices: u64,
    pub groups: u64,
}

/// Reconciles the rollups of every project that has some.
#[derive(Debug)]
pub struct Reconciler {
    db: Db,
    days: u64,
    slices_per_round: i64,
    groups_per_round: i64,
}

impl Reconciler {
    pub fn new(db: Db, settings: &AnalyticsSettings) -> Self {
        Self {
            db,
            days: settings.reconcile_days,
            slices_per_round: settings.reconcile_slices_per_round,
            groups_per_round: settings.reconcile_groups_per_round,
        }
    }

    /// One round over every project with rollups.
    #[tracing::instrument(name = "reconcile_rollups", skip_all, err(level = "warn"))]
    pub async fn reconcile_once(&self) -> Result<ReconcileRound, DbError> {
        let tx = self.db.unscoped_tx().await?;
        let rows = tx
            .query(
                "SELECT project_id FROM analytics.rollup_projects ORDER BY oldest_refreshed_at",
                &[],
            )
            .await?;
        tx.commit().await?;
        let mut round = ReconcileRound::default();
        for row in &rows {
            let project_id: Uuid = row.try_get("project_id")?;
            let (slices, groups) = self.reconcile_project(project_id).await?;
            round.projects += 1;
            round.slices += slices;
            round.groups += groups;
        }
        Ok(round)
    }

    /// One project's share of a round.
    #[tracing::instrument(skip_all, fields(project_id = %project_id), err(level = "warn"))]
    pub async fn reconcile_project(&self, project_id: Uuid) -> Result<(u64, u64), DbError> {
        let since = Utc::now()
            .date_naive()
            .checked_sub_days(Days::new(self.days));
        let tx = self.db.worker_tx(project_id).await?;
        // Computed in key order, as the inbox does, so a round and an event
        // touching the same slices or groups take their row locks in the
        // same order and never deadlock.
        let mut slices =
            rollups::stalest_slices(&tx, project_id, since, self.slices_per_round).await?;
        slices.sort();
        let mut changes = Vec::with_capacity(slices.len() + 1);
        for slice in &slices {
            changes.push(rollups::refresh_slice(&tx, project_id, slice).await?);
        }
        let mut groups =
            rollups::stalest_groups(&tx, project_id, since, self.groups_per_round).await?;
        groups.sort();
        for group_id in &groups {
            changes.push(rollups::refresh_group(&tx, project_id, *group_id).await?);
        }
        changes.push(rollups::refresh_project(&tx, project_id).await?);
        // A round that found everything as it was leaves the version, so
        // the rankings kept for it stay valid.
        rollup_versions::bump_version_if(&tx, project_id, Change::any(changes)).await?;
        tx.commit().await?;
        Ok((slices.len() as u64, groups.len() as u64))
    }
}

/// Reconciles every `interval` for as long as the reconciler exists;
/// failures are logged and the next round tries again.
pub fn spawn_reconciler(reconciler: Weak<Reconciler>, interval: Duration) {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(interval).await;
            let Some(current) = reconciler.upgrade() else {
                return;
            };
            match current.reconcile_once().await {
                Ok(round) if round.slices + round.groups > 0 => {
                    tracing::debug!(?round, "rollups reconciled");
                }
                Ok(_) => {}
                Err(error) => {
                    tracing::warn!(error = %error_chain(&error), "rollups not reconciled")
                }
            }
        }
    });
}
