//! Every SQL statement of the auth service.
//!
//! Identities, sessions and refresh tokens are global (a user spans
//! projects) and run in unscoped transactions; API keys are tenant data and
//! run in the project's transaction, except introspection, which names the
//! key's hash so exactly that row becomes visible.

use chrono::{DateTime, Utc};
use serde::Serialize;
use tenant_core::{DbError, TenantTx};
use tokio_postgres::Row;
use uuid::Uuid;

use crate::crypto::Sealed;
use crate::throttle::REMEMBERED_FAILURES;

mod feeds;
pub use feeds::*;

#[derive(Debug, Clone, Serialize)]
pub struct User {
    pub id: Uuid,
    pub email: String,
    pub display_name: String,
    pub platform_role: String,
    pub default_project: Option<Uuid>,
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
    #[serde(skip)]
    pub password_hash: String,
}

const USER_COLUMNS: &str = "id, email, display_name, platform_role, default_project, disabled_at IS NOT NULL AS disabled, created_at, password_hash";

fn user(row: &Row) -> User {
    User {
        id: row.get("id"),
        email: row.get("email"),
        display_name: row.get("display_name"),
        platform_role: row.get("platform_role"),
        default_project: row.get("default_project"),
        disabled: row.get("disabled"),
        created_at: row.get("created_at"),
        password_hash: row.get("password_hash"),
    }
}

pub async fn insert_user(
    tx: &TenantTx,
    email: &str,
    display_name: &str,
    password_hash: &str,
    platform_role: &str,
) -> Result<User, DbError> {
    let sql = format!(
        "INSERT INTO auth.users (id, email, display_name, password_hash, platform_role)
         VALUES ($1, $2, $3, $4, $5) RETURNING {USER_COLUMNS}"
    );
    let row = tx
        .query_one(
            &sql,
            &[
                &Uuid::now_v7(),
                &email,
                &display_name,
                &password_hash,
                &platform_role,
            ],
        )
        .await?;
    Ok(user(&row))
}

pub async fn user_by_email(tx: &TenantTx, email: &str) -> Result<Option<User>, DbError> {
    let sql = format!("SELECT {USER_COLUMNS} FROM auth.users WHERE email = $1");
    Ok(tx.query_opt(&sql, &[&email]).await?.as_ref().map(user))
}

pub async fn user_by_id(tx: &TenantTx, id: Uuid) -> Result<Option<User>, DbError> {
    let sql = format!("SELECT {USER_COLUMNS} FROM auth.users WHERE id = $1");
    Ok(tx.query_opt(&sql, &[&id]).await?.as_ref().map(user))
}

pub async fn update_profile(
    tx: &TenantTx,
    id: Uuid,
    display_name: Option<&str>,
    default_project: Option<Option<Uuid>>,
) -> Result<Option<User>, DbError> {
    let sql = format!(
        "UPDATE auth.users
            SET display_name = coalesce($2, display_name),
                default_project = CASE WHEN $3 THEN $4 ELSE default_project END,
                updated_at = now()
          WHERE id = $1 RETURNING {USER_COLUMNS}"
    );
    let (set_project, project) = match default_project {
        Some(project) => (true, project),
        None => (false, None),
    };
    Ok(tx
        .query_opt(&sql, &[&id, &display_name, &set_project, &project])
        .await?
        .as_ref()
        .map(user))
}

pub async fn set_password_hash(
    tx: &TenantTx,
    id: Uuid,
    password_hash: &str,
) -> Result<(), DbError> {
    tx.execute(
        "UPDATE auth.users SET password_hash = $2, updated_at = now() WHERE id = $1",
        &[&id, &password_hash],
    )
    .await?;
    Ok(())
}

