//! `failure.uploads`: uploads made with an Idempotency-Key, and the
//! response a retry is answered with.

use tenant_core::{DbError, TenantTx};
use uuid::Uuid;

use crate::domain::RecordedUpload;

#[tracing::instrument(skip_all, fields(project_id = %project_id, build_id = %build_id), err(level = "warn"))]
pub async fn find_upload(
    tx: &TenantTx,
    project_id: Uuid,
    build_id: Uuid,
    key: &str,
) -> Result<Option<RecordedUpload>, DbError> {
    let row = tx
        .query_opt(
            "SELECT request_hash, response FROM failure.uploads
              WHERE project_id = $1 AND build_id = $2 AND idempotency_key = $3",
            &[&project_id, &build_id, &key],
        )
        .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    Ok(Some(RecordedUpload {
        request_hash: row.try_get("request_hash")?,
        response: row.try_get("response")?,
    }))
}

#[tracing::instrument(skip_all, fields(project_id = %project_id, build_id = %build_id), err(level = "warn"))]
pub async fn record_upload(
    tx: &TenantTx,
    project_id: Uuid,
    build_id: Uuid,
    key: &str,
    request_hash: &[u8],
    response: &serde_json::Value,
) -> Result<(), DbError> {
    tx.execute(
        "INSERT INTO failure.uploads (project_id, build_id, idempotency_key, request_hash, response)
         VALUES ($1, $2, $3, $4, $5)",
        &[&project_id, &build_id, &key, &request_hash, response],
    )
    .await?;
    Ok(())
}
