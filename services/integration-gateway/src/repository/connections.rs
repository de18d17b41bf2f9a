//! `integration.connections` and `integration.connection_secrets`.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::Value;
use tenant_core::{DbError, TenantTx};
use tokio_postgres::Row;
use uuid::Uuid;

use super::get;
use crate::domain::connections::{ConnectionKind, ConnectionView, SecretStatus};

/// A secret as stored: sealed, with what the API may show of it.
#[derive(Debug, Clone)]
pub struct StoredSecret {
    pub field: String,
    pub sealed: Vec<u8>,
    pub last_four: Option<String>,
}

/// What a delivery needs of its connection.
#[derive(Debug, Clone)]
pub struct ConnectionForSending {
    pub id: Uuid,
    pub kind: ConnectionKind,
    pub settings: Value,
    pub status: String,
    pub consecutive_failures: i32,
    pub circuit_open_until: Option<DateTime<Utc>>,
    pub secrets: Vec<StoredSecret>,
}

const VIEW_COLUMNS: &str = "c.id, c.name, c.kind, c.status, c.settings, c.circuit_open_until,
        c.created_at, c.updated_at,
        coalesce((SELECT jsonb_object_agg(s.field, jsonb_build_object(
                          'configured', true, 'last_four', s.last_four))
                    FROM integration.connection_secrets s
                   WHERE s.project_id = c.project_id AND s.connection_id = c.id),
                 '{}'::jsonb) AS secrets";

fn view(row: &Row) -> Result<ConnectionView, DbError> {
    let kind: String = get(row, "kind")?;
    let secrets: Value = get(row, "secrets")?;
    let secrets: BTreeMap<String, SecretStatus> =
        serde_json::from_value(secrets).unwrap_or_default();
    Ok(ConnectionView {
        id: get(row, "id")?,
        name: get(row, "name")?,
        kind: kind.parse().unwrap_or(ConnectionKind::Webhook),
        status: get(row, "status")?,
        settings: get(row, "settings")?,
        secrets,
        circuit_open_until: get(row, "circuit_open_until")?,
        created_at: get(row, "created_at")?,
        updated_at: get(row, "updated_at")?,
    })
}

/// A new connection with its sealed secrets.
#[derive(Debug)]
pub struct NewConnectionRow<'a> {
    pub id: Uuid,
    pub kind: ConnectionKind,
    pub name: &'a str,
    pub settings: &'a Value,
    pub created_by: Option<Uuid>,
    pub secrets: &'a [StoredSecret],
}