pub async fn list_users(
    tx: &TenantTx,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<User>, DbError> {
    let (after_at, after_id) = after.map_or((None, None), |(at, id)| (Some(at), Some(id)));
    let sql = format!(
        "SELECT {USER_COLUMNS} FROM auth.users
          WHERE $1::timestamptz IS NULL OR (created_at, id) > ($1, $2)
          ORDER BY created_at, id LIMIT $3"
    );
    Ok(tx
        .query(&sql, &[&after_at, &after_id, &limit])
        .await?
        .iter()
        .map(user)
        .collect())
}

pub async fn disable_user(tx: &TenantTx, id: Uuid) -> Result<bool, DbError> {
    Ok(tx
        .execute(
            "UPDATE auth.users SET disabled_at = coalesce(disabled_at, now()), updated_at = now() WHERE id = $1",
            &[&id],
        )
        .await?
        == 1)
}

// --- sessions and refresh tokens -------------------------------------------

pub async fn insert_session(
    tx: &TenantTx,
    user_id: Uuid,
    client_ip: Option<&str>,
) -> Result<Uuid, DbError> {
    let id = Uuid::now_v7();
    tx.execute(
        "INSERT INTO auth.sessions (id, user_id, client_ip) VALUES ($1, $2, $3)",
        &[&id, &user_id, &client_ip],
    )
    .await?;
    Ok(id)
}

/// Whether the session is live and its user enabled.
pub async fn session_is_live(
    tx: &TenantTx,
    session_id: Uuid,
    user_id: Uuid,
) -> Result<bool, DbError> {
    Ok(tx
        .query_opt(
            "SELECT 1 FROM auth.sessions s JOIN auth.users u ON u.id = s.user_id
              WHERE s.id = $1 AND s.user_id = $2 AND s.revoked_at IS NULL AND u.disabled_at IS NULL",
            &[&session_id, &user_id],
        )
        .await?
        .is_some())
}

/// Revokes sessions of `user_id` (all, or all but `keep`) with their
/// refresh tokens; returns the revoked session ids.
pub async fn revoke_sessions(
    tx: &TenantTx,
    user_id: Uuid,
    only: Option<Uuid>,
    keep: Option<Uuid>,
    reason: &str,
) -> Result<Vec<Uuid>, DbError> {
    let revoked: Vec<Uuid> = tx
        .query(
            "UPDATE auth.sessions SET revoked_at = now(), revoked_reason = $4
              WHERE user_id = $1 AND revoked_at IS NULL
                AND ($2::uuid IS NULL OR id = $2)
                AND ($3::uuid IS NULL OR id <> $3)
              RETURNING id",
            &[&user_id, &only, &keep, &reason],
        )
        .await?
        .iter()
        .map(|row| row.get(0))
        .collect();
    if !revoked.is_empty() {
        tx.execute(
            "UPDATE auth.refresh_tokens SET status = 'revoked' WHERE session_id = ANY($1) AND status <> 'revoked'",
            &[&revoked],
        )
        .await?;
    }
    Ok(revoked)
}

/// A refresh token row with what the rotation decision needs.
#[derive(Debug)]
pub struct RefreshToken {
    pub id: Uuid,
    pub family_id: Uuid,
    pub session_id: Uuid,
    pub status: String,
    pub rotated_recently: bool,
    pub expired: bool,
    pub family_expires_at: DateTime<Utc>,
    pub successor: Option<Sealed>,
    pub session_live: bool,
    pub user: User,
}

pub async fn lock_refresh_token(
    tx: &TenantTx,
    token_hash: &[u8],
    grace_secs: f64,
) -> Result<Option<RefreshToken>, DbError> {
    let row = tx
        .query_opt(
            "SELECT t.id AS token_id, t.family_id, t.session_id, t.status,
                    (t.rotated_at IS NOT NULL AND t.rotated_at > now() - make_interval(secs => $2)) AS rotated_recently,
                    (t.idle_expires_at <= now() OR t.family_expires_at <= now()) AS expired,
                    t.family_expires_at, t.successor_ciphertext, t.successor_nonce, t.successor_key_id,
                    (s.revoked_at IS NULL) AS session_live,
                    u.id, u.email, u.display_name, u.platform_role, u.default_project,
                    u.disabled_at IS NOT NULL AS disabled, u.created_at, u.password_hash
               FROM auth.refresh_tokens t
               JOIN auth.sessions s ON s.id = t.session_id
               JOIN auth.users u ON u.id = s.user_id
              WHERE t.token_hash = $1
              FOR UPDATE OF t",
            &[&token_hash, &grace_secs],
        )
        .await?;
    Ok(row.map(|row| {
        let successor = match (
            row.get::<_, Option<Vec<u8>>>("successor_ciphertext"),
            row.get::<_, Option<Vec<u8>>>("successor_nonce"),
            row.get::<_, Option<String>>("successor_key_id"),
        ) {
            (Some(ciphertext), Some(nonce), Some(master_key_id)) => Some(Sealed {
                ciphertext,
                nonce,
                master_key_id,
            }),
            _ => None,
        };
        RefreshToken {
            id: row.get("token_id"),
            family_id: row.get("family_id"),
            session_id: row.get("session_id"),
            status: row.get("status"),
            rotated_recently: row.get("rotated_recently"),
            expired: row.get("expired"),
            family_expires_at: row.get("family_expires_at"),
            successor,
            session_live: row.get("session_live"),
            user: user(&row),
        }
    }))
}

/// The live token of a family and the token it replaced.
pub async fn current_of_family(
    tx: &TenantTx,
    family_id: Uuid,
) -> Result<Option<(Uuid, Option<Uuid>)>, DbError> {
    Ok(tx
        .query_opt(
            "SELECT id, parent_id FROM auth.refresh_tokens WHERE family_id = $1 AND status = 'active'",
            &[&family_id],
        )
        .await?
        .map(|row| (row.get(0), row.get(1))))
}

#[derive(Debug)]
pub struct NewRefreshToken<'a> {
    pub token_hash: &'a [u8],
    pub family_id: Uuid,
    pub parent_id: Option<Uuid>,
    pub session_id: Uuid,
    pub idle_days: i64,
    /// `None` starts a new family with the configured lifetime.
    pub family_expires_at: Option<DateTime<Utc>>,
    pub family_days: i64,
}

