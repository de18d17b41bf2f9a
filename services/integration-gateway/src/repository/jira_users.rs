//! `integration.oauth_states`, `integration.user_jira_connections` and
//! `integration.user_jira_issues`: members' own Jira accounts.

use chrono::{DateTime, Utc};
use serde::Serialize;
use tenant_core::{DbError, TenantTx};
use utoipa::ToSchema;
use uuid::Uuid;

use super::get;

pub async fn insert_state(
    tx: &TenantTx,
    project_id: Uuid,
    state_hash: &[u8],
    user_id: Uuid,
    verifier_sealed: &[u8],
    expires_at: DateTime<Utc>,
) -> Result<(), DbError> {
    tx.execute(
        "INSERT INTO integration.oauth_states
                (project_id, state_hash, user_id, verifier_sealed, expires_at)
         VALUES ($1, $2, $3, $4, $5)",
        &[
            &project_id,
            &state_hash,
            &user_id,
            &verifier_sealed,
            &expires_at,
        ],
    )
    .await?;
    Ok(())
}

/// A started authorisation, locked until the transaction ends.
#[derive(Debug, Clone)]
pub struct StoredState {
    pub user_id: Uuid,
    pub verifier_sealed: Vec<u8>,
    pub expires_at: DateTime<Utc>,
    pub used: bool,
}

pub async fn lock_state(
    tx: &TenantTx,
    project_id: Uuid,
    state_hash: &[u8],
) -> Result<Option<StoredState>, DbError> {
    let row = tx
        .query_opt(
            "SELECT user_id, verifier_sealed, expires_at, used_at IS NOT NULL AS used
               FROM integration.oauth_states
              WHERE project_id = $1 AND state_hash = $2 FOR UPDATE",
            &[&project_id, &state_hash],
        )
        .await?;
    row.map(|row| {
        Ok(StoredState {
            user_id: get(&row, "user_id")?,
            verifier_sealed: get(&row, "verifier_sealed")?,
            expires_at: get(&row, "expires_at")?,
            used: get(&row, "used")?,
        })
    })
    .transpose()
}

pub async fn mark_state_used(
    tx: &TenantTx,
    project_id: Uuid,
    state_hash: &[u8],
) -> Result<(), DbError> {
    tx.execute(
        "UPDATE integration.oauth_states SET used_at = now()
          WHERE project_id = $1 AND state_hash = $2",
        &[&project_id, &state_hash],
    )
    .await?;
    Ok(())
}

/// A member's Jira connection as stored.
#[derive(Debug, Clone)]
pub struct UserConnection {
    pub id: Uuid,
    pub status: String,
    pub cloud_id: String,
    pub site_url: String,
    pub access_token_sealed: Vec<u8>,
    pub refresh_token_sealed: Vec<u8>,
    pub access_expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
}

/// The sealed tokens of a connection and when the access token expires.
#[derive(Debug, Clone)]
pub struct SealedTokens {
    pub access: Vec<u8>,
    pub refresh: Vec<u8>,
    pub expires_at: DateTime<Utc>,
}

pub async fn upsert_connection(
    tx: &TenantTx,
    project_id: Uuid,
    user_id: Uuid,
    cloud_id: &str,
    site_url: &str,
    tokens: &SealedTokens,
) -> Result<(), DbError> {
    tx.execute(
        "INSERT INTO integration.user_jira_connections
                (project_id, user_id, id, status, cloud_id, site_url, access_token_sealed,
                 refresh_token_sealed, access_expires_at, created_at)
         VALUES ($1, $2, $3, 'active', $4, $5, $6, $7, $8, now())
         ON CONFLICT (project_id, user_id) DO UPDATE
            SET status = 'active', cloud_id = EXCLUDED.cloud_id, site_url = EXCLUDED.site_url,
                access_token_sealed = EXCLUDED.access_token_sealed,
                refresh_token_sealed = EXCLUDED.refresh_token_sealed,
                access_expires_at = EXCLUDED.access_expires_at, refreshed_at = NULL",
        &[
            &project_id,
            &user_id,
            &Uuid::now_v7(),
            &cloud_id,
            &site_url,
            &tokens.access,
            &tokens.refresh,
            &tokens.expires_at,
        ],
    )
    .await?;
    Ok(())
}

