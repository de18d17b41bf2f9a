//! `analytics.event_inbox`: relayed events, kept once per event id.

use chrono::{DateTime, Utc};
use serde_json::Value;
use tenant_core::outbox::OutboxEvent;
use tenant_core::{DbError, TenantTx};
use uuid::Uuid;

/// Stores `events` of `project_id` from `source` in one statement and
/// returns the ids that were new; an id already stored (a redelivery) is
/// left as it was.
#[tracing::instrument(
    skip_all,
    fields(project_id = %project_id, source = source, events = events.len()),
    err(level = "warn")
)]
pub async fn store_events(
    tx: &TenantTx,
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
            "INSERT INTO analytics.event_inbox
                    (project_id, event_id, source, kind, occurred_at, payload)
             SELECT $1, e.id, $2, e.kind, e.occurred_at, e.payload
               FROM unnest($3::uuid[], $4::text[], $5::timestamptz[], $6::jsonb[])
                    AS e(id, kind, occurred_at, payload)
             ON CONFLICT (project_id, event_id) DO NOTHING
             RETURNING event_id",
            &[&project_id, &source, &ids, &kinds, &occurred, &payloads],
        )
        .await?;
    rows.iter()
        .map(|row| row.try_get("event_id"))
        .collect::<Result<_, tokio_postgres::Error>>()
        .map_err(DbError::from)
}
