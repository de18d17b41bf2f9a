//! Why the gateway answers a request itself rather than with its
//! upstream's answer, and why it does not start.
//!
//! Every refusal is a [`GatewayError`], turned into a problem in one place
//! ([`GatewayError::problem`]). Clients tell refusals apart by `code`; two
//! answers are deliberately alike so that nothing leaks: "not a member" and
//! "no such project" are both `project.not_found`, and every way a bearer
//! token can be wrong is one `auth.invalid_token` (the reason goes to the
//! log only). A few refusals carry headers besides the problem: `Allow`
//! on 405, the rate-limit headers on 429.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use tenant_core::client::ServiceCallError;
use tenant_core::context::InternalTokenError;
use tenant_core::server::HostError;
use tenant_core::{Problem, Role};

use crate::domain::route_table::RouteTableError;
use crate::jwt::TokenRefusal;
use crate::rate_policy::{RateOutcome, insert_rate_headers};
use crate::upstream::UpstreamError;

#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    // --- routing --------------------------------------------------------------
    #[error("no route for this path")]
    RouteNotFound,
    #[error("the route has no such method")]
    MethodNotAllowed(Vec<actix_web::http::Method>),
    #[error("the path parameter `{0}` could reach another upstream path")]
    UnsafePathParameter(String),

    // --- authentication -------------------------------------------------------
    #[error("more than one Authorization header")]
    DuplicateAuthorization,
    #[error("no credentials on a route that needs them")]
    CredentialsRequired,
    #[error("the Authorization header is not visible ASCII")]
    UnreadableAuthorization,
    #[error("the Authorization header does not use the Bearer scheme")]
    NotBearer,
    #[error("the bearer token was refused")]
    TokenRefused(#[source] TokenRefusal),
    #[error("the session of the bearer token has ended")]
    SessionEnded,
    #[error("an API key on a route for signed-in users")]
    UserRequired,
    #[error("the API key is unknown, expired or revoked")]
    InvalidApiKey,

    // --- project and role -----------------------------------------------------
    #[error("no credentials on a route that acts on a project")]
    ProjectNeedsCredentials,
    #[error("more than one X-Project-Id header")]
    DuplicateProjectHeader,
    #[error("the X-Project-Id header is not visible ASCII")]
    UnreadableProjectHeader,
    #[error("the request names no project")]
    ProjectRequired,
    #[error("the project sources name different projects")]
    ProjectConflict,
    #[error("no such project, or the caller has no access to it")]
    ProjectNotFound,
    #[error("the operation needs the {0} role")]
    RoleTooLow(Role),

    // --- limits ---------------------------------------------------------------
    #[error("rate limited by the {} limit", .0.policy.name())]
    RateLimited(RateOutcome),
    #[error("the body is larger than the route's {0} bytes")]
    BodyTooLarge(usize),
    /// `Transfer-Encoding` beside `Content-Length`, or several lengths: the
    /// gateway and a server behind it could split the bytes into
    /// different requests (request smuggling).
    #[error("the request's body length is ambiguous")]
    AmbiguousBodyLength,
    /// The client stopped sending its body for `server.body_idle_timeout_ms`:
    /// the client's fault, never counted against the upstream's breaker.
    #[error("the request body stopped arriving")]
    BodyStalled,

    // --- services behind the gateway ------------------------------------------
    #[error("a service the request depends on failed")]
    Dependency(#[from] ServiceCallError),
    #[error("the route names the upstream `{0}`, which is not configured")]
    UnknownUpstream(String),
    #[error("cannot mint the context token")]
    ContextToken(#[from] InternalTokenError),
    #[error("the method cannot be forwarded")]
    UnsupportedMethod,
    #[error("the upstream's breaker is open")]
    UpstreamPaused { retry_after_secs: u64 },
    #[error("the upstream did not answer in time")]
    UpstreamTimeout(#[source] UpstreamError),
    #[error("the upstream is not reachable")]
    UpstreamUnreachable(#[source] UpstreamError),
    #[error("the upstream's answer broke off")]
    UpstreamFailed(#[source] UpstreamError),

    // --- the gateway's own pages ----------------------------------------------
    #[error("no such documentation file")]
    DocsFileNotFound,
    #[error("Swagger UI could not be served: {0}")]
    SwaggerUi(String),
}

impl GatewayError {
    /// Sorts a failed exchange with an upstream by what the client can do
    /// about it: wait (timeout), retry shortly (unreachable), or nothing.
    pub fn upstream(error: UpstreamError) -> Self {
        if error.is_timeout() {
            Self::UpstreamTimeout(error)
        } else if error.is_connect() {
            Self::UpstreamUnreachable(error)
        } else {
            Self::UpstreamFailed(error)
        }
    }

    pub fn problem(&self) -> Problem {
        let invalid_token =
            |detail: &'static str| Problem::unauthorized("auth.invalid_token", detail);
        let project_conflict =
            |detail: &'static str| Problem::bad_request("gateway.project_conflict", detail);
        match self {
            Self::RouteNotFound => Problem::not_found("route.not_found", "no such route"),
            Self::MethodNotAllowed(allowed) => Problem::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "route.method_not_allowed",
                "Method not allowed",
            )
            .with_detail(format!("allowed: {}", allow_list(allowed))),
            Self::UnsafePathParameter(name) => Problem::bad_request(
                "request.invalid_path_parameter",
                format!(
                    "the path parameter `{name}` is a dot segment or holds an encoded `/`, `\\` or `.`"
                ),
            ),
            Self::DuplicateAuthorization => Problem::bad_request(
                "gateway.duplicate_authorization",
                "send one Authorization header",
            ),
            Self::CredentialsRequired => Problem::unauthorized(
                "auth.required",
                "this route needs a bearer token or an API key",
            ),
            Self::UnreadableAuthorization => {
                invalid_token("the Authorization header is not readable")
            }
            Self::NotBearer => invalid_token("use the Bearer scheme"),
            Self::TokenRefused(_) => {
                invalid_token("the access token is invalid or expired").with_cause(self)
            }
            Self::SessionEnded => invalid_token("the session of this token has ended"),
            Self::UserRequired => Problem::forbidden(
                "gateway.user_required",
                "this route is for signed-in users, not API keys",
            ),
            Self::InvalidApiKey => Problem::unauthorized(
                "api_key.invalid",
                "the API key is invalid, expired or revoked",
            ),
            Self::ProjectNeedsCredentials => {
                Problem::unauthorized("auth.required", "this route needs credentials")
            }
            Self::DuplicateProjectHeader => project_conflict("send one X-Project-Id header"),
            Self::UnreadableProjectHeader => {
                Problem::bad_request("gateway.project_invalid", "X-Project-Id is not readable")
            }
            Self::ProjectRequired => Problem::bad_request(
                "gateway.project_required",
                "name the project in the path, X-Project-Id or ?project_id=",
            ),
            Self::ProjectConflict => {
                project_conflict("the project sources name different projects")
            }
            Self::ProjectNotFound => Problem::not_found("project.not_found", "no such project"),
            Self::RoleTooLow(minimum) => Problem::forbidden(
                "gateway.role_too_low",
                format!("this operation needs the {minimum} role or higher"),
            ),
            Self::RateLimited(outcome) => Problem::new(
                StatusCode::TOO_MANY_REQUESTS,
                "gateway.rate_limited",
                "Too many requests",
            )
            .with_detail(outcome.policy.exhausted())
            .with_retry_after(outcome.decision.retry_after_secs),
            Self::BodyTooLarge(limit) => Problem::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "request.body_too_large",
                "Payload too large",
            )
            .with_detail(format!("at most {limit} bytes are accepted on this route")),
            Self::BodyStalled => Problem::new(
                StatusCode::REQUEST_TIMEOUT,
                "request.body_timeout",
                "Request Timeout",
            )
            .with_detail("the request body stopped arriving"),
            Self::AmbiguousBodyLength => Problem::bad_request(
                "request.ambiguous_length",
                "send either Content-Length once or Transfer-Encoding, not both",
            ),
            Self::Dependency(error) => error.problem(),
            Self::UnknownUpstream(_) | Self::ContextToken(_) | Self::SwaggerUi(_) => {
                Problem::internal_cause(self)
            }
            Self::UnsupportedMethod => {
                Problem::bad_request("request.invalid_method", "unsupported method")
            }
            Self::UpstreamPaused { retry_after_secs } => {
                Problem::unavailable("gateway.upstream_unavailable", *retry_after_secs)
                    .with_detail("the service is failing; requests are paused for a moment")
            }
            Self::UpstreamTimeout(error) => Problem::new(
                StatusCode::GATEWAY_TIMEOUT,
                "gateway.upstream_timeout",
                "Gateway timeout",
            )
            .with_detail("the service did not answer in time")
            .with_cause(error),
            Self::UpstreamUnreachable(error) => {
                Problem::unavailable("gateway.upstream_unavailable", 2)
                    .with_detail("the service is not reachable")
                    .with_cause(error)
            }
            Self::UpstreamFailed(error) => Problem::new(
                StatusCode::BAD_GATEWAY,
                "gateway.upstream_failed",
                "Bad gateway",
            )
            .with_cause(error),
            Self::DocsFileNotFound => Problem::not_found("route.not_found", "no such file"),
        }
    }
}

/// `GET, PATCH`: the methods a path has, for `Allow` and the 405's detail.
fn allow_list(allowed: &[actix_web::http::Method]) -> String {
    allowed
        .iter()
        .map(actix_web::http::Method::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

impl ResponseError for GatewayError {
    fn status_code(&self) -> StatusCode {
        self.problem().status()
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = self.problem().error_response();
        match self {
            Self::MethodNotAllowed(allowed) => {
                if let Ok(value) = HeaderValue::from_str(&allow_list(allowed)) {
                    response.headers_mut().insert(header::ALLOW, value);
                }
            }
            Self::RateLimited(outcome) => insert_rate_headers(response.headers_mut(), outcome),
            _ => {}
        }
        response
    }
}

/// Why the gateway does not start.
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
    #[error("service.upstreams.{name}.url {problem}")]
    UpstreamUrl { name: String, problem: String },
    #[error(transparent)]
    Token(#[from] InternalTokenError),
    #[error("invalid Redis configuration")]
    Redis(#[source] redis::RedisError),
}
