//! The delivery worker.
//!
//! Every round it reads which projects have deliveries due (the
//! `delivery_projects` view: ids and times only), then per project sends
//! up to `service.delivery_batch_size` of them, each in its own
//! transaction: claim one due delivery with `FOR UPDATE SKIP LOCKED`
//! (another instance skips it), send it, record the outcome, commit. A
//! delivery is marked delivered only after the receiver answered 2xx, so a
//! crash in between sends it again: at least once, and receivers
//! deduplicate by the event id (`webhook-id`).
//!
//! A failed attempt waits `delivery_backoff_base_ms * 2^(attempts-1)`
//! (capped at `delivery_backoff_max_secs`, less a random part of up to
//! half), at least what a 429 or 503 asked for in `Retry-After`; after
//! `delivery_max_attempts` (or at once when the receiver refused the
//! request itself, a 4xx) it is dead-lettered, visible in the API with its
//! last error until retried by hand. `breaker_failure_threshold`
//! consecutive failures of one connection open its circuit for
//! `breaker_open_secs`: its deliveries wait (no attempt counted) until a
//! trial call after that time succeeds or fails again.

use std::sync::{Arc, Weak};
use std::time::Duration;

use chrono::Utc;
use prometheus_client::metrics::counter::Counter;
use tenant_core::Db;
use tenant_core::metrics::Metrics;
use uuid::Uuid;

use super::pull_requests;
use crate::domain::connections::ConnectionKind;
use crate::error::IntegrationError;
use crate::notify::{self, Outcome};
use crate::outbound::OutboundPolicy;
use crate::repository::connections;
use crate::repository::deliveries::{self, FailedAttempt};
use crate::secrets::SecretStore;
use crate::settings::IntegrationSettings;

/// Counters on the admin port.
#[derive(Debug, Clone, Default)]
pub struct DeliveryMetrics {
    pub delivered: Counter,
    pub failed_attempts: Counter,
    pub dead_lettered: Counter,
}

impl DeliveryMetrics {
    pub fn register(&self, metrics: &Metrics) {
        metrics.register(
            "integration_deliveries_delivered",
            "Deliveries a receiver accepted",
            self.delivered.clone(),
        );
        metrics.register(
            "integration_delivery_failed_attempts",
            "Delivery attempts that failed",
            self.failed_attempts.clone(),
        );
        metrics.register(
            "integration_deliveries_dead_lettered",
            "Deliveries given up on (dead-lettered)",
            self.dead_lettered.clone(),
        );
    }
}

/// Sends due deliveries; held by the routes, so it stops with the service.
#[derive(Debug)]
pub struct DeliveryWorker {
    db: Db,
    secrets: SecretStore,
    policy: OutboundPolicy,
    settings: Arc<IntegrationSettings>,
    metrics: DeliveryMetrics,
}

impl DeliveryWorker {
    pub fn new(
        db: Db,
        secrets: SecretStore,
        policy: OutboundPolicy,
        settings: Arc<IntegrationSettings>,
        metrics: DeliveryMetrics,
    ) -> Self {
        Self {
            db,
            secrets,
            policy,
            settings,
            metrics,
        }
    }

    /// One round over the projects with deliveries due; how many attempts
    /// it made.
    pub async fn round(&self) -> Result<usize, IntegrationError> {
        let lookup = self.db.unscoped_tx().await?;
        let projects = deliveries::due_projects(&lookup, 100).await?;
        lookup.commit().await?;
        let mut attempts = 0;
        for project_id in projects {
            for _ in 0..self.settings.delivery_batch_size {
                if !self.deliver_one(project_id).await? {
                    break;
                }
                attempts += 1;
            }
        }
        Ok(attempts)
    }

    /// Claims, sends and records one due delivery of `project_id`; false
    /// when none was due.
    #[tracing::instrument(skip(self), err(level = "warn"))]
    async fn deliver_one(&self, project_id: Uuid) -> Result<bool, IntegrationError> {
        let tx = self.db.worker_tx(project_id).await?;
        let Some(delivery) = deliveries::claim_due(&tx, project_id).await? else {
            return Ok(false);
        };
        let Some(connection) =
            connections::for_sending(&tx, project_id, delivery.connection_id).await?
        else {
            return Ok(false);
        };
        let now = Utc::now();
        if let Some(open_until) = connection.circuit_open_until
            && open_until > now
        {
            deliveries::postpone(&tx, project_id, delivery.id, open_until).await?;
            tx.commit().await?;
            return Ok(true);
        }
        let key = self.secrets.data_key(&tx, project_id).await?;
        let outcome = if connection.kind == ConnectionKind::Github {
            pull_requests::update_comments(
                &tx,
                &self.policy,
                &self.settings,
                project_id,
                &key,
                &connection,
                &delivery,
            )
            .await?
        } else {
            notify::send(
                &self.policy,
                &self.settings,
                project_id,
                &key,
                &connection,
                &delivery,
            )
            .await
        };
        match outcome {
            Outcome::Delivered { status } => {
                deliveries::mark_delivered(&tx, project_id, delivery.id, i32::from(status)).await?;
                connections::record_success(&tx, project_id, connection.id).await?;
                self.metrics.delivered.inc();
            }
            Outcome::Failed {
                error,
                status,
                retry_after,
                permanent,
            } => {
                let attempts = u32::try_from(delivery.attempts + 1).unwrap_or(u32::MAX);
                let dead =
                    permanent || delivery.attempts + 1 >= self.settings.delivery_max_attempts;
                let wait = self.settings.backoff().delay(attempts, retry_after);
                let next = now + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::MAX);
                tracing::warn!(delivery_id = %delivery.id, attempts, dead, error = %error, "delivery attempt failed");
                let failed = FailedAttempt {
                    error: &error,
                    status: status.map(i32::from),
                    next_attempt_at: next,
                    dead,
                };
                deliveries::record_failure(&tx, project_id, delivery.id, &failed).await?;
                let open_until = now
                    + chrono::Duration::from_std(Duration::from_secs(
                        self.settings.breaker_open_secs,
                    ))
                    .unwrap_or(chrono::Duration::MAX);
                connections::record_failure(
                    &tx,
                    project_id,
                    connection.id,
                    self.settings.breaker_failure_threshold,
                    open_until,
                )
                .await?;
                self.metrics.failed_attempts.inc();
                if dead {
                    self.metrics.dead_lettered.inc();
                }
            }
        }
        tx.commit().await?;
        Ok(true)
    }
}

/// Runs rounds until the service holding `worker` stops: at once again
/// after a round that sent something, else after `interval`.
pub fn spawn_delivery_worker(worker: Weak<DeliveryWorker>, interval: Duration) {
    tokio::spawn(async move {
        loop {
            let Some(strong) = worker.upgrade() else {
                return;
            };
            let busy = match strong.round().await {
                Ok(attempts) => attempts > 0,
                Err(error) => {
                    tracing::warn!(error = %tenant_core::error::error_chain(&error), "delivery round failed");
                    false
                }
            };
            drop(strong);
            if !busy {
                tokio::time::sleep(interval).await;
            }
        }
    });
}
