//! Forwarding to the upstream: pooled clients, one per thread, bodies
//! streamed both ways (a small answer of known length is read whole, so it
//! leaves in one write), hop-by-hop and internal headers stripped,
//! `Forwarded` and `X-Forwarded-*` set, the context token attached.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderMap, HeaderName};
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::StreamExt;
use tenant_core::telemetry::trace_headers;
use thread_local::ThreadLocal;

use crate::breaker::Breakers;
use crate::domain::route_table::Route;
use crate::error::GatewayError;
use crate::settings::Upstream;

/// RFC 9110 section 7.6.1, plus what the gateway sets or replaces itself.
const STRIPPED: [&str; 17] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    "authorization",
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-forwarded-host",
    "x-request-id",
    "traceparent",
    "tracestate",
    "x-project-id",
];

/// Upstream answers of at most this many bytes (by their Content-Length)
/// are read whole before the gateway answers, so the client gets head and
/// body in one write. Streamed, the head goes out alone when the body has
/// not arrived yet, and the body follows in a second small write: more
/// packets, and without `TCP_NODELAY` the second one would wait for the
/// client's delayed ACK (about 40 ms).
const WHOLE_BODY_MAX_BYTES: u64 = 64 * 1024;

/// Headers clients may not send through: the gateway's own.
fn is_internal(name: &str) -> bool {
    name.starts_with("x-faultline-") || name.starts_with("x-internal-")
}

/// Hop-by-hop headers of a message: the fixed list and what `Connection` names.
fn connection_named(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(header::CONNECTION)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|token| token.trim().to_ascii_lowercase())
        .filter(|token| !token.is_empty())
        .collect()
}

/// How long an idle upstream connection is kept for reuse: the same bound
/// as every call between services (see [`tenant_core::client`]).
pub const UPSTREAM_IDLE_TIMEOUT: Duration = tenant_core::client::IDLE_CONNECTION_TIMEOUT;

/// The upstream client of one thread.
fn upstream_client(connect_timeout: Duration) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .connect_timeout(connect_timeout)
        // A request's head and a small body are separate writes; without
        // this the body could wait for the upstream's delayed ACK.
        .tcp_nodelay(true)
        // Below the services' `server.keep_alive_secs` (5 s by
        // default): a pooled connection the service is closing at the
        // moment it is reused fails a request that cannot be retried.
        .pool_idle_timeout(UPSTREAM_IDLE_TIMEOUT)
        .pool_max_idle_per_host(256)
        .redirect(reqwest::redirect::Policy::none())
        .build()
}

#[derive(Debug)]
pub struct Proxy {
    /// One client, with its own connection pool, per server thread. Each
    /// actix worker is a single-threaded runtime, and an upstream
    /// connection's I/O runs on the runtime that opened it: with one
    /// shared pool, a request on one worker that takes a connection the
    /// other opened wakes the other thread to write and again to read, on
    /// every request.
    clients: ThreadLocal<reqwest::Client>,
    connect_timeout: Duration,
    pub breakers: Breakers,
}

impl Proxy {
    pub fn new(connect_timeout: Duration, breakers: Breakers) -> Result<Self, reqwest::Error> {
        let clients = ThreadLocal::new();
        // Built once here so a setting the client refuses stops the start.
        clients.get_or_try(|| upstream_client(connect_timeout))?;
        Ok(Self {
            clients,
            connect_timeout,
            breakers,
        })
    }

