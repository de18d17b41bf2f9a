//! The analytics service's OpenAPI 3.1 document, generated from the
//! handlers' `#[utoipa::path]` annotations and served to other services at
//! `GET /internal/v1/openapi.json` (the gateway merges it into the public
//! `/api/openapi.json`).

use actix_web::HttpResponse;
use tenant_core::TenantContext;
use tenant_core::openapi::CommonResponses;
use utoipa::OpenApi;

use super::{comparison, quality_gates};
use crate::error::AnalyticsError;

pub use tenant_core::openapi::{FieldProblem, Problem};

#[derive(Debug, OpenApi)]
#[openapi(
    info(title = "analytics-service", description = "The read model over failure data: quality gates a CI step calls before a merge, and build comparison."),
    paths(
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
    tags((name = "quality gates", description = "Per-project rules a build must pass, a build's gate, and what changed against another build")),
)]
pub struct ApiDoc;

/// `GET /internal/v1/openapi.json`: this service's OpenAPI document, for
/// the gateway. Service principals only, like every `/internal` route.
#[tracing::instrument(skip_all, err(level = "info"))]
pub async fn spec(ctx: TenantContext) -> Result<HttpResponse, AnalyticsError> {
    Ok(tenant_core::openapi::serve(&ctx, &ApiDoc::openapi())?)
}
