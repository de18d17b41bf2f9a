//! The request path through the gateway, in order: version and route
//! (named on the request's telemetry; unsafe path parameters refused),
//! authentication (`authenticate`), project context and role
//! (`authorize`), rate limits (`rate_limit`), then the proxy; CORS
//! (`cors`) around it.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use actix_web::http::Method;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use tenant_core::client::ServiceClient;
use tenant_core::config::TrustedProxies;
use tenant_core::context::InternalTokenIssuer;
use tenant_core::{Principal, PrincipalKind, ProjectAccess, TenantContext};
use uuid::Uuid;

use crate::Settings;
use crate::breaker::Breakers;
use crate::client_address::client_address;
use crate::domain::api_version::version_and_path;
use crate::domain::path_parameters::unsafe_parameter;
use crate::domain::route_table::{PathParams, Route, RouteMatch, RouteTable};
use crate::error::{GatewayError, StartupError};
use crate::jwt::{TokenVerifier, VerifiedUser, VerifierConfig};
use crate::lookups::{Access, KeyPrincipal, LookupConfig, Lookups};
use crate::proxy::Proxy;
use crate::rate_limiter::{Limit, SharedLimiter};
use crate::rate_policy::insert_rate_headers;
use crate::settings::Upstream;

mod authenticate;
mod authorize;
mod cors;
mod rate_limit;

/// Everything the request path needs, shared by all workers.
#[derive(Debug)]
pub struct Gateway {
    pub table: RouteTable,
    pub upstreams: BTreeMap<String, Upstream>,
    pub verifier: TokenVerifier,
    pub lookups: Lookups,
    pub issuer: InternalTokenIssuer,
    pub proxy: Proxy,
    pub limiter: SharedLimiter,
    pub principal_limit: Limit,
    /// Callers without credentials, per client address.
    pub anonymous_limit: Limit,
    /// Callers without credentials, all addresses together.
    pub anonymous_global_limit: Limit,
    pub trusted_proxies: TrustedProxies,
    pub default_version: u32,
    pub cors_allowed_origins: Vec<String>,
    /// The web dashboard's route, when `service.pages_upstream` is set.
    pub pages: Option<Route>,
}

/// The authenticated caller.
enum Caller {
    Anonymous,
    User(VerifiedUser),
    ApiKey(KeyPrincipal),
}

/// The upstream that owns projects and memberships (deploy/config/routes.toml).
const PROJECT_UPSTREAM: &str = "project";

