//! The route table of the analytics service (v1). Health, readiness and
//! metrics come from the host; each resource has its own module here. The
//! gateway serves the public routes as `/api/v1/...` and merges the OpenAPI
//! document of [`openapi`].

mod comparison;
mod dashboards;
mod events;
mod filters;
pub mod openapi;
mod overview;
mod quality_gates;

use actix_web::web;
use tenant_core::{Role, TenantContext};
use uuid::Uuid;

use crate::error::AnalyticsError;

pub fn configure(cfg: &mut web::ServiceConfig) {
    // One scope for every project route: a scope answers every path under
    // its prefix, so a second scope or route with the same prefix would be
    // hidden behind it.
    cfg.service(
        web::scope("/v1/projects/{project}")
            .route("/analytics/summary", web::get().to(dashboards::summary))
            .route("/analytics/trends", web::get().to(dashboards::trends))
            .route("/analytics/rankings", web::get().to(dashboards::rankings))
            .route("/analytics/mttr", web::get().to(dashboards::mttr))
            .route(
                "/quality-gate-rules",
                web::get().to(quality_gates::list_rules),
            )
            .route(
                "/quality-gate-rules",
                web::post().to(quality_gates::create_rule),
            )
            .route(
                "/quality-gate-rules/{rule}",
                web::get().to(quality_gates::show_rule),
            )
            .route(
                "/quality-gate-rules/{rule}",
                web::patch().to(quality_gates::update_rule),
            )
            .route(
                "/quality-gate-rules/{rule}",
                web::delete().to(quality_gates::delete_rule),
            )
            .route(
                "/builds/{build}/quality-gate",
                web::get().to(quality_gates::show_gate),
            )
            .route(
                "/builds/{build}/comparison",
                web::get().to(comparison::compare_builds),
            ),
    )
    .route("/v1/analytics/overview", web::get().to(overview::overview))
    .route("/internal/v1/events", web::post().to(events::receive))
    .service(web::resource("/internal/v1/openapi.json").get(openapi::spec));
}

/// The request's project, if the caller has `minimum` there, recorded as
/// the handler span's `project_id`. The gateway resolved `{project}` (an
/// id or a slug) into the context; an id in the path that names another
/// project is refused rather than trusted.
fn project_scope(
    ctx: &TenantContext,
    path_project: &str,
    minimum: Role,
) -> Result<Uuid, AnalyticsError> {
    let access = ctx.require_role(minimum)?;
    if let Ok(id) = path_project.parse::<Uuid>()
        && id != access.project_id
    {
        return Err(AnalyticsError::ContextMismatch);
    }
    tracing::Span::current().record("project_id", tracing::field::display(access.project_id));
    Ok(access.project_id)
}