    /// Sends the request to `upstream` at the route's upstream path, with
    /// `context_token` for credentials, and streams its answer back.
    /// Its span is at debug level: the request's span already names the
    /// route, and so the upstream.
    #[tracing::instrument(level = "debug", skip_all, fields(upstream = %route.upstream), err(level = "info"))]
    pub async fn forward(
        &self,
        req: &HttpRequest,
        payload: web::Payload,
        route: &Route,
        params: &[(String, String)],
        upstream: &Upstream,
        context_token: &str,
    ) -> Result<HttpResponse, GatewayError> {
        let name = route.upstream.as_str();
        if let Err(rejected) = self.breakers.admit(name) {
            return Err(GatewayError::UpstreamPaused {
                retry_after_secs: rejected.retry_after_secs,
            });
        }
        self.breakers.deposit(name);
        let mut url = format!(
            "{}{}",
            upstream.url.trim_end_matches('/'),
            route.upstream_path(params)
        );
        if !req.query_string().is_empty() {
            url.push('?');
            url.push_str(req.query_string());
        }
        let declared_length = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared_length.is_some_and(|length| length > route.body_limit_bytes as u64) {
            return Err(GatewayError::BodyTooLarge(route.body_limit_bytes));
        }
        let has_body = declared_length.is_some_and(|l| l > 0)
            || req.headers().contains_key(header::TRANSFER_ENCODING);

        let method = reqwest::Method::from_bytes(req.method().as_str().as_bytes())
            .map_err(|_| GatewayError::UnsupportedMethod)?;
        let overflow = Arc::new(AtomicBool::new(false));
        let stalled = Arc::new(AtomicBool::new(false));
        let client = self
            .clients
            .get_or_try(|| upstream_client(self.connect_timeout))
            .map_err(GatewayError::UpstreamUnreachable)?;
        let request = || {
            client
                .request(method.clone(), &url)
                .headers(self.upstream_headers(req, context_token))
                .timeout(route.timeout)
        };
        let idempotent = matches!(
            method,
            reqwest::Method::GET
                | reqwest::Method::HEAD
                | reqwest::Method::OPTIONS
                | reqwest::Method::PUT
                | reqwest::Method::DELETE
        );
        // A request without a body that never reached the upstream is
        // sent once more (built again: cloning every request for the rare
        // retry cost more than building one when it is needed).
        let retriable = idempotent && !has_body;
        let response = if has_body {
            request()
                .body(stream_body(
                    payload,
                    route.body_limit_bytes,
                    overflow.clone(),
                    stalled.clone(),
                ))
                .send()
                .await
        } else {
            match request().send().await {
                Err(error)
                    if error.is_connect() && retriable && self.breakers.withdraw_retry(name) =>
                {
                    request().send().await
                }
                other => other,
            }
        };
        // A client that stopped sending its body says nothing about the
        // upstream: neither a failure nor a success of it.
        let stalled = stalled.load(Ordering::SeqCst);
        match &response {
            _ if stalled => {}
            Err(error) if error.is_connect() || error.is_timeout() => {
                self.breakers.record_failure(name)
            }
            _ => self.breakers.record_success(name),
        }
        let response = response.map_err(|error| {
            if stalled {
                GatewayError::BodyStalled
            } else if overflow.load(Ordering::SeqCst) {
                GatewayError::BodyTooLarge(route.body_limit_bytes)
            } else {
                GatewayError::upstream(error)
            }
        })?;
        downstream_response(req, response).await
    }

    fn upstream_headers(
        &self,
        req: &HttpRequest,
        context_token: &str,
    ) -> reqwest::header::HeaderMap {
        let named = connection_named(req.headers());
        let mut headers = reqwest::header::HeaderMap::new();
        for (name, value) in req.headers() {
            let lower = name.as_str();
            if STRIPPED.contains(&lower) || is_internal(lower) || named.iter().any(|n| n == lower) {
                continue;
            }
            if let (Ok(name), Ok(value)) = (
                reqwest::header::HeaderName::from_bytes(name.as_str().as_bytes()),
                reqwest::header::HeaderValue::from_bytes(value.as_bytes()),
            ) {
                headers.append(name, value);
            }
        }
        let info = req.connection_info();
        let peer = req
            .peer_addr()
            .map(|a| a.ip().to_string())
            .unwrap_or_else(|| "unknown".to_owned());
        // The listener decides, not a client-sent X-Forwarded-Proto.
        let scheme = if req.app_config().secure() {
            "https"
        } else {
            "http"
        }
        .to_owned();
        let host = info.host().to_owned();
        let existing_for = req
            .headers()
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .map(|v| format!("{v}, {peer}"))
            .unwrap_or_else(|| peer.clone());
        let node = if peer.contains(':') {
            format!("\"[{peer}]\"")
        } else {
            peer.clone()
        };
        let set = [
            ("authorization", format!("Bearer {context_token}")),
            (
                "forwarded",
                format!("for={node};proto={scheme};host=\"{host}\""),
            ),
            ("x-forwarded-for", existing_for),
            ("x-forwarded-proto", scheme),
            ("x-forwarded-host", host),
            (
                "x-request-id",
                tenant_core::telemetry::current_request_id().unwrap_or_default(),
            ),
        ];
        for (name, value) in set {
            if let (Ok(name), Ok(value)) = (
                reqwest::header::HeaderName::from_bytes(name.as_bytes()),
                reqwest::header::HeaderValue::from_str(&value),
            ) {
                headers.insert(name, value);
            }
        }
        // With a tracer, the gateway's span becomes the parent; without one,
        // the caller's trace context passes through unchanged.
        for name in ["traceparent", "tracestate"] {
            if let Some(value) = req.headers().get(name)
                && let Ok(value) = reqwest::header::HeaderValue::from_bytes(value.as_bytes())
            {
                headers.insert(name, value);
            }
        }
        for (name, value) in trace_headers(&tracing::Span::current()) {
            if let (Ok(name), Ok(value)) = (
                reqwest::header::HeaderName::from_bytes(name.as_str().as_bytes()),
                reqwest::header::HeaderValue::from_bytes(value.as_bytes()),
            ) {
                headers.insert(name, value);
            }
        }
        headers
    }
}

