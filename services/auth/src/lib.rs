//! Identities and credentials: users, sessions, signing keys with JWKS, API
//! keys. The only issuer of tokens; the gateway verifies them with the
//! public keys published at `/.well-known/jwks.json`.

pub mod api_key;
pub mod crypto;
pub mod domain;
pub mod error;
pub mod feeds;
pub mod flows;
pub mod keys;
pub mod password;
pub mod repo;
mod routes;
pub mod settings;
pub mod throttle;
pub mod tokens;

use std::sync::Arc;
use std::time::Duration;

use actix_web::web;
use prometheus_client::metrics::counter::Counter;
use tenant_core::server::{self, HostError};
use tenant_core::{Application, Db, Migration, ServiceSpec};

use crate::crypto::MasterKeys;
use crate::error::AuthError;
use crate::flows::{AuthState, Policy};
use crate::keys::{KeyPolicy, KeyStore};
use crate::password::PasswordHasher;
use crate::settings::AuthSettings;
use crate::throttle::AccountBackoff;
use crate::tokens::AccessTokenIssuer;

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
struct AuthMetrics {
    password_verifications: Counter,
    api_key_lookups: Counter,
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
    host.metrics().register(
        "auth_password_verifications",
        "Password verifications performed, including dummy ones for unknown accounts",
        metrics.password_verifications,
    );
    host.metrics().register(
        "auth_api_key_lookups",
        "API key introspections that reached the database (checksum passed)",
        metrics.api_key_lookups,
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
        api_key_lookups: metrics.api_key_lookups.clone(),
        public_flow_connections: tokio::sync::Semaphore::new(
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
