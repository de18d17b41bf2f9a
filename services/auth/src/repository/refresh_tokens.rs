//! `auth.refresh_tokens`: families of opaque tokens, stored by hash, each
//! rotated into its successor.

use chrono::{DateTime, Utc};
use tenant_core::{DbError, TenantTx};
use uuid::Uuid;

use super::Parsed;
use super::users::user;
use crate::crypto::Sealed;
use crate::domain::refresh_token::{RefreshToken, RefreshTokenStatus};

/// The token with this hash, locked until the transaction ends, with its
/// session and user; `rotated_recently` is judged against `grace_secs`.
#[tracing::instrument(skip_all, fields(refresh_token_id, session_id), err(level = "warn"))]
pub async fn lock_by_hash(
    tx: &TenantTx,
    token_hash: &[u8],
    grace_secs: f64,
) -> Result<Option<RefreshToken>, DbError> {
    let Some(row) = tx
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
        .await?
    else {
        return Ok(None);
    };
    let successor = match (
        row.try_get::<_, Option<Vec<u8>>>("successor_ciphertext")?,
        row.try_get::<_, Option<Vec<u8>>>("successor_nonce")?,
        row.try_get::<_, Option<String>>("successor_key_id")?,
    ) {
        (Some(ciphertext), Some(nonce), Some(master_key_id)) => Some(Sealed {
            ciphertext,
            nonce,
            master_key_id,
        }),
        _ => None,
    };
    let token = RefreshToken {
        id: row.try_get("token_id")?,
        family_id: row.try_get("family_id")?,
        session_id: row.try_get("session_id")?,
        status: row.try_get::<_, Parsed<RefreshTokenStatus>>("status")?.0,
        rotated_recently: row.try_get("rotated_recently")?,
        expired: row.try_get("expired")?,
        family_expires_at: row.try_get("family_expires_at")?,
        successor,
        session_live: row.try_get("session_live")?,
        user: user(&row)?,
    };
    let span = tracing::Span::current();
    span.record("refresh_token_id", tracing::field::display(token.id));
    span.record("session_id", tracing::field::display(token.session_id));
    Ok(Some(token))
}

/// The live token of a family and the token it replaced.
#[tracing::instrument(skip_all, fields(family_id = %family_id), err(level = "warn"))]
pub async fn current_of_family(
    tx: &TenantTx,
    family_id: Uuid,
) -> Result<Option<(Uuid, Option<Uuid>)>, DbError> {
    tx.query_opt(
        "SELECT id, parent_id FROM auth.refresh_tokens WHERE family_id = $1 AND status = 'active'",
        &[&family_id],
    )
    .await?
    .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
    .transpose()
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

/// Stores a family's new current token; returns its id.
#[tracing::instrument(skip_all, fields(session_id = %token.session_id, family_id = %token.family_id), err(level = "warn"))]
pub async fn insert(tx: &TenantTx, token: &NewRefreshToken<'_>) -> Result<Uuid, DbError> {
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

/// Marks the token rotated, keeping its successor sealed for a client
/// racing the rotation.
#[tracing::instrument(skip_all, fields(refresh_token_id = %id), err(level = "warn"))]
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

#[tracing::instrument(skip_all, fields(family_id = %family_id), err(level = "warn"))]
pub async fn revoke_family(tx: &TenantTx, family_id: Uuid) -> Result<(), DbError> {
    tx.execute(
        "UPDATE auth.refresh_tokens SET status = 'revoked' WHERE family_id = $1",
        &[&family_id],
    )
    .await?;
    Ok(())
}