/// The client's body as a stream for the upstream, cut off (and flagged)
/// past `limit`, or when it stops arriving for the host's body idle timeout
/// (flagged in `stalled`). The actix payload is not `Send`, so a local task pumps it
/// into a channel the upstream request reads.
fn stream_body(
    mut payload: web::Payload,
    limit: usize,
    overflow: Arc<AtomicBool>,
    stalled: Arc<AtomicBool>,
) -> reqwest::Body {
    let (sender, receiver) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    actix_web::rt::spawn(async move {
        let mut seen = 0_usize;
        while let Some(chunk) = payload.next().await {
            let message = match chunk {
                Ok(bytes) => {
                    seen += bytes.len();
                    if seen > limit {
                        overflow.store(true, Ordering::SeqCst);
                        Err(std::io::Error::other(
                            "request body exceeds the route's limit",
                        ))
                    } else {
                        Ok(bytes)
                    }
                }
                Err(error) => {
                    if tenant_core::server::is_body_timeout(&error) {
                        stalled.store(true, Ordering::SeqCst);
                    }
                    Err(std::io::Error::other(error.to_string()))
                }
            };
            let stop = message.is_err();
            if sender.send(message).await.is_err() || stop {
                break;
            }
        }
    });
    let stream = futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|item| (item, receiver))
    });
    reqwest::Body::wrap_stream(stream)
}

async fn downstream_response(
    req: &HttpRequest,
    response: reqwest::Response,
) -> Result<HttpResponse, GatewayError> {
    let status =
        StatusCode::from_u16(response.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let mut builder = HttpResponse::build(status);
    let named: Vec<String> = response
        .headers()
        .get_all(reqwest::header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().to_ascii_lowercase())
        .collect();
    for (name, value) in response.headers() {
        let lower = name.as_str();
        let hop = matches!(
            lower,
            "connection"
                | "keep-alive"
                | "proxy-connection"
                | "te"
                | "trailer"
                | "transfer-encoding"
                | "upgrade"
                | "content-length"
        );
        if hop || named.iter().any(|n| n == lower) {
            continue;
        }
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_str().as_bytes()),
            header::HeaderValue::from_bytes(value.as_bytes()),
        ) {
            builder.append_header((name, value));
        }
    }
    if status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
        || req.method() == actix_web::http::Method::HEAD
    {
        return Ok(builder.finish());
    }
    match response.content_length() {
        // Within the route's timeout, like the rest of the exchange; an
        // upstream that breaks off is a clean 502, not a truncated answer.
        Some(length) if length <= WHOLE_BODY_MAX_BYTES => {
            let body = response.bytes().await.map_err(GatewayError::upstream)?;
            Ok(builder.body(body))
        }
        Some(length) => {
            builder.no_chunking(length);
            Ok(builder.streaming(response.bytes_stream()))
        }
        None => Ok(builder.streaming(response.bytes_stream())),
    }
}
