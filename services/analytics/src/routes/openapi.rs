//! The analytics service's OpenAPI 3.1 document, generated from the
//! handlers' `#[utoipa::path]` annotations and served to other services at
//! `GET /internal/v1/openapi.json` (the gateway merges it into the public
//! `/api/openapi.json`).

use actix_web::HttpResponse;
use tenant_core::TenantContext;
use tenant_core::openapi::CommonResponses;
use utoipa::OpenApi;

use super::{comparison, dashboards, overview, quality_gates};
use crate::error::AnalyticsError;

pub use tenant_core::openapi::{FieldProblem, Problem};

#[derive(Debug, OpenApi)]
#[openapi(
    info(title = "analytics-service", description = "Dashboards over a project's test history (summary, trends, rankings, time to resolution, a user's projects side by side), read from rollups the service keeps from the failure service's events and views; quality gates a CI step calls before a merge; build comparison."),
    paths(
        dashboards::summary,
        dashboards::trends,
        dashboards::rankings,
        dashboards::mttr,
        overview::overview,
        quality_gates::list_rules,
        quality_gates::create_rule,
        quality_gates::show_rule,
        quality_gates::update_rule,
        quality_gates::delete_rule,
        quality_gates::show_gate,
        comparison::compare_builds,
    ),
    components(schemas(Problem, FieldProblem)),
    modifiers(&CommonResponses),
    tags(
        (name = "analytics", description = "Dashboards: pass rates, trends, rankings, time to resolution"),
        (name = "quality gates", description = "Per-project rules a build must pass, a build's gate, and what changed against another build"),
    ),
)]
pub struct ApiDoc;

/// `GET /internal/v1/openapi.json`: this service's OpenAPI document, for
/// the gateway. Service principals only, like every `/internal` route.
#[tracing::instrument(skip_all, err(level = "info"))]
pub async fn spec(ctx: TenantContext) -> Result<HttpResponse, AnalyticsError> {
    Ok(tenant_core::openapi::serve(&ctx, &ApiDoc::openapi())?)
}
