//! Forwarding to the upstream: the request's head written once, with
//! hop-by-hop and internal headers stripped, `Forwarded` and
//! `X-Forwarded-*` set and the context token attached; bodies streamed both
//! ways by the gateway's upstream client ([`crate::upstream`]), a small
//! answer of known length read whole so it leaves in one write.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use actix_web::http::header::{self, HeaderValue};
use actix_web::web::{BufMut, BytesMut};
use actix_web::{HttpRequest, HttpResponse, web};
use tenant_core::telemetry::trace_headers;

use crate::breaker::Breakers;
use crate::domain::route_table::Route;
use crate::error::{GatewayError, StartupError};
use crate::settings::Upstream;
use crate::upstream::{
    Origin, Request, RequestBody, ResponseBody, UpstreamClient, UpstreamError, UpstreamResponse,
};

/// How long an idle upstream connection is kept for reuse: the same bound
/// as every call between services (see [`tenant_core::client`]), below the
/// services' `server.keep_alive_secs` (5 s by default): a pooled
/// connection the service is closing as it is reused fails a request that
/// cannot always be sent again.
pub const UPSTREAM_IDLE_TIMEOUT: Duration = tenant_core::client::IDLE_CONNECTION_TIMEOUT;

/// Idle connections kept per upstream and worker thread.
const MAX_IDLE_PER_UPSTREAM: usize = 256;

/// RFC 9110 section 7.6.1, plus what the gateway sets or replaces itself
/// (the body's framing is the gateway's too: the client's was decoded).
const STRIPPED: [&str; 19] = [
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
    "content-length",
    "expect",
];

/// Headers clients may not send through: the gateway's own.
fn is_internal(name: &str) -> bool {
    name.starts_with("x-faultline-") || name.starts_with("x-internal-")
}

/// The hop-by-hop headers a message's `Connection` fields name, lower case.
fn connection_named<'a>(connection: impl Iterator<Item = &'a HeaderValue>) -> Vec<String> {
    connection
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|token| token.trim().to_ascii_lowercase())
        .filter(|token| !token.is_empty())
        .collect()
}

#[derive(Debug)]
pub struct Proxy {
    client: UpstreamClient,
    /// Where each upstream listens, by the names the route table uses.
    origins: BTreeMap<String, Origin>,
    pub breakers: Breakers,
}

impl Proxy {
    pub fn new(
        upstreams: &BTreeMap<String, Upstream>,
        connect_timeout: Duration,
        breakers: Breakers,
    ) -> Result<Self, StartupError> {
        let origins = upstreams
            .iter()
            .map(|(name, upstream)| {
                Origin::parse(&upstream.url)
                    .map(|origin| (name.clone(), origin))
                    .map_err(|problem| StartupError::UpstreamUrl {
                        name: name.clone(),
                        problem,
                    })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            client: UpstreamClient::new(
                connect_timeout,
                UPSTREAM_IDLE_TIMEOUT,
                MAX_IDLE_PER_UPSTREAM,
            ),
            origins,
            breakers,
        })
    }

    /// Sends the request to the route's upstream at its upstream path,
    /// with `context_token` for credentials, and streams its answer back.
    pub async fn forward(
        &self,
        req: &HttpRequest,
        payload: web::Payload,
        route: &Route,
        params: &[(String, String)],
        context_token: &str,
    ) -> Result<HttpResponse, GatewayError> {
        let name = route.upstream.as_str();
        let origin = self
            .origins
            .get(name)
            .ok_or_else(|| GatewayError::UnknownUpstream(route.upstream.clone()))?;
        if let Err(rejected) = self.breakers.admit(name) {
            return Err(GatewayError::UpstreamPaused {
                retry_after_secs: rejected.retry_after_secs,
            });
        }
        self.breakers.deposit(name);
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
        let method = req.method();
        let idempotent = matches!(
            method.as_str(),
            "GET" | "HEAD" | "OPTIONS" | "PUT" | "DELETE"
        );
        // A request without a body that never reached the upstream is
        // sent once more.
        let retriable = idempotent && !has_body;
        let head = upstream_head(
            req,
            origin,
            route,
            params,
            context_token,
            has_body.then_some(declared_length),
        );
        let deadline = tokio::time::Instant::now() + route.timeout;
        let request = |body| Request {
            origin,
            head: &head,
            body,
            head_only: method == actix_web::http::Method::HEAD,
            retriable,
            deadline,
        };
        let body = if has_body {
            RequestBody::Stream {
                payload,
                length: declared_length,
                limit: route.body_limit_bytes,
            }
        } else {
            RequestBody::None
        };
        let response = match self.client.send(request(body)).await {
            Err(error) if error.is_connect() && retriable && self.breakers.withdraw_retry(name) => {
                self.client.send(request(RequestBody::None)).await
            }
            other => other,
        };
        match &response {
            // A client that stopped sending its body, or sent too much,
            // says nothing about the upstream: neither a failure nor a
            // success of it.
            Err(
                UpstreamError::BodyStalled
                | UpstreamError::BodyTooLarge
                | UpstreamError::ClientBody(_),
            ) => {}
            Err(error) if error.is_connect() || error.is_timeout() => {
                self.breakers.record_failure(name)
            }
            _ => self.breakers.record_success(name),
        }
        let response = response.map_err(|error| match error {
            UpstreamError::BodyStalled => GatewayError::BodyStalled,
            UpstreamError::BodyTooLarge => GatewayError::BodyTooLarge(route.body_limit_bytes),
            error => GatewayError::upstream(error),
        })?;
        Ok(downstream_response(response))
    }
}

