//! Background work: the bounded cleanup of revoked and idle sessions.

use std::sync::Weak;
use std::time::Duration;

use crate::repository::sessions::SessionStore;

/// At most this many batches a round, so one round never holds the
/// database for long; what is left waits for the next round.
const MAX_BATCHES_PER_ROUND: usize = 10;

/// Every `interval`, deletes revoked and idle sessions in batches of
/// `batch` (each its own transaction, rows locked by another replica
/// skipped). Stops once the store is dropped.
pub fn spawn_session_cleanup(store: Weak<SessionStore>, interval: Duration, batch: i64) {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(interval).await;
            let Some(store) = store.upgrade() else {
                return;
            };
            for _ in 0..MAX_BATCHES_PER_ROUND {
                match store.clean_up(batch).await {
                    Ok(deleted) if deleted > 0 => {
                        tracing::debug!(deleted, "expired sessions deleted");
                        if deleted < u64::try_from(batch).unwrap_or(u64::MAX) {
                            break;
                        }
                    }
                    Ok(_) => break,
                    Err(error) => {
                        tracing::warn!(error = %tenant_core::error::error_chain(&error), "session cleanup failed");
                        break;
                    }
                }
            }
        }
    });
}