pub async fn insert_refresh_token(
    tx: &TenantTx,
    token: &NewRefreshToken<'_>,
) -> Result<Uuid, DbError> {
    let id = Uuid::now_v7();
    let idle = i32::try_from(token.idle_days).unwrap_or(14);
    let family = i32::try_from(token.family_days).unwrap_or(60);
    tx.execute(
        "INSERT INTO auth.refresh_tokens
             (token_hash, id, family_id, parent_id, session_id, status, idle_expires_at, family_expires_at)
         VALUES ($1, $2, $3, $4, $5, 'active',
                 least(now() + make_interval(days => $6), coalesce($7, now() + make_interval(days => $8))),
                 coalesce($7, now() + make_interval(days => $8)))",
        &[
            &token.token_hash,
            &id,
            &token.family_id,
            &token.parent_id,
            &token.session_id,
            &idle,
            &token.family_expires_at,
            &family,
        ],
    )
    .await?;
    Ok(id)
}

pub async fn mark_rotated(tx: &TenantTx, id: Uuid, successor: &Sealed) -> Result<(), DbError> {
    tx.execute(
        "UPDATE auth.refresh_tokens
            SET status = 'rotated', rotated_at = now(),
                successor_ciphertext = $2, successor_nonce = $3, successor_key_id = $4
          WHERE id = $1",
        &[
            &id,
            &successor.ciphertext,
            &successor.nonce,
            &successor.master_key_id,
        ],
    )
    .await?;
    Ok(())
}

pub async fn revoke_family(tx: &TenantTx, family_id: Uuid) -> Result<(), DbError> {
    tx.execute(
        "UPDATE auth.refresh_tokens SET status = 'revoked' WHERE family_id = $1",
        &[&family_id],
    )
    .await?;
    Ok(())
}