/// The member's connection; `lock` holds its row until the transaction
/// ends (one refresh per connection at a time).
pub async fn find_connection(
    tx: &TenantTx,
    project_id: Uuid,
    user_id: Uuid,
    lock: bool,
) -> Result<Option<UserConnection>, DbError> {
    let sql = format!(
        "SELECT id, status, cloud_id, site_url, access_token_sealed, refresh_token_sealed,
                access_expires_at, created_at
           FROM integration.user_jira_connections
          WHERE project_id = $1 AND user_id = $2{}",
        if lock { " FOR UPDATE" } else { "" }
    );
    let row = tx.query_opt(&sql, &[&project_id, &user_id]).await?;
    row.map(|row| {
        Ok(UserConnection {
            id: get(&row, "id")?,
            status: get(&row, "status")?,
            cloud_id: get(&row, "cloud_id")?,
            site_url: get(&row, "site_url")?,
            access_token_sealed: get(&row, "access_token_sealed")?,
            refresh_token_sealed: get(&row, "refresh_token_sealed")?,
            access_expires_at: get(&row, "access_expires_at")?,
            created_at: get(&row, "created_at")?,
        })
    })
    .transpose()
}

pub async fn store_refreshed(
    tx: &TenantTx,
    project_id: Uuid,
    user_id: Uuid,
    tokens: &SealedTokens,
) -> Result<(), DbError> {
    tx.execute(
        "UPDATE integration.user_jira_connections
            SET access_token_sealed = $3, refresh_token_sealed = $4, access_expires_at = $5,
                refreshed_at = now()
          WHERE project_id = $1 AND user_id = $2",
        &[
            &project_id,
            &user_id,
            &tokens.access,
            &tokens.refresh,
            &tokens.expires_at,
        ],
    )
    .await?;
    Ok(())
}

pub async fn mark_needs_reauth(
    tx: &TenantTx,
    project_id: Uuid,
    user_id: Uuid,
) -> Result<(), DbError> {
    tx.execute(
        "UPDATE integration.user_jira_connections SET status = 'needs_reauth'
          WHERE project_id = $1 AND user_id = $2",
        &[&project_id, &user_id],
    )
    .await?;
    Ok(())
}

/// Deletes the member's connection, its tokens and the issues synced
/// through it; false when there was none.
pub async fn delete_connection(
    tx: &TenantTx,
    project_id: Uuid,
    user_id: Uuid,
) -> Result<bool, DbError> {
    let deleted = tx
        .execute(
            "DELETE FROM integration.user_jira_connections WHERE project_id = $1 AND user_id = $2",
            &[&project_id, &user_id],
        )
        .await?;
    Ok(deleted > 0)
}

/// An issue synced through a member's connection.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SyncedIssue {
    pub issue_key: String,
    pub summary: String,
    pub status: String,
    pub synced_at: DateTime<Utc>,
}

/// Replaces the member's synced issues with `issues` (key, summary, status).
pub async fn replace_issues(
    tx: &TenantTx,
    project_id: Uuid,
    user_id: Uuid,
    issues: &[(String, String, String)],
) -> Result<(), DbError> {
    tx.execute(
        "DELETE FROM integration.user_jira_issues WHERE project_id = $1 AND user_id = $2",
        &[&project_id, &user_id],
    )
    .await?;
    let keys: Vec<&str> = issues.iter().map(|i| i.0.as_str()).collect();
    let summaries: Vec<&str> = issues.iter().map(|i| i.1.as_str()).collect();
    let statuses: Vec<&str> = issues.iter().map(|i| i.2.as_str()).collect();
    tx.execute(
        "INSERT INTO integration.user_jira_issues
                (project_id, user_id, issue_key, summary, status, synced_at)
         SELECT $1, $2, i.key, i.summary, i.status, now()
           FROM unnest($3::text[], $4::text[], $5::text[]) AS i(key, summary, status)
         ON CONFLICT DO NOTHING",
        &[&project_id, &user_id, &keys, &summaries, &statuses],
    )
    .await?;
    Ok(())
}

pub async fn list_issues(
    tx: &TenantTx,
    project_id: Uuid,
    user_id: Uuid,
) -> Result<Vec<SyncedIssue>, DbError> {
    let rows = tx
        .query(
            "SELECT issue_key, summary, status, synced_at FROM integration.user_jira_issues
              WHERE project_id = $1 AND user_id = $2 ORDER BY issue_key",
            &[&project_id, &user_id],
        )
        .await?;
    rows.iter()
        .map(|row| {
            Ok(SyncedIssue {
                issue_key: get(row, "issue_key")?,
                summary: get(row, "summary")?,
                status: get(row, "status")?,
                synced_at: get(row, "synced_at")?,
            })
        })
        .collect()
}
