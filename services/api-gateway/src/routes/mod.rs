//! The gateway's one route table of its own: the documentation pages it
//! serves itself, and the catch-all that hands every other request to the
//! public route table (`deploy/config/routes.toml`, [`crate::domain::route_table`]).

use actix_web::web;

mod api;
mod docs;
mod openapi;

/// The merged OpenAPI document of the public API.
pub const OPENAPI_PATH: &str = "/api/openapi.json";
/// Swagger UI on [`OPENAPI_PATH`].
pub const DOCS_PATH: &str = "/api/docs";

/// Registers the documentation paths, then the catch-all after them.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource(OPENAPI_PATH).get(openapi::openapi_json))
        // A scope: its static prefix is compared first, so requests outside
        // it never run the file pattern's regular expression (every proxied
        // request passes these resources before the catch-all).
        .service(
            web::scope(DOCS_PATH)
                .service(web::resource("").get(docs::swagger_ui))
                .service(web::resource("/{file:.*}").get(docs::swagger_ui)),
        )
        // Bodies are streamed to the upstream, within each route's own limit.
        .app_data(web::PayloadConfig::new(usize::MAX))
        .default_service(web::to(api::through_the_route_table));
}
