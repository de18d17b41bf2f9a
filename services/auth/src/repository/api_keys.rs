//! `auth.api_keys`: keys stored by hash, in their project's rows.

use chrono::{DateTime, Utc};
use tenant_core::{DbError, TenantTx};
use tokio_postgres::Row;
use uuid::Uuid;

use super::{Parsed, keyset};
use crate::domain::api_key::{ApiKeyRecord, ApiKeyRole, LiveApiKey};

const API_KEY_COLUMNS: &str = "id, project_id, name, role, display_prefix, last_four, created_by, created_at, expires_at, revoked_at, last_used_at";

fn api_key(row: &Row) -> Result<ApiKeyRecord, DbError> {
    Ok(ApiKeyRecord {
        id: row.try_get("id")?,
        project_id: row.try_get("project_id")?,
        name: row.try_get("name")?,
        role: row.try_get::<_, Parsed<ApiKeyRole>>("role")?.0,
        display_prefix: row.try_get("display_prefix")?,
        last_four: row.try_get("last_four")?,
        created_by: row.try_get("created_by")?,
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
        revoked_at: row.try_get("revoked_at")?,
        last_used_at: row.try_get("last_used_at")?,
    })
}

#[derive(Debug)]
pub struct NewApiKey<'a> {
    pub project_id: Uuid,
    pub name: &'a str,
    pub role: ApiKeyRole,
    pub key_hash: &'a [u8],
    pub display_prefix: &'a str,
    pub last_four: &'a str,
    pub created_by: Uuid,
    pub expires_at: DateTime<Utc>,
}

#[tracing::instrument(skip_all, fields(project_id = %key.project_id, api_key_id), err(level = "warn"))]
pub async fn insert(tx: &TenantTx, key: &NewApiKey<'_>) -> Result<ApiKeyRecord, DbError> {
    let sql = format!(
        "INSERT INTO auth.api_keys
             (project_id, id, name, role, key_hash, display_prefix, last_four, created_by, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING {API_KEY_COLUMNS}"
    );
    let id = Uuid::now_v7();
    tracing::Span::current().record("api_key_id", tracing::field::display(id));
    let row = tx
        .query_one(
            &sql,
            &[
                &key.project_id,
                &id,
                &key.name,
                &key.role.as_str(),
                &key.key_hash,
                &key.display_prefix,
                &key.last_four,
                &key.created_by,
                &key.expires_at,
            ],
        )
        .await?;
    api_key(&row)
}

/// Up to `limit` of the project's keys before the keyset position, newest
/// first.
#[tracing::instrument(skip_all, fields(project_id = %project_id), err(level = "warn"))]
pub async fn list(
    tx: &TenantTx,
    project_id: Uuid,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<ApiKeyRecord>, DbError> {
    let (after_at, after_id) = keyset(after);
    let sql = format!(
        "SELECT {API_KEY_COLUMNS} FROM auth.api_keys
          WHERE project_id = $1 AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3))
          ORDER BY created_at DESC, id DESC LIMIT $4"
    );
    tx.query(&sql, &[&project_id, &after_at, &after_id, &limit])
        .await?
        .iter()
        .map(api_key)
        .collect()
}

/// Whether a live key of the project was revoked.
#[tracing::instrument(skip_all, fields(project_id = %project_id, api_key_id = %id), err(level = "warn"))]
pub async fn revoke(tx: &TenantTx, project_id: Uuid, id: Uuid) -> Result<bool, DbError> {
    Ok(tx
        .execute(
            "UPDATE auth.api_keys SET revoked_at = now()
              WHERE project_id = $1 AND id = $2 AND revoked_at IS NULL",
            &[&project_id, &id],
        )
        .await?
        == 1)
}

/// Revokes every live key `user` created in the project; returns their ids.
#[tracing::instrument(skip_all, fields(project_id = %project_id, user_id = %user_id), err(level = "warn"))]
pub async fn revoke_created_by(
    tx: &TenantTx,
    project_id: Uuid,
    user_id: Uuid,
) -> Result<Vec<Uuid>, DbError> {
    tx.query(
        "UPDATE auth.api_keys SET revoked_at = now()
          WHERE project_id = $1 AND created_by = $2 AND revoked_at IS NULL
          RETURNING id",
        &[&project_id, &user_id],
    )
    .await?
    .iter()
    .map(|row| row.try_get(0).map_err(DbError::from))
    .collect()
}

/// The live key with this hash, in whichever project it is, marked used
/// (at most once a minute).
#[tracing::instrument(skip_all, fields(project_id, api_key_id), err(level = "warn"))]
pub async fn introspect(tx: &TenantTx, key_hash: &[u8]) -> Result<Option<LiveApiKey>, DbError> {
    let hex = tenant_core::hex::encode(key_hash);
    tx.execute("SELECT set_config('app.api_key_hash', $1, true)", &[&hex])
        .await?;
    let Some(row) = tx
        .query_opt(
            "SELECT id, project_id, role, expires_at FROM auth.api_keys
              WHERE key_hash = $1 AND revoked_at IS NULL AND expires_at > now()",
            &[&key_hash],
        )
        .await?
    else {
        return Ok(None);
    };
    let key = LiveApiKey {
        id: row.try_get(0)?,
        project_id: row.try_get(1)?,
        role: row.try_get::<_, Parsed<ApiKeyRole>>(2)?.0,
        expires_at: row.try_get(3)?,
    };
    let (id, project_id) = (key.id, key.project_id);
    let span = tracing::Span::current();
    span.record("project_id", tracing::field::display(project_id));
    span.record("api_key_id", tracing::field::display(id));
    // Writing needs the key's own project context (WITH CHECK).
    tx.execute(
        "SELECT set_config('app.project_id', $1, true)",
        &[&project_id.to_string()],
    )
    .await?;
    tx.execute(
        "UPDATE auth.api_keys SET last_used_at = now()
          WHERE project_id = $1 AND id = $2
            AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')",
        &[&project_id, &id],
    )
    .await?;
    Ok(Some(key))
}
