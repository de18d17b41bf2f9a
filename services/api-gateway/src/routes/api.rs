//! Every request the gateway does not answer itself: `/api/...` as the
//! public route table has it.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use tracing::field::Empty;

use crate::domain::route_table::Route;
use crate::error::GatewayError;
use crate::gateway::Gateway;

/// Matches the request against the route table in the request's own span,
/// which is where the route is named (so this handler opens no span of its
/// own), then serves it in [`proxy`]'s.
pub async fn through_the_route_table(
    req: HttpRequest,
    payload: web::Payload,
    gateway: web::Data<Gateway>,
) -> Result<HttpResponse, GatewayError> {
    if let Some(preflight) = gateway.cors_preflight(&req) {
        return Ok(preflight);
    }
    refuse_ambiguous_length(&req)?;
    let (route, params) = gateway.match_route(&req)?;
    proxy(&gateway, &req, payload, route, &params).await
}

/// A body length two HTTP parsers could read differently is refused
/// before anything else, so no server behind the gateway ever sees it.
fn refuse_ambiguous_length(req: &HttpRequest) -> Result<(), GatewayError> {
    let headers = req.headers();
    let lengths = headers.get_all(header::CONTENT_LENGTH).count();
    if lengths > 1 || (lengths == 1 && headers.contains_key(header::TRANSFER_ENCODING)) {
        return Err(GatewayError::AmbiguousBodyLength);
    }
    Ok(())
}

/// Refusals (401, 403, 404, 429) are the gateway's everyday answers, so
/// its spans note them at info; the problem's own log line says `error`
/// for every 5xx.
#[tracing::instrument(
    skip_all,
    fields(upstream = %route.upstream, principal_id = Empty, project_id = Empty),
    err(level = "info")
)]
async fn proxy(
    gateway: &Gateway,
    req: &HttpRequest,
    payload: web::Payload,
    route: &Route,
    params: &[(String, String)],
) -> Result<HttpResponse, GatewayError> {
    gateway.serve(req, payload, route, params).await
}
