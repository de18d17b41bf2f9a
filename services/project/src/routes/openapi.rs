//! The project service's OpenAPI 3.1 document, generated from the
//! handlers' `#[utoipa::path]` annotations and the request and answer
//! types themselves, and served to other services at
//! `GET /internal/v1/openapi.json` (the gateway merges it into the public
//! `/api/openapi.json`).

use actix_web::HttpResponse;
use tenant_core::TenantContext;
use tenant_core::openapi::{CommonResponses, FieldProblem, Problem};
use utoipa::OpenApi;

use super::{members, plan, projects};
use crate::error::ProjectError;

#[derive(Debug, OpenApi)]
#[openapi(
    info(title = "project-service", description = "Projects, memberships, roles and plans."),
    paths(
        projects::list,
        projects::create,
        projects::get,
        projects::update,
        projects::delete,
        projects::archive,
        projects::restore,
        plan::change_plan,
        members::list,
        members::add,
        members::get,
        members::change_role,
        members::remove,
    ),
    components(schemas(Problem, FieldProblem)),
    modifiers(&CommonResponses),
    tags((name = "projects", description = "Projects and plans"),
         (name = "members", description = "A project's members and their roles")),
)]
pub struct ApiDoc;

/// `GET /internal/v1/openapi.json`: this service's OpenAPI document, for
/// the gateway. Service principals only, like every `/internal` route.
#[tracing::instrument(skip_all, err(level = "info"))]
pub async fn spec(ctx: TenantContext) -> Result<HttpResponse, ProjectError> {
    Ok(tenant_core::openapi::serve(&ctx, &ApiDoc::openapi())?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `AddMember` states the pattern in its attribute (utoipa takes a
    /// literal only); it must stay the shared parser's.
    #[test]
    fn the_documented_email_pattern_is_the_shared_parsers() {
        let document = serde_json::to_value(ApiDoc::openapi()).unwrap();
        assert_eq!(
            document["components"]["schemas"]["AddMember"]["properties"]["email"]["pattern"],
            tenant_core::email::PATTERN
        );
    }
}
