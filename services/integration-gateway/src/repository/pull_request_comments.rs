//! `integration.pull_request_comments`: the Faultline comment on each pull
//! request and what it says.

use chrono::Utc;
use serde_json::Value;
use tenant_core::{DbError, TenantTx};
use uuid::Uuid;

use super::get;

/// The comment's id and state, locked until the transaction ends (one
/// update of a pull request's comment at a time); made empty on first use.
pub async fn lock(
    tx: &TenantTx,
    project_id: Uuid,
    connection_id: Uuid,
    pr_number: i64,
) -> Result<(Option<i64>, Value), DbError> {
    tx.execute(
        "INSERT INTO integration.pull_request_comments
                (project_id, connection_id, pr_number, state, updated_at)
         VALUES ($1, $2, $3, '{}'::jsonb, $4)
         ON CONFLICT (project_id, connection_id, pr_number) DO NOTHING",
        &[&project_id, &connection_id, &pr_number, &Utc::now()],
    )
    .await?;
    let row = tx
        .query_one(
            "SELECT comment_id, state FROM integration.pull_request_comments
              WHERE project_id = $1 AND connection_id = $2 AND pr_number = $3
              FOR UPDATE",
            &[&project_id, &connection_id, &pr_number],
        )
        .await?;
    Ok((get(&row, "comment_id")?, get(&row, "state")?))
}

pub async fn save(
    tx: &TenantTx,
    project_id: Uuid,
    connection_id: Uuid,
    pr_number: i64,
    comment_id: i64,
    state: &Value,
) -> Result<(), DbError> {
    tx.execute(
        "UPDATE integration.pull_request_comments
            SET comment_id = $4, state = $5, updated_at = $6
          WHERE project_id = $1 AND connection_id = $2 AND pr_number = $3",
        &[
            &project_id,
            &connection_id,
            &pr_number,
            &comment_id,
            state,
            &Utc::now(),
        ],
    )
    .await?;
    Ok(())
}
