//! Relaying membership changes to the auth service.
//!
//! The access change feed doubles as a transactional outbox: triggers
//! write it in the same transaction as the membership change. The relay
//! reads it after a durable cursor (`project.access_feed_cursors`, locked
//! with `FOR UPDATE SKIP LOCKED` so one replica relays at a time), tells
//! the auth service each changed member's current role, and moves the
//! cursor only when the auth service has applied the batch: every change
//! is delivered at least once and in order, and the auth service ignores
//! a report older than one it already applied. Pruning keeps what the
//! relay has not delivered.

use std::collections::HashSet;
use std::sync::Weak;
use std::time::Duration;

use tenant_core::Db;

use crate::auth_client::{AuthClient, MemberAccess};
use crate::error::ProjectError;
use crate::repository::access_changes;

/// The relay's name in `project.access_feed_cursors`.
pub const KEY_CREATOR_RELAY: &str = "auth-key-creators";
/// Changes read per round; a full round is followed by another at once.
const BATCH: i64 = 500;

/// Tells the auth service whose role changed, so keys created by members
/// who are removed or fall below admin are revoked.
#[derive(Debug)]
pub struct KeyCreatorRelay {
    db: Db,
    auth: AuthClient,
}

impl KeyCreatorRelay {
    pub fn new(db: Db, auth: AuthClient) -> Self {
        Self { db, auth }
    }

    /// One round; `true` when more changes are waiting.
    #[tracing::instrument(name = "relay_key_creators", skip_all)]
    pub async fn relay_once(&self) -> Result<bool, ProjectError> {
        let tx = self.db.unscoped_tx().await?;
        access_changes::open_feed(&tx).await?;
        let Some(position) = access_changes::lock_feed_cursor(&tx, KEY_CREATOR_RELAY).await? else {
            return Ok(false);
        };
        let slice = access_changes::changes_after(&tx, position, BATCH).await?;
        let Some(last) = slice.changes.last().map(|change| change.seq) else {
            return Ok(false);
        };
        let mut seen = HashSet::new();
        let mut members = Vec::new();
        for change in &slice.changes {
            let Some(user_id) = change.user_id else {
                continue;
            };
            if !seen.insert((change.project_id, user_id)) {
                continue;
            }
            let (role, as_of_seq) =
                access_changes::member_role_now(&tx, change.project_id, user_id).await?;
            members.push(MemberAccess {
                project_id: change.project_id,
                user_id,
                role,
                as_of_seq,
            });
        }
        if !members.is_empty() {
            self.auth.report_member_access(&members).await?;
        }
        access_changes::set_feed_cursor(&tx, KEY_CREATOR_RELAY, last).await?;
        tx.commit().await?;
        Ok(usize::try_from(BATCH).is_ok_and(|batch| slice.changes.len() == batch))
    }
}

/// Relays every `interval` (at once while a backlog lasts) for as long as
/// the relay exists; failures are logged and retried.
pub fn spawn_key_creator_relay(relay: Weak<KeyCreatorRelay>, interval: Duration) {
    tokio::spawn(async move {
        loop {
            let Some(current) = relay.upgrade() else {
                return;
            };
            let more = match current.relay_once().await {
                Ok(more) => more,
                Err(error) => {
                    tracing::warn!(error = %tenant_core::error::error_chain(&error), "membership changes not relayed to the auth service");
                    false
                }
            };
            drop(current);
            if !more {
                tokio::time::sleep(interval).await;
            }
        }
    });
}