/// The request line and header fields the upstream gets: the client's
/// fields but hop-by-hop and internal ones, then the gateway's own.
/// `body` is `Some(declared length)` when the request has a body (sent
/// chunked when no length was declared).
fn upstream_head(
    req: &HttpRequest,
    origin: &Origin,
    route: &Route,
    params: &[(String, String)],
    context_token: &str,
    body: Option<Option<u64>>,
) -> BytesMut {
    let mut head = BytesMut::with_capacity(1024);
    head.put_slice(req.method().as_str().as_bytes());
    head.put_u8(b' ');
    put_target(&mut head, origin.base_path());
    put_target(&mut head, &route.upstream_path(params));
    if !req.query_string().is_empty() {
        head.put_u8(b'?');
        put_target(&mut head, req.query_string());
    }
    head.put_slice(b" HTTP/1.1\r\n");
    put_field(&mut head, "host", origin.authority().as_bytes());

    let named = connection_named(req.headers().get_all(header::CONNECTION));
    for (name, value) in req.headers() {
        let lower = name.as_str();
        if STRIPPED.contains(&lower) || is_internal(lower) || named.iter().any(|n| n == lower) {
            continue;
        }
        put_field(&mut head, lower, value.as_bytes());
    }

    let peer = req
        .peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_else(|| "unknown".to_owned());
    // The listener decides, not a client-sent X-Forwarded-Proto.
    let scheme = if req.app_config().secure() {
        "https"
    } else {
        "http"
    };
    let info = req.connection_info();
    let host = info.host();
    let mut value = String::with_capacity(128);
    value.push_str("Bearer ");
    value.push_str(context_token);
    put_field(&mut head, "authorization", value.as_bytes());
    value.clear();
    let _ = if peer.contains(':') {
        write!(value, "for=\"[{peer}]\";proto={scheme};host=\"{host}\"")
    } else {
        write!(value, "for={peer};proto={scheme};host=\"{host}\"")
    };
    put_field(&mut head, "forwarded", value.as_bytes());
    value.clear();
    if let Some(existing) = req
        .headers()
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
    {
        value.push_str(existing);
        value.push_str(", ");
    }
    value.push_str(&peer);
    put_field(&mut head, "x-forwarded-for", value.as_bytes());
    put_field(&mut head, "x-forwarded-proto", scheme.as_bytes());
    put_field(&mut head, "x-forwarded-host", host.as_bytes());
    if let Some(request_id) = tenant_core::telemetry::current_request_id() {
        put_field(&mut head, "x-request-id", request_id.as_bytes());
    }
    // With a tracer, the gateway's span becomes the parent; without one,
    // the caller's trace context passes through unchanged.
    let ours = trace_headers();
    for name in ["traceparent", "tracestate"] {
        let value = ours
            .iter()
            .find(|(n, _)| n.as_str() == name)
            .map(|(_, v)| v.as_bytes())
            .or_else(|| req.headers().get(name).map(HeaderValue::as_bytes));
        if let Some(value) = value {
            put_field(&mut head, name, value);
        }
    }
    match body {
        Some(Some(length)) => put_field(&mut head, "content-length", length.to_string().as_bytes()),
        Some(None) => put_field(&mut head, "transfer-encoding", b"chunked"),
        None => {}
    }
    head.put_slice(b"\r\n");
    head
}

/// A header field line. A value holding CR, LF or NUL (which no parsed
/// header can, but a value the gateway composed from one might) is left
/// out rather than split the head.
fn put_field(head: &mut BytesMut, name: &str, value: &[u8]) {
    if memchr::memchr3(b'\r', b'\n', 0, value).is_some() {
        return;
    }
    head.put_slice(name.as_bytes());
    head.put_slice(b": ");
    head.put_slice(value);
    head.put_slice(b"\r\n");
}

/// Part of the request target, with any byte a request line cannot carry
/// (controls, space, non-ASCII) percent-encoded.
fn put_target(head: &mut BytesMut, part: &str) {
    for byte in part.bytes() {
        if byte.is_ascii_graphic() {
            head.put_u8(byte);
        } else {
            // Writing into a BytesMut cannot fail.
            let _ = write!(head, "%{byte:02X}");
        }
    }
}

/// The client's answer from the upstream's: hop-by-hop fields dropped, the
/// body whole or streamed with its declared length.
fn downstream_response(response: UpstreamResponse) -> HttpResponse {
    let status = response.status;
    let mut builder = HttpResponse::build(status);
    let named = connection_named(
        response
            .headers
            .iter()
            .filter(|(name, _)| name == header::CONNECTION)
            .map(|(_, value)| value),
    );
    for (name, value) in response.headers {
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
        builder.append_header((name, value));
    }
    match response.body {
        ResponseBody::Empty => builder.finish(),
        ResponseBody::Whole(body) => builder.body(body),
        ResponseBody::Stream {
            length: Some(length),
            stream,
        } => {
            builder.no_chunking(length);
            builder.streaming(stream.0)
        }
        ResponseBody::Stream {
            length: None,
            stream,
        } => builder.streaming(stream.0),
    }
}
