//! Delivering a service's outbox to its receiver; see the module docs of
//! [`crate::outbox`] for the guarantees and for how the relay finds work
//! across projects.

use std::sync::{Mutex, Weak};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use serde_json::Value;
use uuid::Uuid;

use super::{Backoff, BatchReceipt, EVENTS_PATH, EventBatch, OutboxEvent};
use crate::client::{ServiceCallError, ServiceClient};
use crate::context::{InternalTokenIssuer, TenantContext};
use crate::db::{Db, DbError, TenantTx};
use crate::error::error_chain;
use crate::metrics::Metrics;

/// The longest failure text kept on an event (`last_error`).
const LAST_ERROR_CHARS: usize = 1000;

/// The queue a relay delivers from unless told otherwise.
const DEFAULT_QUEUE: &str = "outbox";

/// How one service relays its outbox.
#[derive(Debug, Clone)]
pub struct RelaySettings {
    /// Base URL of the receiver (the integration gateway).
    pub receiver_url: String,
    /// The receiver's service name, the audience of the context token.
    pub receiver_audience: &'static str,
    /// Pause between rounds when nothing more is due.
    pub interval: Duration,
    /// Events per delivery (one project's batch).
    pub batch_size: i64,
    /// How long one delivery may take.
    pub timeout: Duration,
    pub backoff: Backoff,
    /// Delivered events are kept this long, then pruned.
    pub retention: Duration,
    /// How often delivered events past `retention` are pruned.
    pub prune_interval: Duration,
}

/// The relay's metrics: `outbox_pending`, `outbox_delivered_total` and
/// `outbox_failed_attempts_total` on the service's registry.
#[derive(Debug, Clone, Default)]
pub struct OutboxMetrics {
    /// Events not delivered yet, as of the last round.
    pub pending: Gauge,
    /// Events the receiver acknowledged.
    pub delivered: Counter,
    /// Event deliveries that failed (each event of a failed batch counts).
    pub failed_attempts: Counter,
}

impl OutboxMetrics {
    pub fn register(&self, metrics: &Metrics) {
        metrics.register(
            "outbox_pending",
            "Outbox events not delivered yet, as of the relay's last round",
            self.pending.clone(),
        );
        metrics.register(
            "outbox_delivered",
            "Outbox events the receiver acknowledged",
            self.delivered.clone(),
        );
        metrics.register(
            "outbox_failed_attempts",
            "Outbox event deliveries that failed and were scheduled again",
            self.failed_attempts.clone(),
        );
    }

    /// Registers a second relay's metrics apart from the first's:
    /// `outbox_<receiver>_pending`, `outbox_<receiver>_delivered_total`
    /// and `outbox_<receiver>_failed_attempts_total`.
    pub fn register_for_receiver(&self, metrics: &Metrics, receiver: &str) {
        metrics.register(
            &format!("outbox_{receiver}_pending"),
            &format!(
                "Outbox events for {receiver} not delivered yet, as of the relay's last round"
            ),
            self.pending.clone(),
        );
        metrics.register(
            &format!("outbox_{receiver}_delivered"),
            &format!("Outbox events {receiver} acknowledged"),
            self.delivered.clone(),
        );
        metrics.register(
            &format!("outbox_{receiver}_failed_attempts"),
            &format!("Outbox event deliveries to {receiver} that failed and were scheduled again"),
            self.failed_attempts.clone(),
        );
    }
}

/// What one round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RelayRound {
    pub delivered: u64,
    pub failed: u64,
    /// A project had a full batch: another round should follow at once.
    pub more: bool,
}

/// Relays one service's outbox; see [`crate::outbox`].
#[derive(Debug)]
pub struct OutboxRelay {
    db: Db,
    receiver: ServiceClient,
    source: &'static str,
    principal: Uuid,
    settings: RelaySettings,
    metrics: OutboxMetrics,
    last_prune: Mutex<Option<Instant>>,
    /// The table this relay delivers from, in the service's schema.
    queue: &'static str,
}

struct ClaimedEvent {
    event: OutboxEvent,
    attempts: i32,
}

impl OutboxRelay {
    /// `source` is the publishing service's name and `principal` the id it
    /// calls other services as.
    pub fn new(
        db: Db,
        issuer: InternalTokenIssuer,
        source: &'static str,
        principal: Uuid,
        settings: RelaySettings,
        metrics: OutboxMetrics,
    ) -> Result<Self, reqwest::Error> {
        let receiver = ServiceClient::new(
            &settings.receiver_url,
            settings.receiver_audience,
            issuer,
            settings.timeout,
        )?;
        Ok(Self {
            db: db.counting_apart(),
            receiver,
            source,
            principal,
            settings,
            metrics,
            last_prune: Mutex::new(None),
            queue: DEFAULT_QUEUE,
        })
    }

