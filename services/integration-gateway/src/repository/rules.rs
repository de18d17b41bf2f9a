//! `integration.notification_rules`.

use chrono::Utc;
use tenant_core::{DbError, TenantTx};
use tokio_postgres::Row;
use uuid::Uuid;

use super::get;
use crate::domain::rules::{NewRule, Rule};

fn rule(row: &Row) -> Result<Rule, DbError> {
    Ok(Rule {
        id: get(row, "id")?,
        connection_id: get(row, "connection_id")?,
        events: get(row, "events")?,
        branch_filter: get(row, "branch_filter")?,
        labels: get(row, "labels")?,
        enabled: get(row, "enabled")?,
        created_at: get(row, "created_at")?,
    })
}

const COLUMNS: &str = "id, connection_id, events, branch_filter, labels, enabled, created_at";

pub async fn insert(tx: &TenantTx, project_id: Uuid, new: &NewRule) -> Result<Rule, DbError> {
    let row = tx
        .query_one(
            &format!(
                "INSERT INTO integration.notification_rules
                        (project_id, id, connection_id, events, branch_filter, labels, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)
                 RETURNING {COLUMNS}"
            ),
            &[
                &project_id,
                &Uuid::now_v7(),
                &new.connection_id,
                &new.events,
                &new.branch_filter,
                &new.labels,
                &Utc::now(),
            ],
        )
        .await?;
    rule(&row)
}

pub async fn list(tx: &TenantTx, project_id: Uuid) -> Result<Vec<Rule>, DbError> {
    let rows = tx
        .query(
            &format!(
                "SELECT {COLUMNS} FROM integration.notification_rules
                  WHERE project_id = $1 ORDER BY created_at, id"
            ),
            &[&project_id],
        )
        .await?;
    rows.iter().map(rule).collect()
}

pub async fn count(tx: &TenantTx, project_id: Uuid) -> Result<i64, DbError> {
    let row = tx
        .query_one(
            "SELECT count(*) AS n FROM integration.notification_rules WHERE project_id = $1",
            &[&project_id],
        )
        .await?;
    get(&row, "n")
}

pub async fn delete(tx: &TenantTx, project_id: Uuid, id: Uuid) -> Result<bool, DbError> {
    let deleted = tx
        .execute(
            "DELETE FROM integration.notification_rules WHERE project_id = $1 AND id = $2",
            &[&project_id, &id],
        )
        .await?;
    Ok(deleted > 0)
}
