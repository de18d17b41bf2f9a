//! The transactional outbox: events a service publishes in the same
//! transaction as the change they describe, relayed at least once to a
//! receiver (the integration gateway) that deduplicates them by id.
//!
//! # Publishing
//!
//! [`publish`] writes [`OutboxEvent`]s into the calling service's
//! `<schema>.outbox` table with one `INSERT ... SELECT FROM unnest(...)`,
//! inside the caller's [`TenantTx`]: the events exist exactly when the
//! change commits, and a rolled-back request leaves none behind.
//!
//! # Relaying
//!
//! [`OutboxRelay`] delivers due events per project as one JSON batch
//! (`POST` to the receiver's `/internal/v1/events` with the service's
//! context token for that project), marks them delivered on a 2xx, and
//! otherwise schedules the next attempt with capped exponential backoff
//! and jitter, waiting at least what a 429 or 503 asked for in
//! `Retry-After`. An event is marked delivered only after the receiver
//! committed it, so a crash between the two delivers it again: delivery is
//! at least once, and the receiver keeps each event id once (its inbox).
//! The claiming transaction stays open while its batch is posted (at most
//! the delivery timeout), so the claim holds until the outcome is
//! recorded, and a relay holds one connection at a time. A batch the
//! receiver keeps refusing is retried at the backoff cap, with the reason
//! in `last_error`.
//!
//! # More than one receiver
//!
//! A relay delivers one queue to one receiver. A service whose events go
//! to a second receiver gives it a queue of its own (a table shaped like
//! `outbox`, with the same two views, filled from `outbox` by a trigger,
//! so [`publish`] stays one call) and a second relay built with
//! [`OutboxRelay::with_queue`]; its metrics are registered with
//! [`OutboxMetrics::register_for_receiver`]. Each receiver then has its
//! own delivery state: it is retried with its own backoff, pruned on its
//! own, and one receiver being down delays nothing of the other's. The
//! failure service's `outbox_analytics` (its migration `0010`) is one.
//!
//! # Reading across projects under row level security
//!
//! The runtime role is `NOBYPASSRLS` and the outbox is a tenant table, so
//! a transaction without a project sees none of it. The relay still has
//! to find the projects with due events. Two designs were possible:
//!
//! - an opt-in policy (`app.<feed> = 'read'`), as the project service's
//!   access change feed does: any statement of a transaction that sets the
//!   setting sees every project's rows, payloads included;
//! - a view owned by the schema owner that shows only *which* projects
//!   have events waiting (`<schema>.outbox_projects`: project id, count,
//!   next due time) and nothing of the events themselves.
//!
//! The outbox takes the second. The owner already controls the table's
//! row level security (it could turn it off), so a `FOR SELECT` policy for
//! the owner alone grants nothing new; the runtime role reads the view
//! (which runs as its owner) and learns project ids and counts, never a
//! payload. Everything that reads or changes an event (claiming with
//! `FOR UPDATE SKIP LOCKED`, marking delivered, scheduling a retry,
//! pruning) then runs in [`crate::Db::worker_tx`] for that one project,
//! under the same `tenant_isolation` policy as every request.
//!
//! # The table each service copies into its own migration
//!
//! Migrations are static SQL per schema, so a service adopting the outbox
//! copies this into its next migration, replacing `<schema>` (the failure
//! service's is `migrations/failure/0006_outbox.sql`):
//!
//! ```sql
//! CREATE TABLE <schema>.outbox (
//!     project_id      uuid NOT NULL,
//!     id              uuid NOT NULL,          -- UUIDv7, the event id
//!     kind            text NOT NULL,          -- `group.created`, ...
//!     occurred_at     timestamptz NOT NULL,
//!     payload         jsonb NOT NULL,
//!     attempts        integer NOT NULL DEFAULT 0,
//!     next_attempt_at timestamptz NOT NULL DEFAULT now(),
//!     last_error      text,
//!     delivered_at    timestamptz,
//!     PRIMARY KEY (project_id, id)
//! );
//! CREATE INDEX outbox_due_idx ON <schema>.outbox (project_id, next_attempt_at, id)
//!     WHERE delivered_at IS NULL;
//! CREATE INDEX outbox_delivered_idx ON <schema>.outbox (project_id, delivered_at)
//!     WHERE delivered_at IS NOT NULL;
//!
//! ALTER TABLE <schema>.outbox ENABLE ROW LEVEL SECURITY;
//! ALTER TABLE <schema>.outbox FORCE ROW LEVEL SECURITY;
//! CREATE POLICY tenant_isolation ON <schema>.outbox
//!     USING (project_id = (SELECT nullif(current_setting('app.project_id', true), '')::uuid))
//!     WITH CHECK (project_id = (SELECT nullif(current_setting('app.project_id', true), '')::uuid));
//! CREATE POLICY outbox_owner_reads_all ON <schema>.outbox
//!     FOR SELECT TO CURRENT_USER USING (true);
//!
//! CREATE VIEW <schema>.outbox_projects AS
//!     SELECT project_id, count(*) AS pending, min(next_attempt_at) AS next_attempt_at
//!       FROM <schema>.outbox WHERE delivered_at IS NULL GROUP BY project_id;
//! CREATE VIEW <schema>.outbox_delivered_projects AS
//!     SELECT project_id, min(delivered_at) AS oldest_delivered_at
//!       FROM <schema>.outbox WHERE delivered_at IS NOT NULL GROUP BY project_id;
//! ```

