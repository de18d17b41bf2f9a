//! The receiving side of the outbox: a service's `POST /internal/v1/events`
//! accepts a relayed batch ([`InboxBatch::parse`]) and keeps each event
//! once in its own `<schema>.event_inbox` ([`store_events`]), by the
//! publisher's event id, so a redelivery is recognised.
//!
//! ```sql
//! CREATE TABLE <schema>.event_inbox (
//!     project_id  uuid NOT NULL,
//!     event_id    uuid NOT NULL,
//!     source      text NOT NULL,
//!     kind        text NOT NULL,
//!     occurred_at timestamptz NOT NULL,
//!     payload     jsonb NOT NULL,
//!     received_at timestamptz NOT NULL DEFAULT now(),
//!     PRIMARY KEY (project_id, event_id)
//! );
//! ```

use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

use super::{EventBatch, OutboxEvent};
use crate::{DbError, TenantTx};

/// The most events one batch may carry.
pub const MAX_BATCH_EVENTS: usize = 1000;

/// Why a batch is refused as a whole (nothing of it is stored).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    #[error("an event of the batch belongs to another project than the caller's context")]
    ProjectMismatch,
    #[error("{0}")]
    Invalid(String),
}

/// A batch checked against the project it is delivered for.
#[derive(Debug, Clone)]
pub struct InboxBatch {
    pub source: String,
    pub events: Vec<OutboxEvent>,
}

impl InboxBatch {
    /// Accepts `batch` for `project_id`: a named source, 1 to
    /// [`MAX_BATCH_EVENTS`] events of that project, each with a dotted
    /// lowercase kind.
    pub fn parse(project_id: Uuid, batch: EventBatch) -> Result<Self, BatchError> {
        let EventBatch { source, events } = batch;
        let source_ok = (1..=100).contains(&source.len())
            && source
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !source_ok {
            return Err(BatchError::Invalid(
                "source must be 1 to 100 lowercase letters, digits or `-`".into(),
            ));
        }
        if events.is_empty() || events.len() > MAX_BATCH_EVENTS {
            return Err(BatchError::Invalid(format!(
                "a batch holds 1 to {MAX_BATCH_EVENTS} events"
            )));
        }
        for event in &events {
            if event.project_id != project_id {
                return Err(BatchError::ProjectMismatch);
            }
            if !is_event_kind(&event.kind) {
                return Err(BatchError::Invalid(format!(
                    "event {}: kind must be dotted lowercase (`group.created`), at most 100 characters",
                    event.id
                )));
            }
        }
        Ok(Self { source, events })
    }
}

/// `entity.verb`: lowercase letters, digits and `_`, with at least one dot
/// between non-empty parts.
fn is_event_kind(kind: &str) -> bool {
    kind.len() <= 100
        && kind.contains('.')
        && kind.split('.').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        })
}

/// Stores `events` of `project_id` from `source` in `table` (a service's
/// `<schema>.event_inbox`) in one statement and
/// returns the ids that were new; an id already stored (a redelivery) is
/// left as it was.
#[tracing::instrument(
    skip_all,
    fields(table = table, project_id = %project_id, source = source, events = events.len()),
    err(level = "warn")
)]
pub async fn store_events(
    tx: &TenantTx,
    table: &'static str,
    project_id: Uuid,
    source: &str,
    events: &[OutboxEvent],
) -> Result<Vec<Uuid>, DbError> {
    let ids: Vec<Uuid> = events.iter().map(|e| e.id).collect();
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    let occurred: Vec<DateTime<Utc>> = events.iter().map(|e| e.occurred_at).collect();
    let payloads: Vec<&Value> = events.iter().map(|e| &e.payload).collect();
    let rows = tx
        .query(
            &format!(
                "INSERT INTO {table}
                        (project_id, event_id, source, kind, occurred_at, payload)
                 SELECT $1, e.id, $2, e.kind, e.occurred_at, e.payload
                   FROM unnest($3::uuid[], $4::text[], $5::timestamptz[], $6::jsonb[])
                        AS e(id, kind, occurred_at, payload)
                 ON CONFLICT (project_id, event_id) DO NOTHING
                 RETURNING event_id"
            ),
            &[&project_id, &source, &ids, &kinds, &occurred, &payloads],
        )
        .await?;
    rows.iter()
        .map(|row| row.try_get("event_id"))
        .collect::<Result<_, tokio_postgres::Error>>()
        .map_err(DbError::from)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn batch(project_id: Uuid, kinds: &[&str]) -> EventBatch {
        EventBatch {
            source: "failure-service".into(),
            events: kinds
                .iter()
                .map(|kind| OutboxEvent::new(project_id, kind, json!({})))
                .collect(),
        }
    }

    #[test]
    fn a_batch_of_the_callers_project_with_dotted_kinds_is_accepted() {
        let project = Uuid::now_v7();
        let parsed = InboxBatch::parse(
            project,
            batch(project, &["group.created", "test.flaky_detected"]),
        )
        .unwrap();
        assert_eq!(parsed.events.len(), 2);
    }

    #[test]
    fn an_event_of_another_project_refuses_the_whole_batch() {
        let project = Uuid::now_v7();
        let mut mixed = batch(project, &["group.created"]);
        mixed
            .events
            .push(OutboxEvent::new(Uuid::now_v7(), "group.created", json!({})));
        assert_eq!(
            InboxBatch::parse(project, mixed).unwrap_err(),
            BatchError::ProjectMismatch
        );
    }

    #[test]
    fn empty_batches_bad_kinds_and_bad_sources_are_refused() {
        let project = Uuid::now_v7();
        assert!(InboxBatch::parse(project, batch(project, &[])).is_err());
        for kind in [
            "created",
            "Group.created",
            "group.",
            ".x",
            "group created",
            "a.b-c",
        ] {
            assert!(
                InboxBatch::parse(project, batch(project, &[kind])).is_err(),
                "{kind}"
            );
        }
        let mut unnamed = batch(project, &["group.created"]);
        unnamed.source = String::new();
        assert!(InboxBatch::parse(project, unnamed).is_err());
    }
}
