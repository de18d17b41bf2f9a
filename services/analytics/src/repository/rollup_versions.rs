//! A project's rollup version: increased as the last step of every
//! transaction that changes its rollups, read by whatever keeps answers
//! computed from them (the kept rankings; migration 0005 says why).

use tenant_core::{DbError, TenantTx};
use uuid::Uuid;

use super::rollups::Change;

/// Increases the project's rollup version when `change` says the
/// transaction changed its rollups, as its last step.
pub async fn bump_version_if(
    tx: &TenantTx,
    project_id: Uuid,
    change: Change,
) -> Result<(), DbError> {
    match change {
        Change::Changed => bump_version(tx, project_id).await,
        Change::Unchanged => Ok(()),
    }
}

/// Increases the project's rollup version: the last step of every
/// transaction that changes its rollups (migration 0005 says why).
pub async fn bump_version(tx: &TenantTx, project_id: Uuid) -> Result<(), DbError> {
    tx.execute(
        "INSERT INTO analytics.rollup_versions (project_id, version) VALUES ($1, 1)
         ON CONFLICT (project_id) DO UPDATE SET version = rollup_versions.version + 1",
        &[&project_id],
    )
    .await?;
    Ok(())
}

/// The project's rollup version now (0 before its first rollup).
pub async fn version(tx: &TenantTx, project_id: Uuid) -> Result<i64, DbError> {
    let row = tx
        .query_opt(
            "SELECT version FROM analytics.rollup_versions WHERE project_id = $1",
            &[&project_id],
        )
        .await?;
    Ok(match row {
        Some(row) => row.try_get("version")?,
        None => 0,
    })
}