impl Gateway {
    /// The gateway `settings` describe: its route table (the built-in one
    /// unless `service.routes_file` names another), clients of the auth and
    /// project services, limits and the proxy.
    pub fn new(settings: &Settings, limiter: SharedLimiter) -> Result<Self, StartupError> {
        let own = &settings.service;
        let text = match &own.routes_file {
            Some(path) => {
                std::fs::read_to_string(path).map_err(|source| StartupError::RoutesFile {
                    path: path.clone(),
                    source,
                })?
            }
            None => crate::BUILT_IN_ROUTES.to_owned(),
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
        Ok(Self {
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
            lookups: Lookups::new(
                client_for(&own.auth_upstream)?,
                client_for(&own.project_upstream)?,
                LookupConfig {
                    api_key_ttl: Duration::from_secs(own.api_key_cache_secs),
                    api_key_negative_ttl: Duration::from_secs(own.api_key_negative_cache_secs),
                    api_key_cache_size: own.api_key_cache_size,
                    access_ttl: Duration::from_secs(own.access_cache_secs),
                    access_cache_size: own.access_cache_size,
                    feed_trusted_for: own.feed_trusted_for(),
                },
            ),
            table,
            upstreams: own.upstreams.clone(),
            issuer,
            proxy: Proxy::new(
                &own.upstreams,
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
            pages: own.pages_upstream.as_deref().map(Route::pages),
        })
    }

    /// The route of `req` and its path parameters. Names the route on the
    /// current span (the request's), so call it before opening another.
    pub fn match_route(&self, req: &HttpRequest) -> Result<(&Route, PathParams), GatewayError> {
        let accept = req
            .headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok());
        let (version, path) = version_and_path(req.path(), accept, self.default_version)
            .ok_or(GatewayError::RouteNotFound)?;
        if !self.table.has_version(version) {
            return Err(GatewayError::RouteNotFound);
        }
        let (route, params) = match self.table.find(version, path, req.method()) {
            RouteMatch::Found { route, params } => (route, params),
            RouteMatch::NotFound => return Err(GatewayError::RouteNotFound),
            RouteMatch::MethodNotAllowed(allowed) => {
                return Err(GatewayError::MethodNotAllowed(allowed));
            }
        };
        tenant_core::telemetry::record_route(req, &route.template);
        if let Some(name) = unsafe_parameter(&params) {
            return Err(GatewayError::UnsafePathParameter(name.to_owned()));
        }
        Ok((route, params))
    }

    /// Authenticates, authorizes, rate limits and proxies a request whose
    /// route was matched. Records who is calling, and in which project, on
    /// the current span (the request's, where they are declared empty).
    pub async fn serve(
        &self,
        req: &HttpRequest,
        payload: web::Payload,
        route: &Route,
        params: &[(String, String)],
    ) -> Result<HttpResponse, GatewayError> {
        let request_id = tenant_core::telemetry::current_request_id().unwrap_or_default();
        let client_ip = client_address(req, &self.trusted_proxies);
        let caller = self.authenticate(req, route, &request_id).await?;
        let access = self
            .authorize(req, route, params, &caller, &request_id)
            .await?;
        let context = self.context(&caller, access.as_deref(), &request_id, client_ip);
        let span = tracing::Span::current();
        span.record(
            "principal_id",
            tracing::field::display(context.principal().id),
        );
        if let Some(project) = context.project() {
            span.record("project_id", tracing::field::display(project.project_id));
        }
        let rate = self
            .rate_limit(&caller, access.as_deref(), route, client_ip)
            .await;
        if let Some(rate) = rate
            && !rate.decision.allowed
        {
            return Err(GatewayError::RateLimited(rate));
        }

        let upstream = self
            .upstreams
            .get(&route.upstream)
            .ok_or_else(|| GatewayError::UnknownUpstream(route.upstream.clone()))?;
        let token = self.issuer.issue(&upstream.audience, &context)?;
        let mut response = self
            .proxy
            .forward(req, payload, route, params, &token)
            .await?;
        // Read your own writes: projects and memberships are the project
        // service's; a change there drops what is cached for its author.
        if route.upstream == PROJECT_UPSTREAM
            && !matches!(*req.method(), Method::GET | Method::HEAD)
            && response.status().is_success()
            && let Caller::User(user) = &caller
        {
            self.lookups.forget_user(user.user_id);
        }
        let headers = response.headers_mut();
        for (name, value) in &route.deprecation_headers {
            headers.insert(name.clone(), value.clone());
        }
        if let Some(rate) = rate {
            insert_rate_headers(headers, &rate);
        }
        self.cors_headers(req, headers);
        Ok(response)
    }

    /// The context the upstream gets, inside its context token.
    fn context(
        &self,
        caller: &Caller,
        access: Option<&Access>,
        request_id: &str,
        client_ip: Option<IpAddr>,
    ) -> TenantContext {
        let project = access.map(|a| ProjectAccess {
            project_id: a.project_id,
            role: a.role,
        });
        let context = match caller {
            Caller::Anonymous => TenantContext::new(
                Principal {
                    id: Uuid::nil(),
                    kind: PrincipalKind::Anonymous,
                },
                None,
                request_id,
            ),
            Caller::User(user) => TenantContext::new(
                Principal {
                    id: user.user_id,
                    kind: PrincipalKind::User,
                },
                project,
                request_id,
            )
            .with_session(user.session_id)
            .with_platform_admin(user.platform_admin),
            Caller::ApiKey(key) => TenantContext::new(
                Principal {
                    id: key.principal_id,
                    kind: PrincipalKind::ApiKey,
                },
                project,
                request_id,
            ),
        };
        match client_ip {
            Some(client_ip) => context.with_client_ip(client_ip),
            None => context,
        }
    }
}
