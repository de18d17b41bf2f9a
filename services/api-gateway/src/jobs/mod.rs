//! The gateway's background work: polling the access-change and
//! revocation feeds, and refreshing the JWKS, for as long as the gateway
//! exists.

use std::sync::Weak;
use std::time::Duration;

use crate::gateway::Gateway;

/// Polls both feeds every `poll_interval`, and refreshes the JWKS every
/// `jwks_refresh` (and on every poll while no key is loaded yet), until the
/// gateway is dropped.
pub fn spawn_feeds_and_key_refresh(
    gateway: Weak<Gateway>,
    poll_interval: Duration,
    jwks_refresh: Duration,
) {
    tokio::spawn(async move {
        let mut last_jwks = tokio::time::Instant::now();
        loop {
            let Some(gateway) = gateway.upgrade() else {
                return;
            };
            gateway.lookups.poll_feeds().await;
            if gateway.verifier.has_no_keys() || last_jwks.elapsed() >= jwks_refresh {
                // A failure is logged by `refresh` and retried next time.
                let _ = gateway.verifier.refresh().await;
                last_jwks = tokio::time::Instant::now();
            }
            drop(gateway);
            tokio::time::sleep(poll_interval).await;
        }
    });
}
