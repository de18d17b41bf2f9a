//! `integration.deliveries`: one per event and connection, retried until
//! delivered or dead-lettered.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use tenant_core::{DbError, TenantTx};
use tokio_postgres::Row;
use utoipa::ToSchema;
use uuid::Uuid;

use super::get;

/// A delivery as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeliveryView {
    pub id: Uuid,
    pub event_id: Uuid,
    pub event_kind: String,
    pub connection_id: Uuid,
    /// `pending`, `delivered` or `dead` (dead-lettered after
    /// `service.delivery_max_attempts` failed attempts).
    pub status: String,
    pub attempts: i32,
    /// When the next attempt is due (pending deliveries only).
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// The receiver's last HTTP status, when it answered.
    pub last_status: Option<i32>,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
}

const VIEW_COLUMNS: &str = "d.id, d.event_id, e.kind AS event_kind, d.connection_id, d.status,
        d.attempts, CASE WHEN d.status = 'pending' THEN d.next_attempt_at END AS next_attempt_at,
        d.last_error, d.last_status, d.created_at, d.delivered_at";

fn view(row: &Row) -> Result<DeliveryView, DbError> {
    Ok(DeliveryView {
        id: get(row, "id")?,
        event_id: get(row, "event_id")?,
        event_kind: get(row, "event_kind")?,
        connection_id: get(row, "connection_id")?,
        status: get(row, "status")?,
        attempts: get(row, "attempts")?,
        next_attempt_at: get(row, "next_attempt_at")?,
        last_error: get(row, "last_error")?,
        last_status: get(row, "last_status")?,
        created_at: get(row, "created_at")?,
        delivered_at: get(row, "delivered_at")?,
    })
}

/// Creates the deliveries `(event_id, connection_id)` that do not exist
/// yet, due now.
pub async fn create(
    tx: &TenantTx,
    project_id: Uuid,
    targets: &[(Uuid, Uuid)],
) -> Result<u64, DbError> {
    if targets.is_empty() {
        return Ok(0);
    }
    let ids: Vec<Uuid> = targets.iter().map(|_| Uuid::now_v7()).collect();
    let events: Vec<Uuid> = targets.iter().map(|t| t.0).collect();
    let connections: Vec<Uuid> = targets.iter().map(|t| t.1).collect();
    tx.execute(
        "INSERT INTO integration.deliveries
                (project_id, id, event_id, connection_id, next_attempt_at, created_at)
         SELECT $1, t.id, t.event_id, t.connection_id, $5, $5
           FROM unnest($2::uuid[], $3::uuid[], $4::uuid[]) AS t(id, event_id, connection_id)
         ON CONFLICT (project_id, event_id, connection_id) DO NOTHING",
        &[&project_id, &ids, &events, &connections, &Utc::now()],
    )
    .await
}

