//! Refresh-token rotation with reuse detection.
//!
//! Every failure is the same `invalid_grant`. A rotated token presented
//! again within the grace window by a client racing its own rotation gets
//! the same successor; presented again otherwise, it is taken for theft:
//! its whole family and its session are revoked.

use std::net::IpAddr;

use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use tenant_core::TenantTx;

use crate::AuthState;
use crate::domain::audit::AuditEvent;
use crate::domain::refresh_token::{Presented, RefreshToken};
use crate::domain::tokens::{self, TokenResponse};
use crate::error::AuthError;
use crate::repository::audit;
use crate::repository::refresh_tokens::{self, NewRefreshToken};
use crate::repository::sessions::{self, Ending};

/// Exchanges a refresh token for a new pair.
pub async fn refresh(
    state: &AuthState,
    presented: &SecretString,
    client_ip: Option<IpAddr>,
) -> Result<TokenResponse, AuthError> {
    let presented = presented.expose_secret();
    if !presented.starts_with(tokens::REFRESH_PREFIX) {
        return Err(AuthError::InvalidGrant);
    }
    let _connection = state.public_flow_connection().await?;
    let tx = state.db.unscoped_tx().await?;
    let grace = state.policy.refresh_grace_secs as f64;
    let Some(token) =
        refresh_tokens::lock_by_hash(&tx, &tokens::hash_refresh_token(presented), grace).await?
    else {
        return Err(AuthError::InvalidGrant);
    };
    match token.presented() {
        Presented::Refused => Err(AuthError::InvalidGrant),
        Presented::Replayed => replayed(state, tx, &token, client_ip).await,
        Presented::Rotates => rotate(state, tx, &token).await,
    }
}

/// The current token: its successor is issued and kept, sealed, for a
/// client racing this rotation.
async fn rotate(
    state: &AuthState,
    tx: TenantTx,
    token: &RefreshToken,
) -> Result<TokenResponse, AuthError> {
    let next = tokens::new_refresh_token()?;
    let sealed = state.master.seal(next.as_bytes(), token.id.as_bytes())?;
    refresh_tokens::mark_rotated(&tx, token.id, &sealed).await?;
    refresh_tokens::insert(
        &tx,
        &NewRefreshToken {
            token_hash: &tokens::hash_refresh_token(&next),
            family_id: token.family_id,
            parent_id: Some(token.id),
            session_id: token.session_id,
            idle_days: state.policy.refresh_idle_days,
            family_expires_at: Some(token.family_expires_at),
            family_days: state.policy.refresh_family_days,
        },
    )
    .await?;
    let response = state
        .issue_tokens(&token.user, token.session_id, next)
        .await?;
    tx.commit().await?;
    Ok(response)
}

/// A token already rotated: the same successor for a racing client,
/// otherwise the end of the family and its session.
async fn replayed(
    state: &AuthState,
    tx: TenantTx,
    token: &RefreshToken,
    client_ip: Option<IpAddr>,
) -> Result<TokenResponse, AuthError> {
    let current = refresh_tokens::current_of_family(&tx, token.family_id).await?;
    if token.raced_its_rotation(current.and_then(|(_, parent)| parent)) {
        let sealed = token.successor.as_ref().ok_or(AuthError::InvalidGrant)?;
        let successor = state.master.open(sealed, token.id.as_bytes())?;
        let successor = String::from_utf8(successor).map_err(|_| AuthError::InvalidGrant)?;
        let response = state
            .issue_tokens(&token.user, token.session_id, successor)
            .await?;
        tx.commit().await?;
        return Ok(response);
    }
    refresh_tokens::revoke_family(&tx, token.family_id).await?;
    sessions::revoke(
        &tx,
        token.user.id,
        Ending::Only(token.session_id),
        "refresh_token_reuse",
    )
    .await?;
    let client_ip = client_ip.map(|ip| ip.to_string());
    audit::record(
        &tx,
        AuditEvent::new("refresh_reuse_detected")
            .user(token.user.id)
            .session(token.session_id)
            .client_ip(client_ip.as_deref())
            .details(json!({ "family_id": token.family_id })),
    )
    .await?;
    tx.commit().await?;
    tracing::warn!(user_id = %token.user.id, session_id = %token.session_id, "refresh token reuse: family and session revoked");
    Err(AuthError::InvalidGrant)
}
