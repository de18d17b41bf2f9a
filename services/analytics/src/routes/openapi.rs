//! The analytics service's OpenAPI 3.1 document, generated from the
//! handlers' `#[utoipa::path]` annotations and served to other services at
//! `GET /internal/v1/openapi.json` (the gateway merges it into the public
//! `/api/openapi.json`).

use actix_web::HttpResponse;
use tenant_core::TenantContext;
use utoipa::OpenApi;

use super::{dashboards, overview};
use crate::error::AnalyticsError;

use tenant_core::openapi::CommonResponses;
pub use tenant_core::openapi::{FieldProblem, Problem};

#[derive(Debug, OpenApi)]
#[openapi(
    info(title = "analytics-service", description = "Dashboards over a project's test history: summary, trends, rankings, time to resolution, and a user's projects side by side. Read from rollups the service keeps from the failure service's events and views."),
    paths(
        dashboards::summary,
        dashboards::trends,
        dashboards::rankings,
        dashboards::mttr,
        overview::overview,
    ),
    components(schemas(Problem, FieldProblem)),
    modifiers(&CommonResponses),
    tags((name = "analytics", description = "Dashboards: pass rates, trends, rankings, time to resolution")),
)]
pub struct ApiDoc;

/// `GET /internal/v1/openapi.json`: this service's OpenAPI document, for
/// the gateway. Service principals only, like every `/internal` route.
#[tracing::instrument(skip_all, err(level = "info"))]
pub async fn spec(ctx: TenantContext) -> Result<HttpResponse, AnalyticsError> {
    Ok(tenant_core::openapi::serve(&ctx, &ApiDoc::openapi())?)
}