#[tracing::instrument(skip_all, fields(project_id = %project_id), err(level = "info"))]
pub async fn insert(
    tx: &TenantTx,
    project_id: Uuid,
    new: &NewConnectionRow<'_>,
) -> Result<(), DbError> {
    let now = Utc::now();
    tx.execute(
        "INSERT INTO integration.connections
                (project_id, id, kind, name, settings, created_by, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
        &[
            &project_id,
            &new.id,
            &new.kind.as_str(),
            &new.name,
            new.settings,
            &new.created_by,
            &now,
        ],
    )
    .await?;
    let fields: Vec<&str> = new.secrets.iter().map(|s| s.field.as_str()).collect();
    let sealed: Vec<&[u8]> = new.secrets.iter().map(|s| s.sealed.as_slice()).collect();
    let last_four: Vec<Option<&str>> = new.secrets.iter().map(|s| s.last_four.as_deref()).collect();
    tx.execute(
        "INSERT INTO integration.connection_secrets
                (project_id, connection_id, field, sealed, last_four, updated_at)
         SELECT $1, $2, s.field, s.sealed, s.last_four, $6
           FROM unnest($3::text[], $4::bytea[], $5::text[]) AS s(field, sealed, last_four)",
        &[&project_id, &new.id, &fields, &sealed, &last_four, &now],
    )
    .await?;
    Ok(())
}

pub async fn list(tx: &TenantTx, project_id: Uuid) -> Result<Vec<ConnectionView>, DbError> {
    let rows = tx
        .query(
            &format!(
                "SELECT {VIEW_COLUMNS} FROM integration.connections c
                  WHERE c.project_id = $1 ORDER BY c.created_at, c.id LIMIT 500"
            ),
            &[&project_id],
        )
        .await?;
    rows.iter().map(view).collect()
}

pub async fn find(
    tx: &TenantTx,
    project_id: Uuid,
    id: Uuid,
) -> Result<Option<ConnectionView>, DbError> {
    let row = tx
        .query_opt(
            &format!(
                "SELECT {VIEW_COLUMNS} FROM integration.connections c
                  WHERE c.project_id = $1 AND c.id = $2"
            ),
            &[&project_id, &id],
        )
        .await?;
    row.as_ref().map(view).transpose()
}

pub async fn count(tx: &TenantTx, project_id: Uuid) -> Result<i64, DbError> {
    let row = tx
        .query_one(
            "SELECT count(*) AS n FROM integration.connections WHERE project_id = $1",
            &[&project_id],
        )
        .await?;
    get(&row, "n")
}

/// Deletes the connection with its secrets, rules and deliveries; false
/// when there was none.
pub async fn delete(tx: &TenantTx, project_id: Uuid, id: Uuid) -> Result<bool, DbError> {
    let deleted = tx
        .execute(
            "DELETE FROM integration.connections WHERE project_id = $1 AND id = $2",
            &[&project_id, &id],
        )
        .await?;
    Ok(deleted > 0)
}

/// The connection and its sealed secrets, for sending.
pub async fn for_sending(
    tx: &TenantTx,
    project_id: Uuid,
    id: Uuid,
) -> Result<Option<ConnectionForSending>, DbError> {
    let Some(row) = tx
        .query_opt(
            "SELECT id, kind, settings, status, consecutive_failures, circuit_open_until
               FROM integration.connections WHERE project_id = $1 AND id = $2",
            &[&project_id, &id],
        )
        .await?
    else {
        return Ok(None);
    };
    let secrets = tx
        .query(
            "SELECT field, sealed, last_four FROM integration.connection_secrets
              WHERE project_id = $1 AND connection_id = $2",
            &[&project_id, &id],
        )
        .await?
        .iter()
        .map(|s| {
            Ok(StoredSecret {
                field: get(s, "field")?,
                sealed: get(s, "sealed")?,
                last_four: get(s, "last_four")?,
            })
        })
        .collect::<Result<Vec<_>, DbError>>()?;
    let kind: String = get(&row, "kind")?;
    Ok(Some(ConnectionForSending {
        id: get(&row, "id")?,
        kind: kind.parse().unwrap_or(ConnectionKind::Webhook),
        settings: get(&row, "settings")?,
        status: get(&row, "status")?,
        consecutive_failures: get(&row, "consecutive_failures")?,
        circuit_open_until: get(&row, "circuit_open_until")?,
        secrets,
    }))
}

/// A successful call closes the connection's circuit.
pub async fn record_success(tx: &TenantTx, project_id: Uuid, id: Uuid) -> Result<(), DbError> {
    tx.execute(
        "UPDATE integration.connections
            SET consecutive_failures = 0, circuit_open_until = NULL
          WHERE project_id = $1 AND id = $2 AND consecutive_failures <> 0",
        &[&project_id, &id],
    )
    .await?;
    Ok(())
}

/// A failed call counts against the connection; at `threshold` consecutive
/// failures its circuit opens until `open_until` (and again after each
/// failed trial call).
pub async fn record_failure(
    tx: &TenantTx,
    project_id: Uuid,
    id: Uuid,
    threshold: i32,
    open_until: DateTime<Utc>,
) -> Result<(), DbError> {
    tx.execute(
        "UPDATE integration.connections
            SET consecutive_failures = consecutive_failures + 1,
                circuit_open_until = CASE WHEN consecutive_failures + 1 >= $3 THEN $4
                                          ELSE circuit_open_until END
          WHERE project_id = $1 AND id = $2",
        &[&project_id, &id, &threshold, &open_until],
    )
    .await?;
    Ok(())
}
