//! The one middleware every public listener runs, outermost: in-flight
//! counting, closing connections while draining, HSTS on HTTPS answers,
//! and inside the request's telemetry the request-header limits (a problem
//! instead of actix's bare 431) and the body idle timeout. One layer for
//! all of them: each `from_fn` layer costs every request a boxed future
//! and a poll of its own.

use actix_web::ResponseError;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::ConnectionType;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, web};

use crate::config::ServerSettings;
use crate::error::Problem;
use crate::telemetry::request_telemetry;

use super::body_timeout::bound_body_idle_time;
use super::in_flight::{CountedBody, InFlight};
use super::{HSTS, Readiness};

/// The header limits of the public listeners, as app data.
#[derive(Debug, Clone, Copy)]
pub(super) struct HeaderLimits {
    max_count: usize,
    max_bytes: usize,
}

impl From<&ServerSettings> for HeaderLimits {
    fn from(server: &ServerSettings) -> Self {
        Self {
            max_count: server.max_request_headers,
            max_bytes: server.max_request_header_bytes,
        }
    }
}

/// Every request, from the outside in:
///
/// - counted in flight until its body is sent, so a draining host waits
///   for it;
/// - while the service drains, its answer closes the connection: a client
///   that keeps connections (the gateway's upstream pool) opens its next
///   request elsewhere instead of on a connection the shutdown is about to
///   cut, which fails a request that cannot be retried (a drain delay
///   longer than the clients' idle timeout leaves no pooled connection
///   behind);
/// - on a TLS listener, [`HSTS`] on every answer, errors included;
/// - request id, span, metrics and log line (`request_telemetry`), and
///   inside them, so a refusal has a request id and is counted, the header
///   limits and the body idle timeout.
pub(super) async fn host_request(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let guard = req
        .app_data::<web::Data<InFlight>>()
        .map(|in_flight| in_flight.enter());
    let readiness = req.app_data::<web::Data<Readiness>>().cloned();
    let hsts = req
        .app_config()
        .secure()
        .then(|| HeaderValue::from_static(HSTS));
    let mut response = match request_telemetry(req, |req| within_limits(req, next)).await {
        Ok(response) => response,
        Err(error) => {
            let Some(hsts) = hsts else {
                return Err(error);
            };
            let mut response = error.error_response();
            response
                .headers_mut()
                .insert(header::STRICT_TRANSPORT_SECURITY, hsts);
            return Err(actix_web::error::InternalError::from_response(error, response).into());
        }
    };
    if let Some(hsts) = hsts {
        response
            .headers_mut()
            .insert(header::STRICT_TRANSPORT_SECURITY, hsts);
    }
    if readiness.is_some_and(|readiness| readiness.is_draining()) {
        response
            .response_mut()
            .head_mut()
            .set_connection_type(ConnectionType::Close);
    }
    Ok(response.map_body(move |_, body| CountedBody::new(body.boxed(), guard)))
}

/// The header limits, then the body idle timeout around the handler.
async fn within_limits<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<EitherBody<B>>>, actix_web::Error> {
    if let Some(limits) = req.app_data::<HeaderLimits>().copied()
        && let Some(refusal) = headers_over(limits, &req)
    {
        return Ok(req.into_response(refusal).map_into_right_body());
    }
    Ok(bound_body_idle_time(req, next).await?.map_into_left_body())
}

/// 431 `request.headers_too_large` for a request with more header fields,
/// or more header bytes, than configured. Each field counts as
/// `name: value` plus its line end (name + value + 4 bytes), whether it
/// came over HTTP/1 or HTTP/2; HTTP/2 pseudo-headers do not count.
///
/// actix-http parses at most 96 fields and buffers at most 128 KiB of an
/// HTTP/1 request head; past those it answers 431 itself, with an empty
/// body, before any middleware runs. Validation keeps the configured
/// limits below them, so this problem is what clients normally see.
fn headers_over(limits: HeaderLimits, req: &ServiceRequest) -> Option<HttpResponse> {
    let headers = req.headers();
    let count = headers.len();
    let bytes: usize = headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    let detail = if count > limits.max_count {
        format!(
            "the request has {count} header fields; at most {} are accepted",
            limits.max_count
        )
    } else if bytes > limits.max_bytes {
        format!(
            "the request's header fields take {bytes} bytes; at most {} are accepted",
            limits.max_bytes
        )
    } else {
        return None;
    };
    tracing::info!(count, bytes, "request headers over the limit");
    let problem = Problem::new(
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        "request.headers_too_large",
        "Request Header Fields Too Large",
    )
    .with_detail(detail);
    let mut response = problem.error_response();
    // The request is refused before its body is read: do not keep the
    // connection for a body that is still on its way.
    response
        .head_mut()
        .set_connection_type(ConnectionType::Close);
    Some(response)
}
