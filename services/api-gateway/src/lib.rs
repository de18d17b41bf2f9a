//! The only door into the platform: authenticates callers, resolves the
//! project, authorizes, rate limits and proxies to the versioned backend
//! named by the route table.
//!
//! Where things are: [`routes`] is what the gateway serves itself and the
//! catch-all; [`gateway`] the request path behind it; [`domain`] the route
//! table and the rules on paths; [`lookups`] what the gateway asks the auth
//! and project services about callers, cached and kept right by their
//! feeds (`jobs` polls them); [`openapi_merge`] the public API document.

pub mod breaker;
pub mod client_address;
pub mod domain;
pub mod error;
pub mod gateway;
mod jobs;
pub mod jwt;
pub mod lookups;
pub mod openapi_merge;
pub mod proxy;
pub mod rate_limiter;
pub mod rate_policy;
pub mod routes;
pub mod settings;
pub mod upstream;

use std::sync::Arc;
use std::time::Duration;

use actix_web::web;
use prometheus_client::metrics::counter::Counter;
use tenant_core::{Application, Migration, ServiceSpec};

pub use crate::error::{GatewayError, StartupError};
pub use crate::gateway::Gateway;
use crate::openapi_merge::PublicDocument;
use crate::rate_limiter::SharedLimiter;
use crate::settings::GatewaySettings;

pub type Settings = tenant_core::config::Settings<GatewaySettings>;

/// The route table shipped with the gateway (`deploy/config/routes.toml`).
pub const BUILT_IN_ROUTES: &str = include_str!("../../../deploy/config/routes.toml");

/// The gateway keeps no data of its own.
pub const MIGRATIONS: &[Migration] = &[];

pub static SPEC: ServiceSpec = ServiceSpec {
    name: "api-gateway",
    schema: None,
    migrations: MIGRATIONS,
};

/// Starts the api-gateway process: the proxy and its caches on the shared host, ready to run.
pub async fn build(settings: Settings) -> Result<Application, StartupError> {
    let limiter = SharedLimiter::with_redis(
        redis_connection(&settings.service)?,
        Duration::from_millis(settings.service.redis_timeout_ms),
        settings.service.replicas,
    );
    let gateway = Arc::new(Gateway::new(&settings, limiter)?);
    // Warm the JWKS; if the auth service is not up yet, the first
    // token with an unknown kid fetches it.
    if let Err(error) = gateway.verifier.refresh().await {
        tracing::warn!(%error, "JWKS not loaded yet");
    }
    jobs::spawn_feeds_and_key_refresh(
        Arc::downgrade(&gateway),
        settings.service.poll_interval(),
        Duration::from_secs(settings.service.jwks_refresh_secs),
    );
    let data = web::Data::from(gateway.clone());
    let document = web::Data::new(PublicDocument::new()?);
    let host = Application::start(&SPEC, &settings, None, move |cfg| {
        cfg.app_data(data.clone())
            .app_data(document.clone())
            .configure(routes::configure);
    })?;
    register_metrics(&host, &gateway);
    Ok(host)
}

/// Limits shared by every replica through Redis, when one is configured.
fn redis_connection(
    settings: &GatewaySettings,
) -> Result<Option<redis::aio::ConnectionManager>, StartupError> {
    let Some(url) = &settings.redis_url else {
        return Ok(None);
    };
    let client = redis::Client::open(url.as_str()).map_err(StartupError::Redis)?;
    let config = redis::aio::ConnectionManagerConfig::new()
        .set_connection_timeout(Some(Duration::from_millis(500)))
        .set_response_timeout(Some(Duration::from_millis(settings.redis_timeout_ms)))
        .set_number_of_retries(1)
        .set_max_delay(Duration::from_secs(1));
    redis::aio::ConnectionManager::new_lazy_with_config(client, config)
        .map(Some)
        .map_err(StartupError::Redis)
}

fn register_metrics(host: &Application, gateway: &Gateway) {
    let counters: [(&str, &str, &Counter); 8] = [
        (
            "gateway_jwks_fetches",
            "JWKS fetches from the auth service",
            &gateway.verifier.jwks_fetches,
        ),
        (
            "gateway_token_cache_hits",
            "Access tokens answered from the verified-token cache",
            &gateway.verifier.cache_hits,
        ),
        (
            "gateway_token_cache_misses",
            "Access tokens verified by signature",
            &gateway.verifier.cache_misses,
        ),
        (
            "gateway_rate_limit_fallbacks",
            "Rate-limit checks decided locally because Redis failed or was slow",
            &gateway.limiter.fallbacks,
        ),
        (
            "gateway_breaker_opened",
            "Times an upstream's circuit breaker opened",
            &gateway.proxy.breakers.opened,
        ),
        (
            "gateway_access_cache_hits",
            "Project access answered from cache",
            &gateway.lookups.access_hits,
        ),
        (
            "gateway_access_cache_misses",
            "Project access asked of the project service",
            &gateway.lookups.access_misses,
        ),
        (
            "gateway_session_rechecks",
            "Sessions asked of the auth service because the revocation feed was stale",
            &gateway.lookups.session_rechecks,
        ),
    ];
    for (name, help, counter) in counters {
        host.metrics().register(name, help, counter.clone());
    }
    host.metrics().register(
        "gateway_access_feed_position",
        "The last sequence of the project service's access change feed applied",
        gateway.lookups.access_feed_position(),
    );
    host.metrics().register(
        "gateway_revocation_feed_position",
        "The last sequence of the auth service's revocation feed applied",
        gateway.lookups.revocation_feed_position(),
    );
}
