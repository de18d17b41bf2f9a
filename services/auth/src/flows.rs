//! What the auth service does, independent of HTTP: sign-up, sign-in with
//! throttling, refresh-token rotation with reuse detection, sessions, and
//! API keys. Handlers parse requests and call these.

use std::net::IpAddr;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use prometheus_client::metrics::counter::Counter;
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde_json::json;
use tenant_core::{Db, Problem, Role, TenantContext};
use tokio::sync::{Semaphore, SemaphorePermit};
use uuid::Uuid;

use crate::api_key::ApiKey;
use crate::crypto::MasterKeys;
use crate::domain::{DisplayName, Email, NewPassword};
use crate::error::AuthError;
use crate::keys::KeyStore;
use crate::password::PasswordHasher;
use crate::repo::{self, ApiKeyRecord, NewApiKey, NewRefreshToken, User};
use crate::throttle::AccountBackoff;
use crate::tokens::{self, AccessTokenIssuer, Subject};

#[derive(Debug)]
pub struct Policy {
    pub refresh_idle_days: i64,
    pub refresh_family_days: i64,
    pub refresh_grace_secs: i64,
    pub account_backoff: AccountBackoff,
    pub api_key_max_days: i64,
    /// How long after its session is revoked an access token may still
    /// verify (its lifetime and the verifiers' leeway): the revocation feed
    /// hands a starting gateway the revocations of this long.
    pub revocation_window_secs: i64,
}

/// Everything the handlers share.
#[derive(Debug)]
pub struct AuthState {
    pub db: Db,
    pub hasher: PasswordHasher,
    pub keys: KeyStore,
    pub access: AccessTokenIssuer,
    pub master: Arc<MasterKeys>,
    pub policy: Policy,
    /// Database lookups made by API key introspection (junk never gets one).
    pub api_key_lookups: Counter,
    /// Connections the flows of callers without credentials (sign-up,
    /// log-in, refresh) may hold at once: half the pool. A flood of them
    /// queues here, and signed-in users and API key introspection keep
    /// the other half.
    pub public_flow_connections: Semaphore,
}

/// The OAuth 2.0 token response.
#[derive(Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    pub refresh_token: String,
}

impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenResponse")
            .field("expires_in", &self.expires_in)
            .finish_non_exhaustive()
    }
}

/// A freshly created API key: the only time the key itself is shown.
#[derive(Serialize)]
pub struct CreatedApiKey {
    #[serde(flatten)]
    pub record: ApiKeyRecord,
    pub key: String,
}

impl std::fmt::Debug for CreatedApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedApiKey")
            .field("record", &self.record)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Serialize)]
pub struct Introspection {
    pub principal_id: Uuid,
    pub project_id: Uuid,
    pub role: String,
    /// The gateway caches the answer no longer than this.
    pub expires_at: DateTime<Utc>,
}

impl AuthState {
    pub async fn sign_up(
        &self,
        email: &str,
        password: &SecretString,
        display_name: &str,
    ) -> Result<User, AuthError> {
        self.create_user(email, password, display_name, "user")
            .await
    }

    /// Also used by `auth-service create-admin`.
    pub async fn create_user(
        &self,
        email: &str,
        password: &SecretString,
        display_name: &str,
        platform_role: &str,
    ) -> Result<User, AuthError> {
        let email = Email::parse(email)?;
        let display_name = DisplayName::parse(display_name)?;
        let password = NewPassword::parse(password)?;
        let hash = self.hasher.hash(password.secret()).await?;
        let _connection = self.public_flow_connection().await?;
        let tx = self.db.unscoped_tx().await?;
        let user = match repo::insert_user(
            &tx,
            email.as_str(),
            display_name.as_str(),
            &hash,
            platform_role,
        )
        .await
        {
            Ok(user) => user,
            Err(error) if error.constraint() == Some("users_email_key") => {
                return Err(AuthError::EmailTaken);
            }
            Err(error) => return Err(error.into()),
        };
        repo::audit(
            &tx,
            "user_created",
            Some(user.id),
            None,
            None,
            json!({ "platform_role": platform_role }),
        )
        .await?;
        tx.commit().await?;
        Ok(user)
    }

