//! Relaying `failure.outbox` to the integration gateway, and its copy
//! `failure.outbox_analytics` to the analytics service.
//!
//! The relay is tenant-core's [`OutboxRelay`]: every
//! `service.outbox_relay_interval_ms` it finds the projects with due
//! events, claims up to `service.outbox_batch_size` of a project's events
//! (`FOR UPDATE SKIP LOCKED`, so two replicas never send the same event in
//! one round), posts them to `POST /internal/v1/events` as this service
//! for that project, and marks them delivered once the gateway has
//! committed them; a failed delivery is retried with capped exponential
//! backoff. Delivered events are pruned after
//! `service.outbox_retention_hours`.

use std::sync::{Arc, Weak};

use tenant_core::Db;
use tenant_core::context::InternalTokenIssuer;
use tenant_core::outbox::{self, OutboxMetrics, OutboxRelay, RelaySettings};
use uuid::Uuid;

/// The principal id this service uses when it calls others on its own
/// behalf (fixed, so the receiver's logs can name the caller).
pub const FAILURE_SERVICE_PRINCIPAL: Uuid =
    Uuid::from_u128(0x0000_0000_0000_7000_8000_6661_696c_7572);

/// Builds the relay, counting into `metrics` (`outbox_pending`,
/// `outbox_delivered_total`, `outbox_failed_attempts_total` once
/// registered); [`start`] runs it for as long as a strong handle lives.
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
        FAILURE_SERVICE_PRINCIPAL,
        settings,
        metrics,
    )?;
    Ok(Arc::new(relay))
}

/// The queue every event is copied to for the analytics service
/// (`migrations/failure/0010_analytics_views.sql`).
pub const ANALYTICS_QUEUE: &str = "outbox_analytics";

/// Builds the relay of the analytics queue: the same relay as [`build`]'s,
/// from [`ANALYTICS_QUEUE`] to the analytics service, retried on its own.
pub fn build_analytics(
    db: Db,
    issuer: InternalTokenIssuer,
    settings: RelaySettings,
    metrics: OutboxMetrics,
) -> Result<Arc<OutboxRelay>, reqwest::Error> {
    let relay = OutboxRelay::new(
        db,
        issuer,
        crate::SPEC.name,
        FAILURE_SERVICE_PRINCIPAL,
        settings,
        metrics,
    )?
    .with_queue(ANALYTICS_QUEUE);
    Ok(Arc::new(relay))
}

/// Runs `relay` in the background until its last strong handle is gone.
pub fn start(relay: Weak<OutboxRelay>) {
    outbox::spawn_outbox_relay(relay);
}
