//! What other services learn from the auth service outside a user's
//! request: the revocation feed the gateway polls, a session's status for
//! a gateway whose feed is stale, and the project service's reports of
//! members whose role changed (which may revoke the keys they created).

use serde::{Deserialize, Serialize};
use serde_json::json;
use tenant_core::Role;
use uuid::Uuid;

use crate::error::AuthError;
use crate::flows::AuthState;
use crate::repo::{self, RevocationSlice};

/// A member's access to a project as the project service saw it after its
/// change `as_of_seq`: the role, or none (removed, or the project is gone).
#[derive(Debug, Clone, Deserialize)]
pub struct MemberAccess {
    pub project_id: Uuid,
    pub user_id: Uuid,
    pub role: Option<Role>,
    pub as_of_seq: i64,
}

/// What applying a batch of member reports did.
#[derive(Debug, Default, Serialize)]
pub struct MemberAccessApplied {
    pub api_keys_revoked: usize,
}

impl AuthState {
    /// A slice of the revocation feed (see [`repo::revocations_after`]);
    /// revocations older than twice the window are pruned on the way.
    pub async fn revocations(
        &self,
        after: Option<i64>,
        limit: i64,
    ) -> Result<RevocationSlice, AuthError> {
        let window = self.policy.revocation_window_secs as f64;
        let tx = self.db.unscoped_tx().await?;
        let slice = repo::revocations_after(&tx, after, window, limit).await?;
        repo::prune_revocations(&tx, 2.0 * window).await?;
        tx.commit().await?;
        Ok(slice)
    }

    /// Whether the session is live and its user enabled.
    pub async fn session_status(&self, session_id: Uuid, user_id: Uuid) -> Result<bool, AuthError> {
        let tx = self.db.unscoped_tx().await?;
        let live = repo::session_is_live(&tx, session_id, user_id).await?;
        tx.commit().await?;
        Ok(live)
    }

    /// Applies the project service's reports in order, each in its
    /// project's transaction: a member below admin (or gone) loses the keys
    /// they created there and may create none until a later report says
    /// otherwise. Reports older than one already applied change nothing,
    /// so a repeated delivery is harmless.
    pub async fn apply_member_access(
        &self,
        reports: &[MemberAccess],
    ) -> Result<MemberAccessApplied, AuthError> {
        let mut applied = MemberAccessApplied::default();
        for report in reports {
            let may_create = report.role.is_some_and(|role| role >= Role::Admin);
            let tx = self.db.worker_tx(report.project_id).await?;
            repo::lock_key_creator(&tx, report.project_id, report.user_id).await?;
            let newest = repo::record_key_creator(
                &tx,
                report.project_id,
                report.user_id,
                may_create,
                report.as_of_seq,
            )
            .await?;
            if newest && !may_create {
                let revoked =
                    repo::revoke_api_keys_created_by(&tx, report.project_id, report.user_id)
                        .await?;
                if !revoked.is_empty() {
                    repo::audit(
                        &tx,
                        "api_key_revoked",
                        Some(report.user_id),
                        None,
                        None,
                        json!({
                            "project_id": report.project_id,
                            "api_key_ids": revoked,
                            "reason": if report.role.is_some() { "creator_demoted" } else { "creator_removed" },
                        }),
                    )
                    .await?;
                    applied.api_keys_revoked += revoked.len();
                }
            }
            tx.commit().await?;
        }
        Ok(applied)
    }
}