    /// Signs in. The database is held only for two short transactions,
    /// never while the password is hashed: reading the account (and its
    /// lock), then writing the outcome. A flood of sign-ins queues for the
    /// hashing permits without a connection, so everything else the
    /// service answers keeps its pool.
    pub async fn log_in(
        &self,
        email: &str,
        password: &SecretString,
        client_ip: Option<IpAddr>,
    ) -> Result<TokenResponse, AuthError> {
        // Malformed addresses are treated as unknown accounts: same answer, same work.
        let account = email.trim().to_lowercase();
        let client_ip = client_ip.map(|ip| ip.to_string());
        let client_ip = client_ip.as_deref();
        let user = {
            let _connection = self.public_flow_connection().await?;
            let tx = self.db.unscoped_tx().await?;
            if let Some(seconds) = repo::account_locked_for(&tx, &account).await? {
                self.refuse_locked(tx, seconds, client_ip).await?;
                return Err(throttled(seconds));
            }
            let user = repo::user_by_email(&tx, &account).await?;
            tx.commit().await?;
            user
        };
        let stored = user.as_ref().map(|u| u.password_hash.clone());
        let verification = self.hasher.verify(password, stored.as_deref()).await?;
        let user = match user {
            Some(user) if verification.matches && !user.disabled => user,
            user => {
                self.record_failed_log_in(&account, user.map(|u| u.id), client_ip)
                    .await?;
                return Err(AuthError::InvalidCredentials);
            }
        };
        let rehashed = if verification.needs_rehash {
            Some(self.hasher.hash(password).await?)
        } else {
            None
        };

        let _connection = self.public_flow_connection().await?;
        let tx = self.db.unscoped_tx().await?;
        // Failures recorded by concurrent guesses while this one was being
        // hashed count: a lock taken meanwhile refuses it too.
        if let Some(seconds) = repo::account_locked_for(&tx, &account).await? {
            self.refuse_locked(tx, seconds, client_ip).await?;
            return Err(throttled(seconds));
        }
        // The password changed or the account was disabled while hashing:
        // what was verified is no longer the account's password.
        let current = repo::user_by_id(&tx, user.id).await?;
        if current
            .is_none_or(|current| current.disabled || current.password_hash != user.password_hash)
        {
            return Err(AuthError::InvalidCredentials);
        }
        repo::clear_account_failures(&tx, &account).await?;
        if let Some(rehashed) = rehashed {
            repo::set_password_hash(&tx, user.id, &rehashed).await?;
        }
        let session_id = repo::insert_session(&tx, user.id, client_ip).await?;
        let refresh_token = tokens::new_refresh_token()?;
        repo::insert_refresh_token(
            &tx,
            &NewRefreshToken {
                token_hash: &tokens::hash_refresh_token(&refresh_token),
                family_id: Uuid::now_v7(),
                parent_id: None,
                session_id,
                idle_days: self.policy.refresh_idle_days,
                family_expires_at: None,
                family_days: self.policy.refresh_family_days,
            },
        )
        .await?;
        repo::audit(
            &tx,
            "login_ok",
            Some(user.id),
            Some(session_id),
            client_ip,
            json!({}),
        )
        .await?;
        let response = self
            .token_response(&user, session_id, refresh_token)
            .await?;
        tx.commit().await?;
        Ok(response)
    }

