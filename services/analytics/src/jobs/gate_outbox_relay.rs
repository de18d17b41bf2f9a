//! Relaying `analytics.outbox` (`gate.failed`) to the integration gateway.
//!
//! The relay is tenant-core's [`OutboxRelay`], wired as the failure
//! service wires its own: every `service.outbox_relay_interval_ms` it finds
//! the projects with due events, claims up to `service.outbox_batch_size`
//! of a project's events (`FOR UPDATE SKIP LOCKED`), posts them to
//! `POST /internal/v1/events` as this service for that project, and marks
//! them delivered once the gateway has committed them; a failed delivery
//! is retried with capped exponential backoff. Delivered events are pruned
//! after `service.outbox_retention_hours`.

use std::sync::{Arc, Weak};

use tenant_core::Db;
use tenant_core::context::InternalTokenIssuer;
use tenant_core::outbox::{self, OutboxMetrics, OutboxRelay, RelaySettings};
use uuid::Uuid;

/// The principal id this service uses when it calls others on its own
/// behalf (fixed, so the receiver's logs can name the caller).
pub const ANALYTICS_SERVICE_PRINCIPAL: Uuid =
    Uuid::from_u128(0x0000_0000_0000_7000_8000_616e_616c_7974);

/// Builds the relay, counting into `metrics` once registered; [`start`]
/// runs it for as long as a strong handle lives.
pub fn build(
    db: Db,
    issuer: InternalTokenIssuer,
    settings: RelaySettings,
    metrics: OutboxMetrics,
) -> Result<Arc<OutboxRelay>, reqwest::Error> {
    let relay = OutboxRelay::new(
        db,
        issuer,
        crate::SPEC.name,
        ANALYTICS_SERVICE_PRINCIPAL,
        settings,
        metrics,
    )?;
    Ok(Arc::new(relay))
}

/// Runs `relay` in the background until its last strong handle is gone.
pub fn start(relay: Weak<OutboxRelay>) {
    outbox::spawn_outbox_relay(relay);
}
