//! The request path through the gateway, in order: version and route
//! (named on the request's telemetry; unsafe path parameters refused),
//! authentication, project context, authorization, rate limit, proxy.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::{HttpRequest, HttpResponse, web};
use tenant_core::config::TrustedProxies;
use tenant_core::context::InternalTokenIssuer;
use tenant_core::{Principal, PrincipalKind, Problem, ProjectAccess, Role, TenantContext};
use uuid::Uuid;

use crate::backends::{Access, AccessSubject, Backends, KeyPrincipal};
use crate::client_address::client_address;
use crate::jwt::{TokenVerifier, VerifiedUser};
use crate::proxy::Proxy;
use crate::rate_policy::{RateOutcome, RatePolicy, address_key, insert_rate_headers};
use crate::ratelimit::{Limit, SharedLimiter};
use crate::route_table::{
    AuthMode, ProjectSource, Route, RouteMatch, RouteTable, unsafe_parameter,
};
use crate::settings::Upstream;

/// Everything the request path needs, shared by all workers.
#[derive(Debug)]
pub struct Gateway {
    pub table: RouteTable,
    pub upstreams: BTreeMap<String, Upstream>,
    pub verifier: TokenVerifier,
    pub backends: Backends,
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
}

/// The authenticated caller.
enum Caller {
    Anonymous,
    User(VerifiedUser),
    ApiKey(KeyPrincipal),
}

pub const PROJECT_HEADER: &str = "x-project-id";
/// The upstream that owns projects and memberships (deploy/config/routes.toml).
const PROJECT_UPSTREAM: &str = "project";

fn not_found() -> Problem {
    Problem::not_found("route.not_found", "no such route")
}

/// One answer for "not a member" and "no such project", so neither leaks.
fn project_not_found() -> Problem {
    Problem::not_found("project.not_found", "no such project")
}

fn unauthorized(detail: &'static str) -> Problem {
    Problem::unauthorized("auth.invalid_token", detail)
}

/// Splits `/api/...` into the version and the path after it.
fn version_and_path<'a>(
    path: &'a str,
    accept: Option<&str>,
    default_version: u32,
) -> Option<(u32, &'a str)> {
    let rest = path.strip_prefix("/api")?;
    if !rest.starts_with('/') {
        return None;
    }
    if let Some(after_v) = rest.strip_prefix("/v") {
        let (digits, tail) = after_v.split_at(after_v.find('/').unwrap_or(after_v.len()));
        if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
            return Some((digits.parse().ok()?, tail));
        }
    }
    let from_accept = accept.and_then(|accept| {
        accept.split(',').find_map(|item| {
            let media = item.split(';').next()?.trim();
            media
                .strip_prefix("application/vnd.faultline.v")?
                .strip_suffix("+json")?
                .parse::<u32>()
                .ok()
        })
    });
    Some((from_accept.unwrap_or(default_version), rest))
}

fn query_param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        (key == name && !value.is_empty()).then_some(value)
    })
}

impl Gateway {
    pub async fn handle(
        &self,
        req: HttpRequest,
        payload: web::Payload,
    ) -> Result<HttpResponse, Problem> {
        if let Some(preflight) = self.cors_preflight(&req) {
            return Ok(preflight);
        }
        let accept = req
            .headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok());
        let (version, path) =
            version_and_path(req.path(), accept, self.default_version).ok_or_else(not_found)?;
        if !self.table.has_version(version) {
            return Err(not_found());
        }
        let (route, params) = match self.table.find(version, path, req.method()) {
            RouteMatch::Found { route, params } => (route, params),
            RouteMatch::NotFound => return Err(not_found()),
            RouteMatch::MethodNotAllowed(allowed) => return Ok(method_not_allowed(&allowed)),
        };
        tenant_core::telemetry::record_route(&req, &route.template);
        if let Some(name) = unsafe_parameter(&params) {
            return Err(Problem::bad_request(
                "request.invalid_path_parameter",
                format!(
                    "the path parameter `{name}` is a dot segment or holds an encoded `/`, `\\` or `.`"
                ),
            ));
        }

