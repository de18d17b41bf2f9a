//! The route table of the integration gateway. Health, readiness and
//! metrics come from the host; each resource has its own module here. The
//! API gateway serves the public ones as `/api/v1/projects/{project}/integrations/...`;
//! its merged OpenAPI document comes from [`openapi`].

mod connections;
mod deliveries;
mod events;
mod github;
mod issues;
mod jira;
mod jira_oauth;
pub mod openapi;
mod rules;

use actix_web::web;
use tenant_core::{Role, TenantContext};
use uuid::Uuid;

use crate::error::IntegrationError;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/v1/projects/{project}/integrations")
            .route("/connections", web::get().to(connections::list))
            .route("/connections", web::post().to(connections::create))
            .route(
                "/connections/{connection}",
                web::get().to(connections::show),
            )
            .route(
                "/connections/{connection}",
                web::delete().to(connections::delete),
            )
            .route("/rules", web::get().to(rules::list))
            .route("/rules", web::post().to(rules::create))
            .route("/rules/{rule}", web::delete().to(rules::delete))
            .route("/deliveries", web::get().to(deliveries::list))
            .route("/deliveries/{delivery}", web::get().to(deliveries::show))
            .route(
                "/deliveries/{delivery}/retry",
                web::post().to(deliveries::retry),
            )
            .route("/jira/issues", web::post().to(jira::create_issue))
            .route("/github/issues", web::post().to(github::create_issue))
            .route("/jira/oauth/start", web::post().to(jira_oauth::start))
            .route("/jira/oauth/callback", web::post().to(jira_oauth::callback))
            .route("/jira/me", web::get().to(jira_oauth::show))
            .route("/jira/me", web::delete().to(jira_oauth::disconnect))
            .route("/jira/me/issues", web::get().to(jira_oauth::issues))
            .route("/jira/me/sync", web::post().to(jira_oauth::sync)),
    )
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
) -> Result<Uuid, IntegrationError> {
    let access = ctx.require_role(minimum)?;
    if let Ok(id) = path_project.parse::<Uuid>()
        && id != access.project_id
    {
        return Err(IntegrationError::ContextMismatch);
    }
    tracing::Span::current().record("project_id", tracing::field::display(access.project_id));
    Ok(access.project_id)
}
