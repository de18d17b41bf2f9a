//! The route table of the analytics service. Health, readiness and metrics come from
//! the host; each resource has its own module here. The gateway serves the
//! public routes as `/api/v1/...`.

mod dashboards;
mod events;
mod filters;
pub mod openapi;
mod overview;

use actix_web::web;
use tenant_core::{Role, TenantContext};
use uuid::Uuid;

use crate::error::AnalyticsError;

pub fn configure(cfg: &mut web::ServiceConfig) {
    // Full paths rather than a `/v1/projects/{project}` scope: a scope
    // answers every path under its prefix, which would hide routes other
    // modules add under the same prefix.
    cfg.route("/internal/v1/events", web::post().to(events::receive))
        .route(
            "/v1/projects/{project}/analytics/summary",
            web::get().to(dashboards::summary),
        )
        .route(
            "/v1/projects/{project}/analytics/trends",
            web::get().to(dashboards::trends),
        )
        .route(
            "/v1/projects/{project}/analytics/rankings",
            web::get().to(dashboards::rankings),
        )
        .route(
            "/v1/projects/{project}/analytics/mttr",
            web::get().to(dashboards::mttr),
        )
        .route("/v1/analytics/overview", web::get().to(overview::overview))
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
