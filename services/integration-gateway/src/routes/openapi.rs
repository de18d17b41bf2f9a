//! The integration gateway's OpenAPI 3.1 document, generated from the
//! handlers' `#[utoipa::path]` annotations and served to other services at
//! `GET /internal/v1/openapi.json` (the API gateway merges it into the
//! public `/api/openapi.json`).

use actix_web::HttpResponse;
use tenant_core::TenantContext;
use tenant_core::openapi::CommonResponses;
use utoipa::OpenApi;

use super::{connections, deliveries, github, jira, jira_oauth, rules};
use crate::error::IntegrationError;

pub use tenant_core::openapi::{FieldProblem, Problem};

#[derive(Debug, OpenApi)]
#[openapi(
    info(title = "integration-gateway", description = "Connections to Slack, webhook receivers, GitHub and Jira with sealed secrets, the rules that send a project's events through them, and the deliveries they made."),
    paths(
        connections::list,
        connections::create,
        connections::show,
        connections::delete,
        rules::list,
        rules::create,
        rules::delete,
        deliveries::list,
        deliveries::show,
        deliveries::retry,
        jira::create_issue,
        github::create_issue,
        jira_oauth::start,
        jira_oauth::callback,
        jira_oauth::show,
        jira_oauth::disconnect,
        jira_oauth::issues,
        jira_oauth::sync,
    ),
    components(schemas(Problem, FieldProblem, deliveries::DeliveryStatus)),
    modifiers(&CommonResponses),
    tags((name = "integrations", description = "A project's connections to third parties, its notification rules and their deliveries")),
)]
pub struct ApiDoc;

/// `GET /internal/v1/openapi.json`: this service's OpenAPI document, for
/// the gateway. Service principals only, like every `/internal` route.
#[tracing::instrument(skip_all, err(level = "info"))]
pub async fn spec(ctx: TenantContext) -> Result<HttpResponse, IntegrationError> {
    Ok(tenant_core::openapi::serve(&ctx, &ApiDoc::openapi())?)
}