/// Up to `limit` of the project's deliveries, newest first, optionally of
/// one status, after (older than) the delivery `after`.
pub async fn list(
    tx: &TenantTx,
    project_id: Uuid,
    status: Option<&str>,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<DeliveryView>, DbError> {
    let rows = tx
        .query(
            &format!(
                "SELECT {VIEW_COLUMNS}
                   FROM integration.deliveries d
                   JOIN integration.event_inbox e
                     ON e.project_id = d.project_id AND e.event_id = d.event_id
                  WHERE d.project_id = $1
                    AND ($2::text IS NULL OR d.status = $2)
                    AND ($3::uuid IS NULL OR d.id < $3)
                  ORDER BY d.id DESC LIMIT $4"
            ),
            &[&project_id, &status, &after, &limit],
        )
        .await?;
    rows.iter().map(view).collect()
}

pub async fn find(
    tx: &TenantTx,
    project_id: Uuid,
    id: Uuid,
) -> Result<Option<DeliveryView>, DbError> {
    let row = tx
        .query_opt(
            &format!(
                "SELECT {VIEW_COLUMNS}
                   FROM integration.deliveries d
                   JOIN integration.event_inbox e
                     ON e.project_id = d.project_id AND e.event_id = d.event_id
                  WHERE d.project_id = $1 AND d.id = $2"
            ),
            &[&project_id, &id],
        )
        .await?;
    row.as_ref().map(view).transpose()
}

/// Makes a dead or pending delivery due now with a fresh count of
/// attempts; false when it does not exist or was delivered.
pub async fn retry_now(tx: &TenantTx, project_id: Uuid, id: Uuid) -> Result<bool, DbError> {
    let changed = tx
        .execute(
            "UPDATE integration.deliveries
                SET status = 'pending', attempts = 0, next_attempt_at = now()
              WHERE project_id = $1 AND id = $2 AND status <> 'delivered'",
            &[&project_id, &id],
        )
        .await?;
    Ok(changed > 0)
}

/// Projects with a delivery due, through the `delivery_projects` view
/// (ids and times only).
pub async fn due_projects(tx: &TenantTx, limit: i64) -> Result<Vec<Uuid>, DbError> {
    let rows = tx
        .query(
            "SELECT project_id FROM integration.delivery_projects
              WHERE next_attempt_at <= now() ORDER BY next_attempt_at LIMIT $1",
            &[&limit],
        )
        .await?;
    rows.iter().map(|row| get(row, "project_id")).collect()
}

/// A delivery claimed for sending, with its event.
#[derive(Debug, Clone)]
pub struct ClaimedDelivery {
    pub id: Uuid,
    pub connection_id: Uuid,
    pub attempts: i32,
    pub event_id: Uuid,
    pub kind: String,
    pub occurred_at: DateTime<Utc>,
    pub payload: Value,
    /// The Jira issue filed through this connection for the event's group.
    pub issue_key: Option<String>,
}

/// Claims the project's oldest due delivery that no other worker holds;
/// the lock lasts until the transaction ends.
pub async fn claim_due(
    tx: &TenantTx,
    project_id: Uuid,
) -> Result<Option<ClaimedDelivery>, DbError> {
    let Some(row) = tx
        .query_opt(
            "SELECT d.id, d.connection_id, d.attempts, e.event_id, e.kind, e.occurred_at, e.payload,
                    (SELECT l.issue_key FROM integration.issue_links l
                      WHERE l.project_id = d.project_id AND l.provider = 'jira'
                        AND l.connection_id = d.connection_id
                        AND l.group_id::text = e.payload->>'group_id') AS issue_key
               FROM integration.deliveries d
               JOIN integration.event_inbox e
                 ON e.project_id = d.project_id AND e.event_id = d.event_id
              WHERE d.project_id = $1 AND d.status = 'pending' AND d.next_attempt_at <= now()
              ORDER BY d.next_attempt_at, d.id
              LIMIT 1
              FOR UPDATE OF d SKIP LOCKED",
            &[&project_id],
        )
        .await?
    else {
        return Ok(None);
    };
    Ok(Some(ClaimedDelivery {
        id: get(&row, "id")?,
        connection_id: get(&row, "connection_id")?,
        attempts: get(&row, "attempts")?,
        event_id: get(&row, "event_id")?,
        kind: get(&row, "kind")?,
        occurred_at: get(&row, "occurred_at")?,
        payload: get(&row, "payload")?,
        issue_key: get(&row, "issue_key")?,
    }))
}

pub async fn mark_delivered(
    tx: &TenantTx,
    project_id: Uuid,
    id: Uuid,
    status: i32,
) -> Result<(), DbError> {
    tx.execute(
        "UPDATE integration.deliveries
            SET status = 'delivered', attempts = attempts + 1, delivered_at = now(),
                last_status = $3, last_error = NULL
          WHERE project_id = $1 AND id = $2",
        &[&project_id, &id, &status],
    )
    .await?;
    Ok(())
}

/// What a failed attempt leaves behind.
#[derive(Debug, Clone)]
pub struct FailedAttempt<'a> {
    pub error: &'a str,
    pub status: Option<i32>,
    pub next_attempt_at: DateTime<Utc>,
    /// No attempt is left: the delivery is dead-lettered.
    pub dead: bool,
}

pub async fn record_failure(
    tx: &TenantTx,
    project_id: Uuid,
    id: Uuid,
    failed: &FailedAttempt<'_>,
) -> Result<(), DbError> {
    tx.execute(
        "UPDATE integration.deliveries
            SET status = CASE WHEN $6 THEN 'dead' ELSE 'pending' END,
                attempts = attempts + 1, last_error = $3, last_status = $4, next_attempt_at = $5
          WHERE project_id = $1 AND id = $2",
        &[
            &project_id,
            &id,
            &failed.error,
            &failed.status,
            &failed.next_attempt_at,
            &failed.dead,
        ],
    )
    .await?;
    Ok(())
}

/// Holds a delivery back without counting an attempt (its connection's
/// circuit is open).
pub async fn postpone(
    tx: &TenantTx,
    project_id: Uuid,
    id: Uuid,
    until: DateTime<Utc>,
) -> Result<(), DbError> {
    tx.execute(
        "UPDATE integration.deliveries SET next_attempt_at = $3
          WHERE project_id = $1 AND id = $2",
        &[&project_id, &id, &until],
    )
    .await?;
    Ok(())
}
