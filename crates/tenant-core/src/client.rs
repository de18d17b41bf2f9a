//! Calls from one Faultline service to another.
//!
//! The caller mints an internal context token for the target's audience
//! (carrying the caller's context, or its own service identity) and passes
//! on the request id and W3C trace context, so one request stays one trace
//! across hops. Non-2xx answers come back as the target's problem.
//!
//! Connections are pooled for [`IDLE_CONNECTION_TIMEOUT`], less than any
//! service keeps an idle connection open (`server.keep_alive_secs`) and less
//! than a draining replica waits before it closes its listener
//! (`server.drain_delay_ms`): a pooled connection is never the one the
//! target is closing at the moment it is reused. A GET that still fails
//! before any answer arrived (the connection refused, reset or closed by a
//! replica going away) is sent once more, on a new connection.

use std::time::Duration;

use reqwest::StatusCode;
use serde::de::DeserializeOwned;

use crate::context::{InternalTokenIssuer, TenantContext};
use crate::error::Problem;
use crate::telemetry::{REQUEST_ID_HEADER, trace_headers};

/// How long an idle connection to another service is kept for reuse.
pub const IDLE_CONNECTION_TIMEOUT: Duration = Duration::from_secs(4);

/// A pooled HTTP client for one target service.
#[derive(Debug, Clone)]
pub struct ServiceClient {
    base_url: String,
    audience: &'static str,
    issuer: InternalTokenIssuer,
    http: reqwest::Client,
}

#[derive(Debug, thiserror::Error)]
pub enum ServiceCallError {
    #[error("{audience} answered {status}: {code}")]
    Status {
        audience: &'static str,
        status: StatusCode,
        code: String,
        /// The target's `Retry-After` (in seconds), when it sent one.
        retry_after: Option<Duration>,
    },
    #[error("{audience} could not be reached")]
    Transport {
        audience: &'static str,
        #[source]
        source: reqwest::Error,
    },
    #[error("cannot mint a context token")]
    Token(#[from] crate::context::InternalTokenError),
}

impl ServiceCallError {
    /// The status the target answered, if it answered.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Self::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// How long the target asked the caller to wait (`Retry-After` on a
    /// 429 or 503), if it did.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Status {
                status,
                retry_after,
                ..
            } if *status == StatusCode::TOO_MANY_REQUESTS
                || *status == StatusCode::SERVICE_UNAVAILABLE =>
            {
                *retry_after
            }
            _ => None,
        }
    }
}

impl ServiceCallError {
    /// 503 `dependency.unavailable`; the cause goes to the log only.
    pub fn problem(&self) -> Problem {
        Problem::unavailable("dependency.unavailable", 2)
            .with_detail("a service this request depends on did not answer as expected")
            .with_cause(self)
    }
}

impl From<ServiceCallError> for Problem {
    fn from(error: ServiceCallError) -> Self {
        error.problem()
    }
}

/// The call never got an answer because its connection failed (refused,
/// reset, or closed before the answer began), not because the target was
/// slow: an idempotent call may go again.
fn failed_before_an_answer(error: &reqwest::Error) -> bool {
    !error.is_timeout() && (error.is_connect() || error.is_request())
}

impl ServiceClient {
    /// `audience` is the target's service name (`auth-service`).
    pub fn new(
        base_url: &str,
        audience: &'static str,
        issuer: InternalTokenIssuer,
        timeout: Duration,
    ) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(2)))
            .pool_idle_timeout(IDLE_CONNECTION_TIMEOUT)
            // Small requests and answers go out at once, never held for a
            // delayed ACK (Nagle).
            .tcp_nodelay(true)
            .build()?;
        Ok(Self {
            base_url: base_url.trim_end_matches('/').to_owned(),
            audience,
            issuer,
            http,
        })
    }

    /// GETs `path` (with its query) on behalf of `context`.
    pub async fn get_json<T: DeserializeOwned>(
        &self,
        path: &str,
        context: &TenantContext,
    ) -> Result<T, ServiceCallError> {
        let request = self.http.get(format!("{}{path}", self.base_url));
        self.send(request, context).await
    }

    /// POSTs `body` as JSON to `path` on behalf of `context`.
    pub async fn post_json<B: serde::Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
        context: &TenantContext,
    ) -> Result<T, ServiceCallError> {
        let request = self
            .http
            .post(format!("{}{path}", self.base_url))
            .json(body);
        self.send(request, context).await
    }

    /// PUTs `body` as JSON to `path` on behalf of `context`.
    pub async fn put_json<B: serde::Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
        context: &TenantContext,
    ) -> Result<T, ServiceCallError> {
        let request = self.http.put(format!("{}{path}", self.base_url)).json(body);
        self.send(request, context).await
    }

    /// PATCHes `body` as JSON to `path` on behalf of `context`.
    pub async fn patch_json<B: serde::Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
        context: &TenantContext,
    ) -> Result<T, ServiceCallError> {
        let request = self
            .http
            .patch(format!("{}{path}", self.base_url))
            .json(body);
        self.send(request, context).await
    }

    async fn send<T: DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
        context: &TenantContext,
    ) -> Result<T, ServiceCallError> {
        let token = self.issuer.issue(self.audience, context)?;
        let mut request = request
            .bearer_auth(token)
            .header(REQUEST_ID_HEADER.as_str(), context.request_id());
        for (name, value) in trace_headers() {
            request = request.header(name.as_str(), value.as_bytes());
        }
        let transport = |source| ServiceCallError::Transport {
            audience: self.audience,
            source,
        };
        let retry = request
            .try_clone()
            .and_then(|again| again.build().ok())
            .filter(|again| again.method() == reqwest::Method::GET);
        let response = match request.send().await {
            Err(error) if retry.is_some() && failed_before_an_answer(&error) => {
                tracing::info!(
                    audience = self.audience,
                    error = %crate::error::error_chain(&error),
                    "retrying an idempotent call on a new connection"
                );
                match retry {
                    Some(again) => self.http.execute(again).await,
                    None => Err(error),
                }
            }
            other => other,
        }
        .map_err(transport)?;
        let status = response.status();
        if !status.is_success() {
            let retry_after = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|value| value.to_str().ok())
                .and_then(|value| value.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            let code = response
                .json::<serde_json::Value>()
                .await
                .ok()
                .and_then(|body| body.get("code").and_then(|c| c.as_str()).map(str::to_owned))
                .unwrap_or_default();
            return Err(ServiceCallError::Status {
                audience: self.audience,
                status,
                code,
                retry_after,
            });
        }
        response.json().await.map_err(transport)
    }
}
