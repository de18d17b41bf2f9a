//! The only door into the platform: authenticates callers, resolves the
//! project, authorizes, rate limits and proxies to the versioned backend
//! named by the route table.

pub mod backends;
pub mod breaker;
pub mod cache;
pub mod client_address;
pub mod docs;
pub mod jwt;
pub mod pipeline;
pub mod proxy;
pub mod rate_policy;
pub mod ratelimit;
pub mod route_table;
pub mod settings;

use std::sync::{Arc, Weak};
use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, web};
use tenant_core::client::ServiceClient;
use tenant_core::context::{InternalTokenError, InternalTokenIssuer};
use tenant_core::server::HostError;
use tenant_core::{Application, Migration, Problem, ServiceSpec};

use crate::backends::{BackendConfig, Backends};
use crate::breaker::Breakers;
use crate::jwt::{TokenVerifier, VerifierConfig};
use crate::pipeline::Gateway;
use crate::proxy::Proxy;
use crate::ratelimit::{Limit, SharedLimiter};
use crate::route_table::{RouteTable, RouteTableError};
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

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Host(#[from] HostError),
    #[error(transparent)]
    Routes(#[from] RouteTableError),
    #[error("cannot read the route table {path}")]
    RoutesFile {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot build an HTTP client")]
    Client(#[from] reqwest::Error),
    #[error(transparent)]
    Token(#[from] InternalTokenError),
    #[error("invalid Redis configuration")]
    Redis(#[source] redis::RedisError),
}

/// Starts the api-gateway process: the proxy and its caches on the shared host, ready to run.
pub async fn build(settings: Settings) -> Result<Application, StartupError> {
    let redis = match &settings.service.redis_url {
        Some(url) => {
            let client = redis::Client::open(url.as_str()).map_err(StartupError::Redis)?;
            let timeout = Duration::from_millis(settings.service.redis_timeout_ms);
            let config = redis::aio::ConnectionManagerConfig::new()
                .set_connection_timeout(Some(Duration::from_millis(500)))
                .set_response_timeout(Some(timeout))
                .set_number_of_retries(1)
                .set_max_delay(Duration::from_secs(1));
            Some(
                redis::aio::ConnectionManager::new_lazy_with_config(client, config)
                    .map_err(StartupError::Redis)?,
            )
        }
        None => None,
    };
    let limiter = SharedLimiter::with_redis(
        redis,
        Duration::from_millis(settings.service.redis_timeout_ms),
        settings.service.replicas,
    );
    let gateway = Arc::new(build_gateway(&settings, limiter)?);
    // Warm the JWKS; if the auth service is not up yet, the first
    // token with an unknown kid fetches it.
    if let Err(error) = gateway.verifier.refresh().await {
        tracing::warn!(%error, "JWKS not loaded yet");
    }
    spawn_feeds(
        Arc::downgrade(&gateway),
        settings.service.poll_interval_ms,
        settings.service.jwks_refresh_secs,
    );
    let data = web::Data::from(gateway.clone());
    let docs = web::Data::new(docs::Docs::new()?);
    let host = Application::start(&SPEC, &settings, None, move |cfg| {
        cfg.app_data(data.clone())
            .app_data(docs.clone())
            .configure(docs::routes)
            .app_data(web::PayloadConfig::new(usize::MAX))
            .default_service(web::to(gateway_entry));
    })?;
    let counters = [
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
            &gateway.backends.access_hits,
        ),
        (
            "gateway_access_cache_misses",
            "Project access asked of the project service",
            &gateway.backends.access_misses,
        ),
        (
            "gateway_session_rechecks",
            "Sessions asked of the auth service because the revocation feed was stale",
            &gateway.backends.session_rechecks,
        ),
    ];
    for (name, help, counter) in counters {
        host.metrics().register(name, help, counter.clone());
    }
    host.metrics().register(
        "gateway_access_feed_position",
        "The last sequence of the project service's access change feed applied",
        gateway.backends.access_feed_position(),
    );
    host.metrics().register(
        "gateway_revocation_feed_position",
        "The last sequence of the auth service's revocation feed applied",
        gateway.backends.revocation_feed_position(),
    );
    Ok(host)
}

async fn gateway_entry(
    req: HttpRequest,
    payload: web::Payload,
    gateway: web::Data<Gateway>,
) -> Result<HttpResponse, Problem> {
    gateway.handle(req, payload).await
}

fn build_gateway(settings: &Settings, limiter: SharedLimiter) -> Result<Gateway, StartupError> {
    let own = &settings.service;
    let text = match &own.routes_file {
        Some(path) => std::fs::read_to_string(path).map_err(|source| StartupError::RoutesFile {
            path: path.clone(),
            source,
        })?,
        None => BUILT_IN_ROUTES.to_owned(),
    };
    let table = RouteTable::parse(&text, &own.upstreams)?;
    let issuer = InternalTokenIssuer::new(&settings.internal_token)?;
    let internal_timeout = Duration::from_millis(own.internal_call_timeout_ms);
    let client_for = |name: &str| -> Result<ServiceClient, StartupError> {
        let upstream = &own.upstreams[name];
        let audience: &'static str = Box::leak(upstream.audience.clone().into_boxed_str());
        Ok(ServiceClient::new(
            &upstream.url,
            audience,
            issuer.clone(),
            internal_timeout,
        )?)
    };
    let auth_url = own.upstreams[&own.auth_upstream]
        .url
        .trim_end_matches('/')
        .to_owned();
    let jwks_http = reqwest::Client::builder()
        .timeout(internal_timeout)
        .build()?;
    Ok(Gateway {
        verifier: TokenVerifier::new(
            VerifierConfig {
                jwks_url: format!("{auth_url}/.well-known/jwks.json"),
                issuer: own.token_issuer.clone(),
                audience: own.token_audience.clone(),
                leeway_secs: own.token_leeway_secs,
                max_token_bytes: own.max_token_bytes,
                refetch_interval: Duration::from_secs(own.jwks_refetch_interval_secs),
                cache_size: own.verified_token_cache_size,
            },
            jwks_http,
        ),
        backends: Backends::new(
            client_for(&own.auth_upstream)?,
            client_for(&own.project_upstream)?,
            BackendConfig {
                api_key_ttl: Duration::from_secs(own.api_key_cache_secs),
                api_key_negative_ttl: Duration::from_secs(own.api_key_negative_cache_secs),
                api_key_cache_size: own.api_key_cache_size,
                access_ttl: Duration::from_secs(own.access_cache_secs),
                access_cache_size: own.access_cache_size,
                feed_trusted_for: (pipeline::poll_interval(own.poll_interval_ms)
                    * FEED_POLLS_TRUSTED)
                    .max(Duration::from_secs(2)),
            },
        ),
        table,
        upstreams: own.upstreams.clone(),
        issuer,
        proxy: Proxy::new(
            Duration::from_millis(own.connect_timeout_ms),
            Breakers::new(
                own.breaker_failure_threshold,
                Duration::from_millis(own.breaker_open_ms),
            ),
        )?,
        limiter,
        principal_limit: Limit {
            per_minute: own.principal_rate_per_minute,
            burst: own.principal_burst.max(1),
        },
        anonymous_limit: Limit {
            per_minute: own.anonymous_rate_per_minute,
            burst: own.anonymous_burst,
        },
        anonymous_global_limit: Limit {
            per_minute: own.anonymous_global_rate_per_minute,
            burst: own.anonymous_global_burst,
        },
        trusted_proxies: settings.server.trusted_proxies.clone(),
        default_version: own.default_version,
        cors_allowed_origins: own.cors_allowed_origins.clone(),
    })
}

/// Cached access answers, API key principals and session states stay in
/// use while their feed was read within this many poll intervals (at least
/// 2 s); after that every request asks the owning service again until the
/// feed answers.
const FEED_POLLS_TRUSTED: u32 = 5;

/// Polls the access-change and revocation feeds, and refreshes the JWKS,
/// for as long as the gateway exists.
fn spawn_feeds(gateway: Weak<Gateway>, poll_ms: u64, jwks_refresh_secs: u64) {
    tokio::spawn(async move {
        let interval = pipeline::poll_interval(poll_ms);
        let mut last_jwks = tokio::time::Instant::now();
        loop {
            let Some(gateway) = gateway.upgrade() else {
                return;
            };
            gateway.backends.poll_feeds().await;
            if gateway.verifier.has_no_keys()
                || last_jwks.elapsed() >= Duration::from_secs(jwks_refresh_secs)
            {
                let _ = gateway.verifier.refresh().await;
                last_jwks = tokio::time::Instant::now();
            }
            drop(gateway);
            tokio::time::sleep(interval).await;
        }
    });
}
