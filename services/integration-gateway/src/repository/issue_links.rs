//! `integration.issue_links`: the Jira issue filed for each failure group.

use chrono::{DateTime, Utc};
use serde::Serialize;
use tenant_core::{DbError, TenantTx};
use tokio_postgres::Row;
use utoipa::ToSchema;
use uuid::Uuid;

use super::get;

/// An issue filed for a group.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct IssueLink {
    pub group_id: Uuid,
    pub connection_id: Uuid,
    /// `WEB-42`.
    pub issue_key: String,
    pub issue_url: String,
    /// The status name Jira last gave.
    pub status: String,
    /// Jira's status category key: `new`, `indeterminate` or `done`.
    pub status_category: String,
    /// Whether the sync resolved the group because the issue is done.
    pub group_resolved: bool,
    pub created_at: DateTime<Utc>,
    pub synced_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "group_id, connection_id, issue_key, issue_url, status, status_category,
        group_resolved, created_at, synced_at";

fn link(row: &Row) -> Result<IssueLink, DbError> {
    Ok(IssueLink {
        group_id: get(row, "group_id")?,
        connection_id: get(row, "connection_id")?,
        issue_key: get(row, "issue_key")?,
        issue_url: get(row, "issue_url")?,
        status: get(row, "status")?,
        status_category: get(row, "status_category")?,
        group_resolved: get(row, "group_resolved")?,
        created_at: get(row, "created_at")?,
        synced_at: get(row, "synced_at")?,
    })
}

/// Serialises creates for one group until the transaction ends, so two
/// requests cannot both file an issue for it.
pub async fn lock_group(tx: &TenantTx, project_id: Uuid, group_id: Uuid) -> Result<(), DbError> {
    tx.query_one(
        "SELECT pg_advisory_xact_lock(hashtext('issue-link'), hashtext($1::uuid::text || '|' || $2::uuid::text))",
        &[&project_id, &group_id],
    )
    .await?;
    Ok(())
}

/// The group's issue in `provider` (`jira`, `github`).
pub async fn find(
    tx: &TenantTx,
    project_id: Uuid,
    group_id: Uuid,
    provider: &str,
) -> Result<Option<IssueLink>, DbError> {
    let row = tx
        .query_opt(
            &format!(
                "SELECT {COLUMNS} FROM integration.issue_links
                  WHERE project_id = $1 AND group_id = $2 AND provider = $3"
            ),
            &[&project_id, &group_id, &provider],
        )
        .await?;
    row.as_ref().map(link).transpose()
}

/// Records the group's issue in `provider`, replacing an earlier one (a
/// forced create).
pub async fn upsert(
    tx: &TenantTx,
    project_id: Uuid,
    provider: &str,
    new: &IssueLink,
) -> Result<(), DbError> {
    tx.execute(
        "INSERT INTO integration.issue_links
                (project_id, group_id, provider, connection_id, issue_key, issue_url, status,
                 status_category, created_at)
         VALUES ($1, $2, $9, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (project_id, group_id, provider) DO UPDATE
            SET connection_id = EXCLUDED.connection_id, issue_key = EXCLUDED.issue_key,
                issue_url = EXCLUDED.issue_url, status = EXCLUDED.status,
                status_category = EXCLUDED.status_category, group_resolved = false,
                created_at = EXCLUDED.created_at, synced_at = NULL",
        &[
            &project_id,
            &new.group_id,
            &new.connection_id,
            &new.issue_key,
            &new.issue_url,
            &new.status,
            &new.status_category,
            &new.created_at,
            &provider,
        ],
    )
    .await?;
    Ok(())
}

/// The project's Jira links whose group the sync has not resolved yet,
/// oldest sync first.
pub async fn to_sync(
    tx: &TenantTx,
    project_id: Uuid,
    limit: i64,
) -> Result<Vec<IssueLink>, DbError> {
    let rows = tx
        .query(
            &format!(
                "SELECT {COLUMNS} FROM integration.issue_links
                  WHERE project_id = $1 AND provider = 'jira' AND NOT group_resolved
                  ORDER BY synced_at NULLS FIRST, group_id LIMIT $2"
            ),
            &[&project_id, &limit],
        )
        .await?;
    rows.iter().map(link).collect()
}

pub async fn record_sync(
    tx: &TenantTx,
    project_id: Uuid,
    group_id: Uuid,
    status: &str,
    done: bool,
    group_resolved: bool,
) -> Result<(), DbError> {
    let category = if done { "done" } else { "indeterminate" };
    tx.execute(
        "UPDATE integration.issue_links
            SET status = $3, status_category = $4, group_resolved = $5, synced_at = now()
          WHERE project_id = $1 AND group_id = $2 AND provider = 'jira'",
        &[&project_id, &group_id, &status, &category, &group_resolved],
    )
    .await?;
    Ok(())
}

/// Projects with Jira links to sync, through the `issue_link_projects`
/// view (ids only).
pub async fn projects_to_sync(tx: &TenantTx) -> Result<Vec<Uuid>, DbError> {
    let rows = tx
        .query(
            "SELECT project_id FROM integration.issue_link_projects ORDER BY project_id LIMIT 1000",
            &[],
        )
        .await?;
    rows.iter().map(|row| get(row, "project_id")).collect()
}

/// `(group, connection)` of the Jira issues filed for `group_ids`.
pub async fn jira_connections_of(
    tx: &TenantTx,
    project_id: Uuid,
    group_ids: &[Uuid],
) -> Result<Vec<(Uuid, Uuid)>, DbError> {
    if group_ids.is_empty() {
        return Ok(Vec::new());
    }
    let rows = tx
        .query(
            "SELECT group_id, connection_id FROM integration.issue_links
              WHERE project_id = $1 AND provider = 'jira' AND group_id = ANY($2)",
            &[&project_id, &group_ids],
        )
        .await?;
    rows.iter()
        .map(|row| Ok((get(row, "group_id")?, get(row, "connection_id")?)))
        .collect()
}
