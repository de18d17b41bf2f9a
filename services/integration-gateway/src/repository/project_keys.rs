//! `integration.project_keys`: each project's data key, wrapped by a
//! master key.

use tenant_core::{DbError, TenantTx};
use uuid::Uuid;

use super::get;
use crate::sealing::WrappedKey;

/// The project's wrapped data key; `lock` holds it until the transaction
/// ends (a rewrap).
pub async fn find(
    tx: &TenantTx,
    project_id: Uuid,
    lock: bool,
) -> Result<Option<WrappedKey>, DbError> {
    let sql = if lock {
        "SELECT master_key_id, wrapped_key FROM integration.project_keys
          WHERE project_id = $1 FOR UPDATE"
    } else {
        "SELECT master_key_id, wrapped_key FROM integration.project_keys WHERE project_id = $1"
    };
    let Some(row) = tx.query_opt(sql, &[&project_id]).await? else {
        return Ok(None);
    };
    Ok(Some(WrappedKey {
        master_key_id: get(&row, "master_key_id")?,
        wrapped: get(&row, "wrapped_key")?,
    }))
}

/// Stores the project's first data key; when another request stored one
/// first, that one is kept and returned.
pub async fn insert_or_get(
    tx: &TenantTx,
    project_id: Uuid,
    key: &WrappedKey,
) -> Result<WrappedKey, DbError> {
    tx.execute(
        "INSERT INTO integration.project_keys (project_id, master_key_id, wrapped_key)
         VALUES ($1, $2, $3) ON CONFLICT (project_id) DO NOTHING",
        &[&project_id, &key.master_key_id, &key.wrapped],
    )
    .await?;
    find(tx, project_id, false).await?.ok_or(DbError::NoProject)
}

/// Replaces the project's wrapped data key (same key, new wrapping).
pub async fn replace(tx: &TenantTx, project_id: Uuid, key: &WrappedKey) -> Result<(), DbError> {
    tx.execute(
        "UPDATE integration.project_keys
            SET master_key_id = $2, wrapped_key = $3, rewrapped_at = now()
          WHERE project_id = $1",
        &[&project_id, &key.master_key_id, &key.wrapped],
    )
    .await?;
    Ok(())
}

/// Projects whose data key is wrapped by another master key than
/// `current`, read through the `project_key_ids` view (ids only).
pub async fn projects_not_under(tx: &TenantTx, current: &str) -> Result<Vec<Uuid>, DbError> {
    let rows = tx
        .query(
            "SELECT project_id FROM integration.project_key_ids
              WHERE master_key_id <> $1 ORDER BY project_id",
            &[&current],
        )
        .await?;
    rows.iter().map(|row| get(row, "project_id")).collect()
}