// --- throttling and audit ---------------------------------------------------

/// Seconds until the account may try again, if it is locked.
pub async fn account_locked_for(tx: &TenantTx, account: &str) -> Result<Option<i64>, DbError> {
    Ok(tx
        .query_opt(
            "SELECT ceil(extract(epoch FROM locked_until - now()))::bigint
               FROM auth.login_throttle
              WHERE scope = 'account' AND subject = $1 AND locked_until > now()",
            &[&account],
        )
        .await?
        .map(|row| row.get(0)))
}

/// Counts a failed sign-in of `account`; returns how many it had within
/// the last `window_secs`, this one included (at most
/// [`REMEMBERED_FAILURES`]).
pub async fn record_account_failure(
    tx: &TenantTx,
    account: &str,
    window_secs: i64,
) -> Result<i32, DbError> {
    let window = window_secs as f64;
    let row = tx
        .query_one(
            "INSERT INTO auth.login_throttle AS t (scope, subject, failures, recent_failures, last_failure_at)
             VALUES ('account', $1, 1, ARRAY[now()], now())
             ON CONFLICT (scope, subject) DO UPDATE SET
                 recent_failures = ARRAY(
                     SELECT f FROM (
                         SELECT f FROM unnest(t.recent_failures || now()) AS f
                          WHERE f > now() - make_interval(secs => $2)
                          ORDER BY f DESC LIMIT $3
                     ) AS kept ORDER BY f),
                 last_failure_at = now()
             RETURNING cardinality(recent_failures)",
            &[&account, &window, &i64::from(REMEMBERED_FAILURES)],
        )
        .await?;
    let failures: i32 = row.get(0);
    Ok(failures)
}

/// Stores the account's failure count and, when `lock_secs` is set, locks
/// it for that long from now.
pub async fn lock_account(
    tx: &TenantTx,
    account: &str,
    failures: i32,
    lock_secs: Option<i64>,
) -> Result<(), DbError> {
    let lock = lock_secs.map(|secs| secs as f64);
    tx.execute(
        "UPDATE auth.login_throttle
            SET failures = $2,
                locked_until = coalesce(now() + make_interval(secs => $3), locked_until)
          WHERE scope = 'account' AND subject = $1",
        &[&account, &failures, &lock],
    )
    .await?;
    Ok(())
}

/// Deletes a few rows whose failures have all left the window and whose
/// lock has ended, so a flood of made-up accounts does not pile up. Rows
/// another sign-in holds are skipped.
pub async fn purge_stale_throttles(tx: &TenantTx, window_secs: i64) -> Result<u64, DbError> {
    let window = window_secs as f64;
    tx.execute(
        "DELETE FROM auth.login_throttle AS t
          USING (SELECT scope, subject FROM auth.login_throttle
                  WHERE last_failure_at < now() - make_interval(secs => $1)
                    AND (locked_until IS NULL OR locked_until < now())
                  LIMIT 100 FOR UPDATE SKIP LOCKED) AS stale
          WHERE t.scope = stale.scope AND t.subject = stale.subject",
        &[&window],
    )
    .await
}

pub async fn clear_account_failures(tx: &TenantTx, account: &str) -> Result<(), DbError> {
    tx.execute(
        "DELETE FROM auth.login_throttle WHERE scope = 'account' AND subject = $1",
        &[&account],
    )
    .await?;
    Ok(())
}

/// One security event. `details` never holds secrets.
pub async fn audit(
    tx: &TenantTx,
    kind: &str,
    user_id: Option<Uuid>,
    session_id: Option<Uuid>,
    client_ip: Option<&str>,
    details: serde_json::Value,
) -> Result<(), DbError> {
    tx.execute(
        "INSERT INTO auth.audit_events (id, kind, user_id, session_id, client_ip, details)
         VALUES ($1, $2, $3, $4, $5, $6)",
        &[
            &Uuid::now_v7(),
            &kind,
            &user_id,
            &session_id,
            &client_ip,
            &details,
        ],
    )
    .await?;
    Ok(())
}