    /// A turn at the connections of the flows without credentials; held
    /// for one short transaction.
    async fn public_flow_connection(&self) -> Result<SemaphorePermit<'_>, AuthError> {
        self.public_flow_connections
            .acquire()
            .await
            // Only a closed semaphore refuses, and this one is never closed.
            .map_err(|_| AuthError::Context(Problem::unavailable("auth.unavailable", 1)))
    }

    /// Audits a sign-in refused because its account is locked.
    async fn refuse_locked(
        &self,
        tx: tenant_core::TenantTx,
        seconds: i64,
        client_ip: Option<&str>,
    ) -> Result<(), AuthError> {
        repo::audit(
            &tx,
            "login_throttled",
            None,
            None,
            client_ip,
            json!({ "retry_after_secs": seconds }),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Counts a failure against the account (locking it past the
    /// threshold) and audits it; the same work for unknown accounts.
    async fn record_failed_log_in(
        &self,
        account: &str,
        user_id: Option<Uuid>,
        client_ip: Option<&str>,
    ) -> Result<(), AuthError> {
        let backoff = &self.policy.account_backoff;
        let _connection = self.public_flow_connection().await?;
        let tx = self.db.unscoped_tx().await?;
        let failures = repo::record_account_failure(&tx, account, backoff.window_secs).await?;
        repo::lock_account(&tx, account, failures, backoff.lock_secs(failures)).await?;
        repo::purge_stale_throttles(&tx, backoff.window_secs).await?;
        repo::audit(&tx, "login_failed", user_id, None, client_ip, json!({})).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn token_response(
        &self,
        user: &User,
        session_id: Uuid,
        refresh_token: String,
    ) -> Result<TokenResponse, AuthError> {
        let keyring = self.keys.current().await?;
        let access_token = self.access.issue(
            &keyring,
            &Subject {
                user_id: user.id,
                session_id,
                platform_role: user.platform_role.clone(),
                default_project: user.default_project,
            },
        )?;
        Ok(TokenResponse {
            access_token,
            token_type: "Bearer",
            expires_in: self.access.ttl_secs,
            refresh_token,
        })
    }

    /// Rotates a refresh token. Every failure is the same `invalid_grant`;
    /// reuse of a rotated token outside the grace window revokes the whole
    /// family and its session.
    pub async fn refresh(
        &self,
        presented: &SecretString,
        client_ip: Option<IpAddr>,
    ) -> Result<TokenResponse, AuthError> {
        let client_ip = client_ip.map(|ip| ip.to_string());
        let presented = presented.expose_secret();
        if !presented.starts_with(tokens::REFRESH_PREFIX) {
            return Err(AuthError::InvalidGrant);
        }
        let _connection = self.public_flow_connection().await?;
        let tx = self.db.unscoped_tx().await?;
        let grace = self.policy.refresh_grace_secs as f64;
        let Some(token) =
            repo::lock_refresh_token(&tx, &tokens::hash_refresh_token(presented), grace).await?
        else {
            return Err(AuthError::InvalidGrant);
        };
        if !token.session_live || token.user.disabled || token.status == "revoked" {
            return Err(AuthError::InvalidGrant);
        }
        if token.status == "rotated" {
            let current = repo::current_of_family(&tx, token.family_id).await?;
            let is_predecessor = current.is_some_and(|(_, parent)| parent == Some(token.id));
            if is_predecessor && token.rotated_recently && !token.expired {
                // A concurrent client raced the rotation: hand it the same
                // current token rather than treating it as theft.
                let sealed = token.successor.as_ref().ok_or(AuthError::InvalidGrant)?;
                let successor = self.master.open(sealed, token.id.as_bytes())?;
                let successor =
                    String::from_utf8(successor).map_err(|_| AuthError::InvalidGrant)?;
                let response = self
                    .token_response(&token.user, token.session_id, successor)
                    .await?;
                tx.commit().await?;
                return Ok(response);
            }
            repo::revoke_family(&tx, token.family_id).await?;
            repo::revoke_sessions(
                &tx,
                token.user.id,
                Some(token.session_id),
                None,
                "refresh_token_reuse",
            )
            .await?;
            repo::audit(
                &tx,
                "refresh_reuse_detected",
                Some(token.user.id),
                Some(token.session_id),
                client_ip.as_deref(),
                json!({ "family_id": token.family_id }),
            )
            .await?;
            tx.commit().await?;
            tracing::warn!(user_id = %token.user.id, session_id = %token.session_id, "refresh token reuse: family and session revoked");
            return Err(AuthError::InvalidGrant);
        }
        if token.expired {
            return Err(AuthError::InvalidGrant);
        }
        let next = tokens::new_refresh_token()?;
        let sealed = self.master.seal(next.as_bytes(), token.id.as_bytes())?;
        repo::mark_rotated(&tx, token.id, &sealed).await?;
        repo::insert_refresh_token(
            &tx,
            &NewRefreshToken {
                token_hash: &tokens::hash_refresh_token(&next),
                family_id: token.family_id,
                parent_id: Some(token.id),
                session_id: token.session_id,
                idle_days: self.policy.refresh_idle_days,
                family_expires_at: Some(token.family_expires_at),
                family_days: self.policy.refresh_family_days,
            },
        )
        .await?;
        let response = self
            .token_response(&token.user, token.session_id, next)
            .await?;
        tx.commit().await?;
        Ok(response)
    }

    /// The signed-in user, refusing ended sessions and disabled users even
    /// before the gateway has caught up with the revocation.
    pub async fn current_user(&self, ctx: &TenantContext) -> Result<User, AuthError> {
        let user_id = ctx.require_user()?;
        let tx = self.db.unscoped_tx().await?;
        if let Some(session_id) = ctx.session_id()
            && !repo::session_is_live(&tx, session_id, user_id).await?
        {
            return Err(AuthError::SessionEnded);
        }
        let user = repo::user_by_id(&tx, user_id)
            .await?
            .ok_or(AuthError::SessionEnded)?;
        if user.disabled {
            return Err(AuthError::SessionEnded);
        }
        Ok(user)
    }

    pub async fn update_profile(
        &self,
        ctx: &TenantContext,
        display_name: Option<&str>,
        default_project: Option<Option<Uuid>>,
    ) -> Result<User, AuthError> {
        let user = self.current_user(ctx).await?;
        let display_name = display_name.map(DisplayName::parse).transpose()?;
        let tx = self.db.unscoped_tx().await?;
        let updated = repo::update_profile(
            &tx,
            user.id,
            display_name.as_ref().map(DisplayName::as_str),
            default_project,
        )
        .await?
        .ok_or(AuthError::SessionEnded)?;
        tx.commit().await?;
        Ok(updated)
    }

    /// Changes the password, ends every other session and clears throttling.
    pub async fn change_password(
        &self,
        ctx: &TenantContext,
        current: &SecretString,
        new: &SecretString,
    ) -> Result<(), AuthError> {
        let client_ip = ctx.client_ip().map(|ip| ip.to_string());
        let client_ip = client_ip.as_deref();
        let user = self.current_user(ctx).await?;
        let new = NewPassword::parse(new)?;
        if !self
            .hasher
            .verify(current, Some(&user.password_hash))
            .await?
            .matches
        {
            return Err(AuthError::InvalidCredentials);
        }
        let hash = self.hasher.hash(new.secret()).await?;
        let tx = self.db.unscoped_tx().await?;
        repo::set_password_hash(&tx, user.id, &hash).await?;
        let revoked =
            repo::revoke_sessions(&tx, user.id, None, ctx.session_id(), "password_changed").await?;
        repo::clear_account_failures(&tx, &user.email).await?;
        repo::audit(
            &tx,
            "password_changed",
            Some(user.id),
            ctx.session_id(),
            client_ip,
            json!({}),
        )
        .await?;
        repo::audit(
            &tx,
            "sessions_revoked",
            Some(user.id),
            ctx.session_id(),
            client_ip,
            json!({ "count": revoked.len(), "reason": "password_changed" }),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Ends this session (`everywhere = false`) or all of the user's.
    pub async fn log_out(&self, ctx: &TenantContext, everywhere: bool) -> Result<usize, AuthError> {
        let user_id = ctx.require_user()?;
        let only = if everywhere {
            None
        } else {
            Some(ctx.session_id().ok_or(AuthError::SessionEnded)?)
        };
        let tx = self.db.unscoped_tx().await?;
        let revoked = repo::revoke_sessions(
            &tx,
            user_id,
            only,
            None,
            if everywhere {
                "logout_everywhere"
            } else {
                "logout"
            },
        )
        .await?;
        repo::audit(
            &tx,
            "sessions_revoked",
            Some(user_id),
            ctx.session_id(),
            None,
            json!({ "count": revoked.len(), "everywhere": everywhere }),
        )
        .await?;
        tx.commit().await?;
        Ok(revoked.len())
    }

    pub async fn list_users(
        &self,
        ctx: &TenantContext,
        after: Option<(DateTime<Utc>, Uuid)>,
        limit: i64,
    ) -> Result<Vec<User>, AuthError> {
        ctx.require_platform_admin()?;
        let tx = self.db.unscoped_tx().await?;
        Ok(repo::list_users(&tx, after, limit).await?)
    }

    /// Disables a user and ends all their sessions.
    pub async fn disable_user(&self, ctx: &TenantContext, user_id: Uuid) -> Result<(), AuthError> {
        let admin = ctx.require_platform_admin()?;
        let tx = self.db.unscoped_tx().await?;
        if !repo::disable_user(&tx, user_id).await? {
            return Err(AuthError::NotFound("user"));
        }
        let revoked = repo::revoke_sessions(&tx, user_id, None, None, "user_disabled").await?;
        repo::audit(
            &tx,
            "user_disabled",
            Some(user_id),
            None,
            None,
            json!({ "by": admin, "sessions_revoked": revoked.len() }),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn create_api_key(
        &self,
        ctx: &TenantContext,
        name: &str,
        role: Role,
        expires_at: DateTime<Utc>,
    ) -> Result<CreatedApiKey, AuthError> {
        let project = *ctx.require_role(Role::Admin)?;
        let created_by = ctx.require_user()?;
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(AuthError::Invalid {
                field: "name",
                message: "must be 1 to 100 characters".into(),
            });
        }
        if role > Role::Member {
            return Err(AuthError::ApiKeyRoleTooHigh);
        }
        let max_days = self.policy.api_key_max_days;
        let now = Utc::now();
        if expires_at <= now || expires_at > now + chrono::Duration::days(max_days) {
            return Err(AuthError::ApiKeyExpiry { max_days });
        }
        let key = ApiKey::generate()?;
        let tx = self.db.tenant_tx(ctx).await?;
        // The context's role may predate a demotion the project service
        // has already reported; under the lock, a report being applied
        // either sees this key or is seen here.
        repo::lock_key_creator(&tx, project.project_id, created_by).await?;
        if repo::key_creator_allowed(&tx, project.project_id, created_by).await? == Some(false) {
            return Err(AuthError::KeyCreatorRoleTooLow);
        }
        let record = repo::insert_api_key(
            &tx,
            &NewApiKey {
                project_id: project.project_id,
                name,
                role: role.as_str(),
                key_hash: &key.hash(),
                display_prefix: &key.display_prefix(),
                last_four: &key.last_four(),
                created_by,
                expires_at,
            },
        )
        .await?;
        repo::audit(
            &tx,
            "api_key_created",
            Some(created_by),
            ctx.session_id(),
            None,
            json!({ "project_id": project.project_id, "api_key_id": record.id, "role": role }),
        )
        .await?;
        tx.commit().await?;
        Ok(CreatedApiKey {
            record,
            key: key.expose().to_owned(),
        })
    }

    pub async fn list_api_keys(
        &self,
        ctx: &TenantContext,
        after: Option<(DateTime<Utc>, Uuid)>,
        limit: i64,
    ) -> Result<Vec<ApiKeyRecord>, AuthError> {
        let project = *ctx.require_role(Role::Admin)?;
        let tx = self.db.tenant_tx(ctx).await?;
        Ok(repo::list_api_keys(&tx, project.project_id, after, limit).await?)
    }

    pub async fn revoke_api_key(&self, ctx: &TenantContext, id: Uuid) -> Result<(), AuthError> {
        let project = *ctx.require_role(Role::Admin)?;
        let tx = self.db.tenant_tx(ctx).await?;
        if !repo::revoke_api_key(&tx, project.project_id, id).await? {
            return Err(AuthError::NotFound("api key"));
        }
        repo::audit(
            &tx,
            "api_key_revoked",
            ctx.require_user().ok(),
            ctx.session_id(),
            None,
            json!({ "project_id": project.project_id, "api_key_id": id }),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Checksum first, so junk never reaches the database.
    pub async fn introspect_api_key(
        &self,
        candidate: &SecretString,
    ) -> Result<Introspection, AuthError> {
        let key = ApiKey::parse(candidate.expose_secret()).ok_or(AuthError::ApiKeyInvalid)?;
        self.api_key_lookups.inc();
        let tx = self.db.unscoped_tx().await?;
        let found = repo::introspect_api_key(&tx, &key.hash()).await?;
        tx.commit().await?;
        let key = found.ok_or(AuthError::ApiKeyInvalid)?;
        Ok(Introspection {
            principal_id: key.id,
            project_id: key.project_id,
            role: key.role,
            expires_at: key.expires_at,
        })
    }
}

fn throttled(seconds: i64) -> AuthError {
    AuthError::Throttled {
        retry_after_secs: u64::try_from(seconds.max(1)).unwrap_or(1),
    }
}
