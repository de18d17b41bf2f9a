//! `auth.sessions`: one per sign-in, ended by log-out, a password change,
//! a disabled account or a reused refresh token.

use tenant_core::{DbError, TenantTx};
use uuid::Uuid;

/// Starts a session; returns its id.
#[tracing::instrument(skip_all, fields(user_id = %user_id, session_id), err(level = "warn"))]
pub async fn insert(
    tx: &TenantTx,
    user_id: Uuid,
    client_ip: Option<&str>,
) -> Result<Uuid, DbError> {
    let id = Uuid::now_v7();
    tracing::Span::current().record("session_id", tracing::field::display(id));
    tx.execute(
        "INSERT INTO auth.sessions (id, user_id, client_ip) VALUES ($1, $2, $3)",
        &[&id, &user_id, &client_ip],
    )
    .await?;
    Ok(id)
}

/// Whether the session is live and its user enabled.
#[tracing::instrument(skip_all, fields(session_id = %session_id, user_id = %user_id), err(level = "warn"))]
pub async fn is_live(tx: &TenantTx, session_id: Uuid, user_id: Uuid) -> Result<bool, DbError> {
    Ok(tx
        .query_opt(
            "SELECT 1 FROM auth.sessions s JOIN auth.users u ON u.id = s.user_id
              WHERE s.id = $1 AND s.user_id = $2 AND s.revoked_at IS NULL AND u.disabled_at IS NULL",
            &[&session_id, &user_id],
        )
        .await?
        .is_some())
}

/// Which of a user's live sessions to end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// Every one.
    All,
    /// Only this one.
    Only(Uuid),
    /// Every one but this (the session changing the password).
    AllBut(Uuid),
}

/// Ends sessions of `user_id` with their refresh tokens; returns the ids of
/// the sessions ended.
#[tracing::instrument(skip_all, fields(user_id = %user_id, reason = reason), err(level = "warn"))]
pub async fn revoke(
    tx: &TenantTx,
    user_id: Uuid,
    ending: Ending,
    reason: &'static str,
) -> Result<Vec<Uuid>, DbError> {
    let (only, keep) = match ending {
        Ending::All => (None, None),
        Ending::Only(id) => (Some(id), None),
        Ending::AllBut(id) => (None, Some(id)),
    };
    let revoked = tx
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
        .map(|row| row.try_get(0))
        .collect::<Result<Vec<Uuid>, _>>()?;
    if !revoked.is_empty() {
        tx.execute(
            "UPDATE auth.refresh_tokens SET status = 'revoked' WHERE session_id = ANY($1) AND status <> 'revoked'",
            &[&revoked],
        )
        .await?;
    }
    Ok(revoked)
}
