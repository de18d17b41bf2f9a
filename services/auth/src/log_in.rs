//! Signing in with email and password, throttled per account.
//!
//! The database is held only for two short transactions, never while the
//! password is hashed: reading the account (and its lock), then writing
//! the outcome. A flood of sign-ins queues for the hashing permits without
//! a connection, so everything else the service answers keeps its pool.

use std::net::IpAddr;

use secrecy::SecretString;
use serde_json::json;
use tenant_core::TenantTx;
use uuid::Uuid;

use crate::AuthState;
use crate::domain::account_backoff::retry_after_secs;
use crate::domain::audit::AuditEvent;
use crate::domain::tokens::{self, TokenResponse};
use crate::error::AuthError;
use crate::repository::refresh_tokens::{self, NewRefreshToken};
use crate::repository::{audit, login_throttle, sessions, users};

/// Signs in; a new session with its first refresh token.
pub async fn log_in(
    state: &AuthState,
    email: &str,
    password: &SecretString,
    client_ip: Option<IpAddr>,
) -> Result<TokenResponse, AuthError> {
    // Malformed addresses are treated as unknown accounts: same answer, same work.
    let account = email.trim().to_lowercase();
    let client_ip = client_ip.map(|ip| ip.to_string());
    let client_ip = client_ip.as_deref();
    let user = {
        let _connection = state.public_flow_connection().await?;
        let tx = unless_locked(state.db.unscoped_tx().await?, &account, client_ip).await?;
        let user = users::by_email(&tx, &account).await?;
        tx.commit().await?;
        user
    };
    let stored = user.as_ref().map(|u| u.password_hash.clone());
    let verification = state.hasher.verify(password, stored.as_deref()).await?;
    let user = match user {
        Some(user) if verification.matches && !user.disabled => user,
        user => {
            record_failure(state, &account, user.map(|u| u.id), client_ip).await?;
            return Err(AuthError::InvalidCredentials);
        }
    };
    let rehashed = if verification.needs_rehash {
        Some(state.hasher.hash(password).await?)
    } else {
        None
    };

    let _connection = state.public_flow_connection().await?;
    // Failures recorded by concurrent guesses while this one was being
    // hashed count: a lock taken meanwhile refuses it too.
    let tx = unless_locked(state.db.unscoped_tx().await?, &account, client_ip).await?;
    // The password changed or the account was disabled while hashing:
    // what was verified is no longer the account's password.
    let current = users::by_id(&tx, user.id).await?;
    if current.is_none_or(|current| current.disabled || current.password_hash != user.password_hash)
    {
        return Err(AuthError::InvalidCredentials);
    }
    login_throttle::clear(&tx, &account).await?;
    if let Some(rehashed) = rehashed {
        users::set_password_hash(&tx, user.id, &rehashed).await?;
    }
    let session_id = sessions::insert(&tx, user.id, client_ip).await?;
    let refresh_token = tokens::new_refresh_token()?;
    refresh_tokens::insert(
        &tx,
        &NewRefreshToken {
            token_hash: &tokens::hash_refresh_token(&refresh_token),
            family_id: Uuid::now_v7(),
            parent_id: None,
            session_id,
            idle_days: state.policy.refresh_idle_days,
            family_expires_at: None,
            family_days: state.policy.refresh_family_days,
        },
    )
    .await?;
    audit::record(
        &tx,
        AuditEvent::new("login_ok")
            .user(user.id)
            .session(session_id)
            .client_ip(client_ip),
    )
    .await?;
    let response = state.issue_tokens(&user, session_id, refresh_token).await?;
    tx.commit().await?;
    Ok(response)
}

/// Hands the transaction back unless the account is locked; a sign-in
/// refused for a lock is audited, and the transaction ends with that. A
/// password change checks the same lock: a stolen access token must not
/// buy unlimited guesses at the current password.
pub(crate) async fn unless_locked(
    tx: TenantTx,
    account: &str,
    client_ip: Option<&str>,
) -> Result<TenantTx, AuthError> {
    let Some(seconds) = login_throttle::locked_for(&tx, account).await? else {
        return Ok(tx);
    };
    audit::record(
        &tx,
        AuditEvent::new("login_throttled")
            .client_ip(client_ip)
            .details(json!({ "retry_after_secs": seconds })),
    )
    .await?;
    tx.commit().await?;
    Err(AuthError::Throttled {
        retry_after_secs: retry_after_secs(seconds),
    })
}

/// Counts a failure against the account (locking it past the
/// threshold) and audits it; the same work for unknown accounts. Wrong
/// current passwords in a password change count too.
pub(crate) async fn record_failure(
    state: &AuthState,
    account: &str,
    user_id: Option<Uuid>,
    client_ip: Option<&str>,
) -> Result<(), AuthError> {
    let backoff = &state.policy.account_backoff;
    let _connection = state.public_flow_connection().await?;
    let tx = state.db.unscoped_tx().await?;
    let failures = login_throttle::record_failure(&tx, account, backoff.window_secs).await?;
    login_throttle::lock(&tx, account, failures, backoff.lock_secs(failures)).await?;
    login_throttle::purge_stale(&tx, backoff.window_secs).await?;
    audit::record(
        &tx,
        AuditEvent::new("login_failed")
            .user(user_id)
            .client_ip(client_ip),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