// --- API keys ----------------------------------------------------------------

#[derive(Debug, Serialize)]
pub struct ApiKeyRecord {
    pub id: Uuid,
    pub project_id: Uuid,
    pub name: String,
    pub role: String,
    pub display_prefix: String,
    pub last_four: String,
    pub created_by: Uuid,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
}

const API_KEY_COLUMNS: &str = "id, project_id, name, role, display_prefix, last_four, created_by, created_at, expires_at, revoked_at, last_used_at";

fn api_key(row: &Row) -> ApiKeyRecord {
    ApiKeyRecord {
        id: row.get("id"),
        project_id: row.get("project_id"),
        name: row.get("name"),
        role: row.get("role"),
        display_prefix: row.get("display_prefix"),
        last_four: row.get("last_four"),
        created_by: row.get("created_by"),
        created_at: row.get("created_at"),
        expires_at: row.get("expires_at"),
        revoked_at: row.get("revoked_at"),
        last_used_at: row.get("last_used_at"),
    }
}

#[derive(Debug)]
pub struct NewApiKey<'a> {
    pub project_id: Uuid,
    pub name: &'a str,
    pub role: &'a str,
    pub key_hash: &'a [u8],
    pub display_prefix: &'a str,
    pub last_four: &'a str,
    pub created_by: Uuid,
    pub expires_at: DateTime<Utc>,
}

pub async fn insert_api_key(tx: &TenantTx, key: &NewApiKey<'_>) -> Result<ApiKeyRecord, DbError> {
    let sql = format!(
        "INSERT INTO auth.api_keys
             (project_id, id, name, role, key_hash, display_prefix, last_four, created_by, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING {API_KEY_COLUMNS}"
    );
    let row = tx
        .query_one(
            &sql,
            &[
                &key.project_id,
                &Uuid::now_v7(),
                &key.name,
                &key.role,
                &key.key_hash,
                &key.display_prefix,
                &key.last_four,
                &key.created_by,
                &key.expires_at,
            ],
        )
        .await?;
    Ok(api_key(&row))
}

pub async fn list_api_keys(
    tx: &TenantTx,
    project_id: Uuid,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<ApiKeyRecord>, DbError> {
    let (after_at, after_id) = after.map_or((None, None), |(at, id)| (Some(at), Some(id)));
    let sql = format!(
        "SELECT {API_KEY_COLUMNS} FROM auth.api_keys
          WHERE project_id = $1 AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3))
          ORDER BY created_at DESC, id DESC LIMIT $4"
    );
    Ok(tx
        .query(&sql, &[&project_id, &after_at, &after_id, &limit])
        .await?
        .iter()
        .map(api_key)
        .collect())
}

pub async fn revoke_api_key(tx: &TenantTx, project_id: Uuid, id: Uuid) -> Result<bool, DbError> {
    Ok(tx
        .execute(
            "UPDATE auth.api_keys SET revoked_at = now()
              WHERE project_id = $1 AND id = $2 AND revoked_at IS NULL",
            &[&project_id, &id],
        )
        .await?
        == 1)
}

/// A live key found by its hash.
#[derive(Debug)]
pub struct LiveApiKey {
    pub id: Uuid,
    pub project_id: Uuid,
    pub role: String,
    pub expires_at: DateTime<Utc>,
}

pub async fn introspect_api_key(
    tx: &TenantTx,
    key_hash: &[u8],
) -> Result<Option<LiveApiKey>, DbError> {
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
        id: row.get(0),
        project_id: row.get(1),
        role: row.get(2),
        expires_at: row.get(3),
    };
    let (id, project_id) = (key.id, key.project_id);
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
