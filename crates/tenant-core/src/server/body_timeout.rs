//! The idle timeout on request bodies (`server.body_idle_timeout_ms`).
//!
//! actix bounds how long a request head may take, not its body: a client
//! that promises a body and stops sending it would hold its connection, a
//! worker's attention and (behind the gateway) an upstream request until the
//! whole request's timeout, and the gateway would count the resulting 504
//! against the backend's circuit breaker. Here every wait for the next chunk
//! of a body is bounded: when one passes, the body ends with an error (so the
//! handler stops and its transaction rolls back) and the request is answered
//! 408 `request.body_timeout` on a connection that then closes, whatever the
//! handler made of the error.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::{ConnectionType, StatusCode};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, ResponseError};
use futures_util::StreamExt;

use crate::error::Problem;

/// The configured idle timeout, as app data.
#[derive(Debug, Clone, Copy)]
pub(super) struct BodyIdleTimeout(pub(super) Duration);

/// Whether `error` is the body idle timeout ending a body: what a service
/// that reads bodies itself (the gateway's proxy) tells apart from a client
/// that broke off.
pub fn is_body_timeout(error: &PayloadError) -> bool {
    matches!(error, PayloadError::Io(io) if io.kind() == std::io::ErrorKind::TimedOut)
}

/// Wraps the request body in the idle timeout, and answers 408 when it
/// passed.
pub(super) async fn bound_body_idle_time<B: MessageBody + 'static>(
    mut req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, actix_web::Error> {
    let Some(BodyIdleTimeout(timeout)) = req.app_data::<BodyIdleTimeout>().copied() else {
        return Ok(next.call(req).await?.map_into_left_body());
    };
    let stalled = Arc::new(AtomicBool::new(false));
    let body = req.take_payload();
    req.set_payload(idle_bounded(body, timeout, stalled.clone()));
    let response = next.call(req).await;
    if !stalled.load(Ordering::SeqCst) {
        return Ok(response?.map_into_left_body());
    }
    tracing::info!(timeout_ms = timeout.as_millis(), "request body stalled");
    let (problem, answer) = body_timeout_response(timeout);
    match response {
        Ok(response) => {
            Ok(ServiceResponse::new(response.request().clone(), answer).map_into_right_body())
        }
        Err(_) => Err(actix_web::error::InternalError::from_response(problem, answer).into()),
    }
}

fn body_timeout_response(timeout: Duration) -> (Problem, actix_web::HttpResponse) {
    let problem = Problem::new(
        StatusCode::REQUEST_TIMEOUT,
        "request.body_timeout",
        "Request Timeout",
    )
    .with_detail(format!(
        "no part of the request body arrived for {} ms",
        timeout.as_millis()
    ));
    let mut response = problem.error_response();
    // The rest of the body may still come: never read it as a next request.
    response
        .head_mut()
        .set_connection_type(ConnectionType::Close);
    (problem, response)
}

/// `body`, ending with a [`PayloadError`] of kind `TimedOut` (and `stalled`
/// set) once a chunk takes longer than `timeout` to arrive.
fn idle_bounded(body: Payload, timeout: Duration, stalled: Arc<AtomicBool>) -> Payload {
    let chunks = futures_util::stream::unfold(Some(body), move |body| {
        let stalled = stalled.clone();
        async move {
            let mut body = body?;
            match tokio::time::timeout(timeout, body.next()).await {
                Ok(Some(chunk)) => Some((chunk, Some(body))),
                Ok(None) => None,
                Err(_) => {
                    stalled.store(true, Ordering::SeqCst);
                    let error = std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "no part of the request body arrived within the idle timeout",
                    );
                    Some((Err(PayloadError::Io(error)), None))
                }
            }
        }
    });
    Payload::Stream {
        payload: Box::pin(chunks),
    }
}