mod backoff;
pub mod inbox;
mod knobs;
mod relay;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::db::{DbError, TenantTx};

pub use backoff::Backoff;
pub use knobs::{RelayKnobs, validate_receiver_url};
pub use relay::{OutboxMetrics, OutboxRelay, RelayRound, RelaySettings, spawn_outbox_relay};

/// The receiver's endpoint for a batch of events.
pub const EVENTS_PATH: &str = "/internal/v1/events";

/// One event as it is stored and as it travels: the receiver keeps it
/// under `(project_id, id)`, so a redelivery is recognised.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboxEvent {
    /// UUIDv7: also the delivery order within a project.
    pub id: Uuid,
    pub project_id: Uuid,
    /// Dotted, lowercase: `group.created`, `build.completed`.
    pub kind: String,
    pub occurred_at: DateTime<Utc>,
    pub payload: Value,
}

impl OutboxEvent {
    /// A new event of `kind` in `project_id` that happened now.
    pub fn new(project_id: Uuid, kind: &str, payload: Value) -> Self {
        Self {
            id: Uuid::now_v7(),
            project_id,
            kind: kind.to_owned(),
            occurred_at: Utc::now(),
            payload,
        }
    }
}

/// What a relay sends: one project's events, oldest first.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EventBatch {
    /// The publishing service (`failure-service`).
    pub source: String,
    pub events: Vec<OutboxEvent>,
}

/// What the receiver answers once it committed a batch: the ids it did
/// not have yet and the ids it already had (a redelivery).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchReceipt {
    pub accepted: Vec<Uuid>,
    pub duplicates: Vec<Uuid>,
}

/// Writes `events` into the calling service's `<schema>.outbox` in `tx`,
/// with one statement. They are delivered only if `tx` commits.
#[tracing::instrument(skip_all, fields(events = events.len()), err(level = "warn"))]
pub async fn publish(tx: &TenantTx, events: &[OutboxEvent]) -> Result<(), DbError> {
    if events.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = events.iter().map(|e| e.id).collect();
    let projects: Vec<Uuid> = events.iter().map(|e| e.project_id).collect();
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    let occurred: Vec<DateTime<Utc>> = events.iter().map(|e| e.occurred_at).collect();
    let payloads: Vec<&Value> = events.iter().map(|e| &e.payload).collect();
    tx.execute(
        &format!(
            "INSERT INTO {}.outbox (project_id, id, kind, occurred_at, payload)
             SELECT e.project_id, e.id, e.kind, e.occurred_at, e.payload
               FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::timestamptz[], $5::jsonb[])
                    AS e(project_id, id, kind, occurred_at, payload)",
            tx.schema()
        ),
        &[&projects, &ids, &kinds, &occurred, &payloads],
    )
    .await?;
    Ok(())
}
