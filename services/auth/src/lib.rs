//! Identities and credentials: users, sessions, signing keys with JWKS, API
//! keys. The only issuer of tokens; the gateway verifies them with the
//! public keys published at `/.well-known/jwks.json`.

pub mod accounts;
pub mod crypto;
pub mod domain;
pub mod error;
pub mod keyring;
mod log_in;
pub mod password_hasher;
mod refresh;
pub mod repository;
mod routes;
pub mod settings;

use std::sync::Arc;
use std::time::Duration;

use actix_web::web;
use prometheus_client::metrics::counter::Counter;
use tenant_core::server::{self, HostError};
use tenant_core::{Application, Db, Migration, ServiceSpec};
use tokio::sync::{Semaphore, SemaphorePermit};
use uuid::Uuid;

use crate::crypto::MasterKeys;
use crate::domain::account_backoff::AccountBackoff;
use crate::domain::policy::Policy;
use crate::domain::signing_keys::KeyPolicy;
use crate::domain::tokens::{AccessTokenIssuer, Subject, TokenResponse};
use crate::domain::user::User;
use crate::error::AuthError;
use crate::keyring::KeyStore;
use crate::password_hasher::PasswordHasher;
use crate::settings::AuthSettings;

pub type Settings = tenant_core::config::Settings<AuthSettings>;

/// Embedded from `migrations/auth/`; a platform test checks the list against the folder.
pub const MIGRATIONS: &[Migration] = &[
    Migration::embedded(
        1,
        "users",
        include_str!("../../../migrations/auth/0001_users.sql"),
    ),
    Migration::embedded(
        2,
        "sessions_keys_api_keys",
        include_str!("../../../migrations/auth/0002_sessions_keys_api_keys.sql"),
    ),
    Migration::embedded(
        3,
        "login_throttle_window",
        include_str!("../../../migrations/auth/0003_login_throttle_window.sql"),
    ),
    Migration::embedded(
        4,
        "revocation_feed_and_key_creators",
        include_str!("../../../migrations/auth/0004_revocation_feed_and_key_creators.sql"),
    ),
];

pub static SPEC: ServiceSpec = ServiceSpec {
    name: "auth-service",
    schema: Some("auth"),
    migrations: MIGRATIONS,
};

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Host(#[from] HostError),
    #[error("the auth service could not initialise")]
    Auth(#[from] AuthError),
}

/// Metrics the auth service adds to `/metrics`.
#[derive(Debug, Clone, Default)]
pub struct AuthMetrics {
    /// Argon2 verifications, dummy ones for unknown accounts included.
    pub password_verifications: Counter,
    /// Database lookups made by API key introspection (junk never gets one).
    pub api_key_lookups: Counter,
}

/// Everything the handlers share.
#[derive(Debug)]
pub struct AuthState {
    pub db: Db,
    pub hasher: PasswordHasher,
    pub keys: KeyStore,
    pub access: AccessTokenIssuer,
    /// Seals what is kept to be shown again (a rotated refresh token's successor).
    pub master: Arc<MasterKeys>,
    pub policy: Policy,
    pub metrics: AuthMetrics,
    /// Connections the flows of callers without credentials (sign-up,
    /// log-in, refresh) may hold at once: half the pool. A flood of them
    /// queues here, and signed-in users and API key introspection keep
    /// the other half.
    pub public_flow_connections: Semaphore,
}

impl AuthState {
    /// A turn at the connections of the flows without credentials; held
    /// for one short transaction.
    pub async fn public_flow_connection(&self) -> Result<SemaphorePermit<'_>, AuthError> {
        self.public_flow_connections
            .acquire()
            .await
            // Only a closed semaphore refuses, and this one is never closed.
            .map_err(|_| AuthError::Unavailable)
    }

    /// An access token for `user` in `session_id`, with the refresh token
    /// the client keeps: the OAuth 2.0 token response.
    pub async fn issue_tokens(
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
}

/// Starts the auth-service process: its routes on the shared host, ready to run.
pub async fn build(settings: Settings) -> Result<Application, StartupError> {
    let db = server::connect_database(&SPEC, &settings)
        .await?
        .ok_or(HostError::NoDatabase)?;
    let metrics = AuthMetrics::default();
    let state = web::Data::new(build_state(&settings, db.clone(), &metrics).await?);
    // The first start creates the first signing key.
    state.keys.current().await?;
    let routes_state = state.clone();
    let host = Application::start(&SPEC, &settings, Some(db), move |cfg| {
        cfg.app_data(routes_state.clone());
        routes::configure(cfg);
    })?;
    let AuthMetrics {
        password_verifications,
        api_key_lookups,
    } = metrics;
    host.metrics().register(
        "auth_password_verifications",
        "Password verifications performed, including dummy ones for unknown accounts",
        password_verifications,
    );
    host.metrics().register(
        "auth_api_key_lookups",
        "API key introspections that reached the database (checksum passed)",
        api_key_lookups,
    );
    Ok(host)
}

/// The shared state, also used by the admin commands.
async fn build_state(
    settings: &Settings,
    db: Db,
    metrics: &AuthMetrics,
) -> Result<AuthState, AuthError> {
    let own = &settings.service;
    let master = Arc::new(MasterKeys::new(
        &own.master_key_id,
        own.master_keys(settings.environment),
    )?);
    let secs = |value: i64| Duration::from_secs(u64::try_from(value).unwrap_or(0));
    let keys = KeyStore::new(
        db.clone(),
        master.clone(),
        KeyPolicy {
            jwks_max_age: secs(own.jwks_max_age_secs),
            rotation_days: own.key_rotation_days,
            retired_publication: secs(own.access_token_ttl_secs + own.token_leeway_secs)
                + Duration::from_secs(own.keyring_refresh_secs),
            refresh: Duration::from_secs(own.keyring_refresh_secs),
        },
    );
    Ok(AuthState {
        hasher: PasswordHasher::new(
            own.password_hashing_concurrency,
            metrics.password_verifications.clone(),
        )
        .await?,
        keys,
        access: AccessTokenIssuer {
            issuer: own.issuer.clone(),
            audience: own.audience.clone(),
            ttl_secs: own.access_token_ttl_secs,
        },
        master,
        policy: Policy {
            refresh_idle_days: own.refresh_idle_days,
            refresh_family_days: own.refresh_family_days,
            refresh_grace_secs: own.refresh_grace_secs,
            account_backoff: AccountBackoff {
                max_failures: own.throttle_max_failures,
                base_secs: own.throttle_base_backoff_secs,
                max_secs: own.throttle_max_backoff_secs,
                window_secs: own.throttle_window_secs,
            },
            api_key_max_days: own.api_key_max_days,
            revocation_window_secs: own.access_token_ttl_secs + own.token_leeway_secs,
        },
        metrics: metrics.clone(),
        public_flow_connections: Semaphore::new(
            settings
                .database
                .as_ref()
                .map_or(1, |database| database.pool_max_size / 2)
                .max(1),
        ),
        db,
    })
}

/// State for admin commands run from the command line.
pub async fn admin_state(settings: &Settings) -> Result<AuthState, StartupError> {
    let db = server::connect_database(&SPEC, settings)
        .await?
        .ok_or(HostError::NoDatabase)?;
    Ok(build_state(settings, db, &AuthMetrics::default()).await?)
}
