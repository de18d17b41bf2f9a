//! Middleware every public listener runs: request-header limits (a
//! problem instead of actix's bare 431) and HSTS on HTTPS answers.

use actix_web::ResponseError;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::ConnectionType;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;
use actix_web::web;

use crate::config::ServerSettings;
use crate::error::Problem;

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

/// 431 `request.headers_too_large` for a request with more header fields,
/// or more header bytes, than configured. Each field counts as
/// `name: value` plus its line end (name + value + 4 bytes), whether it
/// came over HTTP/1 or HTTP/2; HTTP/2 pseudo-headers do not count.
///
/// actix-http parses at most 96 fields and buffers at most 128 KiB of an
/// HTTP/1 request head; past those it answers 431 itself, with an empty
/// body, before any middleware runs. Validation keeps the configured
/// limits below them, so this problem is what clients normally see.
pub(super) async fn limit_request_headers(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let Some(limits) = req.app_data::<HeaderLimits>().copied() else {
        return Ok(next.call(req).await?.map_into_left_body());
    };
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
        return Ok(next.call(req).await?.map_into_left_body());
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
    Ok(req.into_response(response).map_into_right_body())
}

/// While the service drains, every answer closes its connection: a client
/// that keeps connections (the gateway's upstream pool) opens its next
/// request elsewhere instead of on a connection the shutdown is about to
/// cut, which fails a request that cannot be retried. A drain delay longer
/// than the clients' idle timeout leaves no pooled connection behind.
pub(super) async fn close_while_draining(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let readiness = req.app_data::<web::Data<Readiness>>().cloned();
    let mut response = next.call(req).await?;
    if readiness.is_some_and(|readiness| readiness.is_draining()) {
        response
            .response_mut()
            .head_mut()
            .set_connection_type(ConnectionType::Close);
    }
    Ok(response)
}

/// Adds [`HSTS`] to every response of a TLS listener, errors included.
pub(super) async fn strict_transport_security(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    if !req.app_config().secure() {
        return next.call(req).await;
    }
    let hsts = HeaderValue::from_static(HSTS);
    match next.call(req).await {
        Ok(mut response) => {
            response
                .headers_mut()
                .insert(header::STRICT_TRANSPORT_SECURITY, hsts);
            Ok(response)
        }
        // Rendered here (telemetry already gave it its request id), so the
        // header is on error responses too.
        Err(error) => {
            let mut response = error.error_response();
            response
                .headers_mut()
                .insert(header::STRICT_TRANSPORT_SECURITY, hsts);
            Err(actix_web::error::InternalError::from_response(error, response).into())
        }
    }
}
