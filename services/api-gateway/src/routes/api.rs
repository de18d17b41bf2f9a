//! Every request the gateway does not answer itself: `/api/...` as the
//! public route table has it, anything else to the web dashboard when
//! `service.pages_upstream` names it.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::domain::route_table::{PAGE_PARAMETER, Route};
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
    if let Some(pages) = &gateway.pages
        && is_page_path(req.path())
    {
        tenant_core::telemetry::record_route(&req, &pages.template);
        let page = vec![(
            PAGE_PARAMETER.to_owned(),
            req.path().trim_start_matches('/').to_owned(),
        )];
        return proxy(&gateway, &req, payload, pages, &page).await;
    }
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

/// Everything outside the API and the services' internal routes is a
/// page of the web dashboard (health paths are answered before this).
pub fn is_page_path(path: &str) -> bool {
    let under = |prefix: &str| {
        path.strip_prefix(prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    };
    !under("/api") && !under("/internal")
}

/// Serves the request in the request's own span (one span per request
/// keeps the gateway's per-request cost down; the span carries who is
/// calling and in which project). Refusals (401, 403, 404, 429) are the
/// gateway's everyday answers, so they are noted at info; the problem's
/// own log line says `error` for every 5xx.
async fn proxy(
    gateway: &Gateway,
    req: &HttpRequest,
    payload: web::Payload,
    route: &Route,
    params: &[(String, String)],
) -> Result<HttpResponse, GatewayError> {
    let served = gateway.serve(req, payload, route, params).await;
    if let Err(error) = &served {
        tracing::info!(upstream = %route.upstream, error = %error, "request refused");
    }
    served
}

#[cfg(test)]
mod tests {
    use super::is_page_path;

    #[test]
    fn the_api_and_internal_routes_are_never_pages() {
        for path in [
            "/api",
            "/api/v1/projects",
            "/internal",
            "/internal/v1/access",
        ] {
            assert!(!is_page_path(path), "{path}");
        }
        for path in [
            "/",
            "/sign-in",
            "/p/shop/builds/1",
            "/apis",
            "/static/app.css",
        ] {
            assert!(is_page_path(path), "{path}");
        }
    }
}
