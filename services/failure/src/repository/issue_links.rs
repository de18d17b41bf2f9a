//! `failure.issue_links`: issues the integration gateway filed for failure
//! groups.

use chrono::Utc;
use tenant_core::{DbError, TenantTx};
use uuid::Uuid;

use crate::domain::IssueLink;

/// The group's links, Jira first.
pub async fn list_for_group(
    tx: &TenantTx,
    project_id: Uuid,
    group_id: Uuid,
) -> Result<Vec<IssueLink>, DbError> {
    let rows = tx
        .query(
            "SELECT provider, key, url, status, updated_at FROM failure.issue_links
              WHERE project_id = $1 AND group_id = $2 ORDER BY provider DESC",
            &[&project_id, &group_id],
        )
        .await?;
    rows.iter()
        .map(|row| {
            Ok(IssueLink {
                provider: row.try_get("provider")?,
                key: row.try_get("key")?,
                url: row.try_get("url")?,
                status: row.try_get("status")?,
                updated_at: row.try_get("updated_at")?,
            })
        })
        .collect::<Result<_, tokio_postgres::Error>>()
        .map_err(DbError::from)
}

/// Records (or replaces) the group's link to `provider`; false when the
/// group does not exist.
pub async fn upsert(
    tx: &TenantTx,
    project_id: Uuid,
    group_id: Uuid,
    provider: &str,
    key: &str,
    url: &str,
    status: &str,
) -> Result<Option<IssueLink>, DbError> {
    let row = tx
        .query_opt(
            "INSERT INTO failure.issue_links (project_id, group_id, provider, key, url, status, updated_at)
             SELECT g.project_id, g.id, $3, $4, $5, $6, $7
               FROM failure.failure_groups g
              WHERE g.project_id = $1 AND g.id = $2
             ON CONFLICT (project_id, group_id, provider) DO UPDATE
                SET key = EXCLUDED.key, url = EXCLUDED.url, status = EXCLUDED.status,
                    updated_at = EXCLUDED.updated_at
             RETURNING provider, key, url, status, updated_at",
            &[&project_id, &group_id, &provider, &key, &url, &status, &Utc::now()],
        )
        .await?;
    row.map(|row| {
        Ok(IssueLink {
            provider: row.try_get("provider")?,
            key: row.try_get("key")?,
            url: row.try_get("url")?,
            status: row.try_get("status")?,
            updated_at: row.try_get("updated_at")?,
        })
    })
    .transpose()
    .map_err(|e: tokio_postgres::Error| DbError::from(e))
}