        let request_id = tenant_core::telemetry::current_request_id().unwrap_or_default();
        let client_ip = client_address(&req, &self.trusted_proxies);
        let caller = self.authenticate(&req, route, &request_id).await?;
        let access = self
            .authorize(&req, route, &params, &caller, &request_id)
            .await?;
        let rate = self
            .rate_limit(&caller, access.as_ref(), route, client_ip)
            .await;
        if let Some(rate) = rate
            && !rate.decision.allowed
        {
            let problem = Problem::new(
                StatusCode::TOO_MANY_REQUESTS,
                "gateway.rate_limited",
                "Too many requests",
            )
            .with_detail(rate.policy.exhausted())
            .with_retry_after(rate.decision.retry_after_secs);
            let mut response = actix_web::ResponseError::error_response(&problem);
            insert_rate_headers(response.headers_mut(), &rate);
            return Ok(response);
        }

        let context = self.context(&caller, access.as_ref(), &request_id, client_ip);
        let upstream = self.upstreams.get(&route.upstream).ok_or_else(|| {
            Problem::internal(std::io::Error::other("route names an unknown upstream"))
        })?;
        let token = self
            .issuer
            .issue(&upstream.audience, &context)
            .map_err(Problem::internal)?;
        let mut response = self
            .proxy
            .forward(&req, payload, route, &params, upstream, &token)
            .await?;
        // Read your own writes: projects and memberships are the project
        // service's; a change there drops what is cached for its author.
        if route.upstream == PROJECT_UPSTREAM
            && !matches!(*req.method(), Method::GET | Method::HEAD)
            && response.status().is_success()
            && let Caller::User(user) = &caller
        {
            self.backends.forget_user(user.user_id);
        }
        let headers = response.headers_mut();
        for (name, value) in &route.deprecation_headers {
            headers.insert(name.clone(), value.clone());
        }
        if let Some(rate) = rate {
            insert_rate_headers(headers, &rate);
        }
        self.cors_headers(&req, headers);
        Ok(response)
    }

    async fn authenticate(
        &self,
        req: &HttpRequest,
        route: &Route,
        request_id: &str,
    ) -> Result<Caller, Problem> {
        let mut values = req.headers().get_all(header::AUTHORIZATION);
        let (first, second) = (values.next(), values.next());
        if second.is_some() {
            return Err(Problem::bad_request(
                "gateway.duplicate_authorization",
                "send one Authorization header",
            ));
        }
        let Some(value) = first else {
            return if route.auth == AuthMode::Public {
                Ok(Caller::Anonymous)
            } else {
                Err(Problem::unauthorized(
                    "auth.required",
                    "this route needs a bearer token or an API key",
                ))
            };
        };
        let value = value
            .to_str()
            .map_err(|_| unauthorized("the Authorization header is not readable"))?;
        let (scheme, credential) = value
            .split_once(' ')
            .ok_or_else(|| unauthorized("use the Bearer scheme"))?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(unauthorized("use the Bearer scheme"));
        }
        let credential = credential.trim();
        if credential.starts_with("flt_") {
            if route.auth == AuthMode::User {
                return Err(Problem::forbidden(
                    "gateway.user_required",
                    "this route is for signed-in users, not API keys",
                ));
            }
            let principal = self
                .backends
                .introspect(credential, request_id)
                .await
                .map_err(Problem::from)?
                .ok_or_else(|| {
                    Problem::unauthorized(
                        "api_key.invalid",
                        "the API key is invalid, expired or revoked",
                    )
                })?;
            return Ok(Caller::ApiKey(principal));
        }
        let user = self.verifier.verify(credential).await.map_err(|refusal| {
            tracing::info!(reason = %refusal, "bearer token refused");
            unauthorized("the access token is invalid or expired")
        })?;
        let live = self
            .backends
            .session_is_live(user.session_id, user.user_id, request_id)
            .await
            .map_err(Problem::from)?;
        if !live {
            return Err(unauthorized("the session of this token has ended"));
        }
        Ok(Caller::User(user))
    }

    /// Resolves the project from the path, `X-Project-Id`, `?project_id=`
    /// and (where the route allows) the token's default, and checks the
    /// caller's role there.
    async fn authorize(
        &self,
        req: &HttpRequest,
        route: &Route,
        params: &[(String, String)],
        caller: &Caller,
        request_id: &str,
    ) -> Result<Option<Access>, Problem> {
        if route.project == ProjectSource::None {
            return Ok(None);
        }
        let mut sources: Vec<String> = Vec::new();
        if route.project == ProjectSource::Path
            && let Some((_, value)) = params.iter().find(|(name, _)| name == "project")
        {
            sources.push(value.clone());
        }
        let headers: Vec<&HeaderValue> = req.headers().get_all(PROJECT_HEADER).collect();
        if headers.len() > 1 {
            return Err(Problem::bad_request(
                "gateway.project_conflict",
                "send one X-Project-Id header",
            ));
        }
        if let Some(value) = headers.first() {
            sources.push(
                value
                    .to_str()
                    .map_err(|_| {
                        Problem::bad_request(
                            "gateway.project_invalid",
                            "X-Project-Id is not readable",
                        )
                    })?
                    .to_owned(),
            );
        }
        if let Some(value) = query_param(req.query_string(), "project_id") {
            sources.push(value.to_owned());
        }
        if sources.is_empty() {
            match caller {
                Caller::ApiKey(key) => sources.push(key.project_id.to_string()),
                Caller::User(user) if route.project == ProjectSource::Default => {
                    if let Some(default) = user.default_project {
                        sources.push(default.to_string());
                    }
                }
                _ => {}
            }
        }
        sources.dedup();
        let subject = match caller {
            Caller::User(user) => AccessSubject::User(user.user_id),
            Caller::ApiKey(key) => AccessSubject::ApiKey {
                project_id: key.project_id,
                role: key.role,
            },
            Caller::Anonymous => {
                return Err(Problem::unauthorized(
                    "auth.required",
                    "this route needs credentials",
                ));
            }
        };
        let Some(first) = sources.first() else {
            return Err(Problem::bad_request(
                "gateway.project_required",
                "name the project in the path, X-Project-Id or ?project_id=",
            ));
        };
        let mut resolved: Option<Access> = None;
        for source in &sources {
            let access = self
                .backends
                .access(&subject, source, request_id)
                .await
                .map_err(Problem::from)?;
            match (access, &resolved) {
                (None, _) if sources.len() == 1 || source == first => {
                    return Err(project_not_found());
                }
                (None, _) => {
                    return Err(Problem::bad_request(
                        "gateway.project_conflict",
                        "the project sources name different projects",
                    ));
                }
                (Some(access), Some(previous)) if access.project_id != previous.project_id => {
                    return Err(Problem::bad_request(
                        "gateway.project_conflict",
                        "the project sources name different projects",
                    ));
                }
                (Some(access), _) => resolved = Some(access),
            }
        }
        let access = resolved.ok_or_else(project_not_found)?;
        let minimum = route.min_role(req.method()).unwrap_or(Role::Owner);
        if access.role < minimum {
            return Err(Problem::forbidden(
                "gateway.role_too_low",
                format!("this operation needs the {minimum} role or higher"),
            ));
        }
        Ok(Some(access))
    }

    /// Every limit that applies to this request, in order, each weighing
    /// the route's `rate_cost` (an upload also counts once against its
    /// plan's upload rate). The first refusal wins; otherwise the limit
    /// with the fewest requests of this kind left is reported.
    async fn rate_limit(
        &self,
        caller: &Caller,
        access: Option<&Access>,
        route: &Route,
        client_ip: Option<IpAddr>,
    ) -> Option<RateOutcome> {
        let cost = route.rate_cost;
        let mut checks: Vec<(RatePolicy, String, Limit, u32)> = Vec::with_capacity(3);
        match caller {
            Caller::Anonymous => {
                // The address's own limit first, so one noisy address is
                // refused before it uses up the shared ceiling.
                checks.push((
                    RatePolicy::Address,
                    format!("a:{}", address_key(client_ip)),
                    self.anonymous_limit,
                    cost,
                ));
                checks.push((
                    RatePolicy::Anonymous,
                    "anonymous".to_owned(),
                    self.anonymous_global_limit,
                    cost,
                ));
            }
            Caller::User(user) => checks.push((
                RatePolicy::Principal,
                format!("u:{}", user.user_id),
                self.principal_limit,
                cost,
            )),
            Caller::ApiKey(key) => checks.push((
                RatePolicy::Principal,
                format!("k:{}", key.principal_id),
                self.principal_limit,
                cost,
            )),
        }
        if let Some(access) = access {
            // The narrower limit first: an upload past its plan's upload
            // rate is refused as such, whatever requests remain.
            if route.upload {
                checks.push((
                    RatePolicy::Uploads,
                    format!("up:{}", access.project_id),
                    Limit {
                        per_minute: access.limits.uploads_per_minute,
                        burst: access.limits.upload_burst,
                    },
                    1,
                ));
            }
            checks.push((
                RatePolicy::Project,
                format!("p:{}", access.project_id),
                Limit {
                    per_minute: access.limits.requests_per_minute,
                    burst: access.limits.request_burst,
                },
                cost,
            ));
        }
        let mut tightest: Option<(u32, RateOutcome)> = None;
        for (policy, key, limit, cost) in checks {
            let decision = self.limiter.check(&key, limit, cost).await;
            let outcome = RateOutcome { policy, decision };
            if !decision.allowed {
                return Some(outcome);
            }
            let fits = decision.remaining / cost.max(1);
            if tightest.is_none_or(|(least, _)| fits < least) {
                tightest = Some((fits, outcome));
            }
        }
        tightest.map(|(_, outcome)| outcome)
    }

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

    fn allowed_origin(&self, req: &HttpRequest) -> Option<HeaderValue> {
        let origin = req.headers().get(header::ORIGIN)?;
        let text = origin.to_str().ok()?;
        self.cors_allowed_origins
            .iter()
            .any(|o| o == text)
            .then(|| origin.clone())
    }

    fn cors_preflight(&self, req: &HttpRequest) -> Option<HttpResponse> {
        if req.method() != Method::OPTIONS
            || !req
                .headers()
                .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
        {
            return None;
        }
        let mut response = HttpResponse::NoContent();
        response.insert_header((header::VARY, "Origin"));
        if let Some(origin) = self.allowed_origin(req) {
            response
                .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, origin))
                .insert_header((
                    header::ACCESS_CONTROL_ALLOW_METHODS,
                    "GET, POST, PUT, PATCH, DELETE",
                ))
                .insert_header((
                    header::ACCESS_CONTROL_ALLOW_HEADERS,
                    "authorization, content-type, x-project-id, x-request-id, idempotency-key",
                ))
                .insert_header((header::ACCESS_CONTROL_ALLOW_CREDENTIALS, "true"))
                .insert_header((header::ACCESS_CONTROL_MAX_AGE, "600"));
        }
        Some(response.finish())
    }

    fn cors_headers(&self, req: &HttpRequest, headers: &mut actix_web::http::header::HeaderMap) {
        if let Some(origin) = self.allowed_origin(req) {
            headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
            headers.insert(
                header::ACCESS_CONTROL_EXPOSE_HEADERS,
                HeaderValue::from_static(
                    "x-request-id, ratelimit, ratelimit-policy, retry-after, location",
                ),
            );
            headers.append(header::VARY, HeaderValue::from_static("Origin"));
        }
    }
}