    /// Delivers from `queue` (a table in the service's schema shaped like
    /// `outbox`, with its `<queue>_projects` and
    /// `<queue>_delivered_projects` views) instead of `outbox`: a service
    /// with a second receiver gives it its own queue and its own relay, so
    /// each receiver's deliveries are retried and pruned independently.
    #[must_use]
    pub fn with_queue(mut self, queue: &'static str) -> Self {
        self.queue = queue;
        self
    }

    pub fn settings(&self) -> &RelaySettings {
        &self.settings
    }

    /// One round: every project with due events gets one delivery.
    #[tracing::instrument(name = "relay_outbox", skip_all, err(level = "warn"))]
    pub async fn relay_once(&self) -> Result<RelayRound, DbError> {
        let schema = self.db.schema();
        let queue = self.queue;
        let tx = self.db.unscoped_tx().await?;
        let rows = tx
            .query(
                &format!(
                    "SELECT project_id, pending, next_attempt_at <= now() AS due
                       FROM {schema}.{queue}_projects
                      ORDER BY next_attempt_at"
                ),
                &[],
            )
            .await?;
        tx.commit().await?;
        let mut pending = 0_i64;
        let mut due = Vec::new();
        for row in &rows {
            pending += row.try_get::<_, i64>("pending")?;
            if row.try_get::<_, bool>("due")? {
                due.push(row.try_get::<_, Uuid>("project_id")?);
            }
        }
        let mut round = RelayRound::default();
        for project_id in due {
            let claimed = self.deliver_project(project_id).await?;
            round.more |= claimed.more;
            round.delivered += claimed.delivered;
            round.failed += claimed.failed;
        }
        self.metrics
            .pending
            .set(pending.saturating_sub(i64::try_from(round.delivered).unwrap_or(i64::MAX)));
        Ok(round)
    }

    /// Claims up to a batch of `project_id`'s due events (skipping any
    /// another relay holds), sends them, and records the outcome, all in
    /// one transaction confined to that project.
    #[tracing::instrument(skip_all, fields(project_id = %project_id), err(level = "warn"))]
    async fn deliver_project(&self, project_id: Uuid) -> Result<RelayRound, DbError> {
        let tx = self.db.worker_tx(project_id).await?;
        let claimed = claim_due(&tx, self.queue, project_id, self.settings.batch_size).await?;
        if claimed.is_empty() {
            tx.commit().await?;
            return Ok(RelayRound::default());
        }
        let count = u64::try_from(claimed.len()).unwrap_or(u64::MAX);
        let ids: Vec<Uuid> = claimed.iter().map(|c| c.event.id).collect();
        let batch = EventBatch {
            source: self.source.to_owned(),
            events: claimed.iter().map(|c| c.event.clone()).collect(),
        };
        let context = TenantContext::service_in_project(self.principal, project_id, "outbox-relay");
        let sent = self
            .receiver
            .post_json::<_, BatchReceipt>(EVENTS_PATH, &batch, &context)
            .await;
        let round = match sent {
            Ok(receipt) => {
                mark_delivered(&tx, self.queue, project_id, &ids).await?;
                tracing::debug!(
                    delivered = count,
                    duplicates = receipt.duplicates.len(),
                    "outbox events delivered"
                );
                RelayRound {
                    delivered: count,
                    failed: 0,
                    more: usize::try_from(self.settings.batch_size)
                        .is_ok_and(|batch| claimed.len() == batch),
                }
            }
            Err(error) => {
                let retry_after = error.retry_after();
                let delays: Vec<f64> = claimed
                    .iter()
                    .map(|c| {
                        let failed = u32::try_from(c.attempts).unwrap_or(0).saturating_add(1);
                        self.settings
                            .backoff
                            .delay(failed, retry_after)
                            .as_secs_f64()
                    })
                    .collect();
                let cause = failure_text(&error);
                tracing::warn!(events = count, error = %cause, "outbox delivery failed; retrying later");
                schedule_retry(&tx, self.queue, project_id, &ids, &delays, &cause).await?;
                RelayRound {
                    delivered: 0,
                    failed: count,
                    more: false,
                }
            }
        };
        tx.commit().await?;
        self.metrics.delivered.inc_by(round.delivered);
        self.metrics.failed_attempts.inc_by(round.failed);
        Ok(round)
    }