fn method_not_allowed(allowed: &[Method]) -> HttpResponse {
    let list = allowed
        .iter()
        .map(Method::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    let mut response = actix_web::ResponseError::error_response(
        &Problem::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "route.method_not_allowed",
            "Method not allowed",
        )
        .with_detail(format!("allowed: {list}")),
    );
    if let Ok(value) = HeaderValue::from_str(&list) {
        response.headers_mut().insert(header::ALLOW, value);
    }
    response
}

/// How long the background feeds wait between polls when idle.
pub fn poll_interval(ms: u64) -> Duration {
    Duration::from_millis(ms.max(50))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_come_from_the_path_then_the_accept_header_then_the_default() {
        assert_eq!(version_and_path("/api/v1/me", None, 1), Some((1, "/me")));
        assert_eq!(
            version_and_path("/api/v2/projects/x", None, 1),
            Some((2, "/projects/x"))
        );
        assert_eq!(
            version_and_path("/api/me", Some("application/vnd.faultline.v2+json"), 1),
            Some((2, "/me"))
        );
        assert_eq!(
            version_and_path(
                "/api/me",
                Some("text/html, application/vnd.faultline.v3+json;q=0.9"),
                1
            ),
            Some((3, "/me"))
        );
        assert_eq!(
            version_and_path("/api/me", Some("application/json"), 1),
            Some((1, "/me"))
        );
        assert_eq!(version_and_path("/api/v0/me", None, 1), Some((0, "/me")));
        assert_eq!(version_and_path("/apis/v1/me", None, 1), None);
        assert_eq!(version_and_path("/internal/v1/access", None, 1), None);
    }

    #[test]
    fn query_parameters_are_read_exactly() {
        assert_eq!(
            query_param("a=1&project_id=demo", "project_id"),
            Some("demo")
        );
        assert_eq!(query_param("xproject_id=demo", "project_id"), None);
        assert_eq!(query_param("project_id=", "project_id"), None);
    }
}