    /// Deletes delivered events older than the retention, per project;
    /// returns how many went.
    #[tracing::instrument(name = "prune_outbox", skip_all, err(level = "warn"))]
    pub async fn prune_once(&self) -> Result<u64, DbError> {
        let schema = self.db.schema();
        let queue = self.queue;
        let retention = self.settings.retention.as_secs_f64();
        let tx = self.db.unscoped_tx().await?;
        let rows = tx
            .query(
                &format!(
                    "SELECT project_id FROM {schema}.{queue}_delivered_projects
                      WHERE oldest_delivered_at < now() - make_interval(secs => $1)"
                ),
                &[&retention],
            )
            .await?;
        tx.commit().await?;
        let mut pruned = 0;
        for row in &rows {
            let project_id: Uuid = row.try_get("project_id")?;
            let tx = self.db.worker_tx(project_id).await?;
            pruned += tx
                .execute(
                    &format!(
                        "DELETE FROM {schema}.{queue}
                          WHERE project_id = $1
                            AND delivered_at < now() - make_interval(secs => $2)"
                    ),
                    &[&project_id, &retention],
                )
                .await?;
            tx.commit().await?;
        }
        Ok(pruned)
    }

    /// Prunes when `prune_interval` passed since the last prune.
    async fn prune_if_due(&self) -> Result<(), DbError> {
        let due = {
            let Ok(mut last) = self.last_prune.lock() else {
                return Ok(());
            };
            let due = last.is_none_or(|at| at.elapsed() >= self.settings.prune_interval);
            if due {
                *last = Some(Instant::now());
            }
            due
        };
        if due {
            let pruned = self.prune_once().await?;
            if pruned > 0 {
                tracing::info!(pruned, "delivered outbox events pruned");
            }
        }
        Ok(())
    }
}

/// Relays every `interval` (at once while a backlog lasts) and prunes
/// every `prune_interval`, for as long as the relay exists; failures are
/// logged and retried.
pub fn spawn_outbox_relay(relay: Weak<OutboxRelay>) {
    tokio::spawn(async move {
        loop {
            let Some(current) = relay.upgrade() else {
                return;
            };
            let interval = current.settings.interval;
            if let Err(error) = current.prune_if_due().await {
                tracing::warn!(error = %error_chain(&error), "outbox not pruned");
            }
            let more = match current.relay_once().await {
                Ok(round) => round.more,
                Err(error) => {
                    tracing::warn!(error = %error_chain(&error), "outbox not relayed");
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

fn failure_text(error: &ServiceCallError) -> String {
    error_chain(error).chars().take(LAST_ERROR_CHARS).collect()
}

async fn claim_due(
    tx: &TenantTx,
    queue: &str,
    project_id: Uuid,
    limit: i64,
) -> Result<Vec<ClaimedEvent>, DbError> {
    let rows = tx
        .query(
            &format!(
                "SELECT id, kind, occurred_at, payload, attempts
                   FROM {}.{queue}
                  WHERE project_id = $1 AND delivered_at IS NULL AND next_attempt_at <= now()
                  ORDER BY next_attempt_at, id
                  LIMIT $2
                    FOR UPDATE SKIP LOCKED",
                tx.schema()
            ),
            &[&project_id, &limit],
        )
        .await?;
    rows.iter()
        .map(|row| {
            Ok(ClaimedEvent {
                event: OutboxEvent {
                    id: row.try_get("id")?,
                    project_id,
                    kind: row.try_get("kind")?,
                    occurred_at: row.try_get::<_, DateTime<Utc>>("occurred_at")?,
                    payload: row.try_get::<_, Value>("payload")?,
                },
                attempts: row.try_get("attempts")?,
            })
        })
        .collect::<Result<_, tokio_postgres::Error>>()
        .map_err(DbError::from)
}

async fn mark_delivered(
    tx: &TenantTx,
    queue: &str,
    project_id: Uuid,
    ids: &[Uuid],
) -> Result<(), DbError> {
    tx.execute(
        &format!(
            "UPDATE {}.{queue}
                SET delivered_at = clock_timestamp(), attempts = attempts + 1, last_error = NULL
              WHERE project_id = $1 AND id = ANY($2)",
            tx.schema()
        ),
        &[&project_id, &ids],
    )
    .await?;
    Ok(())
}

async fn schedule_retry(
    tx: &TenantTx,
    queue: &str,
    project_id: Uuid,
    ids: &[Uuid],
    delays_secs: &[f64],
    cause: &str,
) -> Result<(), DbError> {
    tx.execute(
        &format!(
            "UPDATE {}.{queue} o
                SET attempts = o.attempts + 1,
                    next_attempt_at = clock_timestamp() + make_interval(secs => r.delay),
                    last_error = $4
               FROM unnest($2::uuid[], $3::float8[]) AS r(id, delay)
              WHERE o.project_id = $1 AND o.id = r.id",
            tx.schema()
        ),
        &[&project_id, &ids, &delays_secs, &cause],
    )
    .await?;
    Ok(())
}
