//! The project service's OpenAPI 3.1 document, generated from the
//! handlers' `#[utoipa::path]` annotations and served to other services at
//! `GET /internal/v1/openapi.json` (the gateway merges it into the public
//! `/api/openapi.json`).

use actix_web::HttpResponse;
use serde::Serialize;
use tenant_core::TenantContext;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
use utoipa::{Modify, OpenApi, ToSchema};

use super::{MemberView, ProjectView, members, projects};

/// The security scheme every authenticated operation names.
pub const BEARER: &str = "bearer";

/// An RFC 9457 problem document: every error of every service has this shape.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// `urn:faultline:problem:{code}`.
    #[serde(rename = "type")]
    type_uri: String,
    title: String,
    status: u16,
    detail: Option<String>,
    /// Stable dotted code clients may match on (`auth.invalid_credentials`).
    code: String,
    /// Quote it when reporting a problem.
    request_id: Option<String>,
    /// Field-level problems for validation errors.
    #[schema(default = json!([]))]
    errors: Vec<FieldProblem>,
}

/// One invalid field in a request body or query.
#[derive(Debug, Serialize, ToSchema)]
pub struct FieldProblem {
    field: String,
    message: String,
}

/// A project role.
#[derive(Debug, Serialize, ToSchema)]
#[allow(
    dead_code,
    reason = "described here, never built: handlers take tenant_core::Role"
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Viewer,
    Member,
    Admin,
    Owner,
}

/// A project's lifecycle state.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[allow(
    dead_code,
    reason = "described here, never built: handlers use domain::ProjectStatus"
)]
pub enum ProjectStatus {
    Active,
    Archived,
    Deleted,
}

/// A commercial plan.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[allow(
    dead_code,
    reason = "described here, never built: handlers use domain::Plan"
)]
pub enum Plan {
    Free,
    Team,
    Enterprise,
}

/// What a plan allows.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlanLimits {
    requests_per_minute: u32,
    request_burst: u32,
    uploads_per_minute: u32,
    upload_burst: u32,
    retention_days: u32,
}

/// A project's settings.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProjectSettings {
    /// The main line trends and quality gates compare against.
    default_branch: String,
}

/// Changes to a project's settings; absent fields stay as they are.
#[derive(Debug, Serialize, ToSchema)]
pub struct SettingsPatch {
    default_branch: Option<String>,
}

/// A page of projects, by name.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProjectPage {
    items: Vec<ProjectView>,
    /// Pass as `cursor` for the next page; absent on the last one.
    next_cursor: Option<String>,
}

/// A page of members, by user id.
#[derive(Debug, Serialize, ToSchema)]
pub struct MemberPage {
    items: Vec<MemberView>,
    next_cursor: Option<String>,
}

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
        projects::change_plan,
        members::list,
        members::add,
        members::get,
        members::change_role,
        members::remove,
    ),
    components(schemas(Problem, FieldProblem)),
    modifiers(&Common),
    tags((name = "projects", description = "Projects and plans"),
         (name = "members", description = "A project's members and their roles")),
)]
pub struct ApiDoc;

/// The bearer scheme, and the failures any operation can answer with.
struct Common;

impl Modify for Common {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        add_common(openapi);
    }
}

/// Adds the `bearer` security scheme and the 500 and 503 problems every
/// operation may answer with.
pub fn add_common(openapi: &mut utoipa::openapi::OpenApi) {
    let components = openapi.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        BEARER,
        SecurityScheme::Http(Http::builder().scheme(HttpAuthScheme::Bearer).build()),
    );
    let problem = |description: &str| {
        ResponseBuilder::new()
            .description(description)
            .content(
                tenant_core::error::PROBLEM_CONTENT_TYPE,
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("Problem")))
                    .build(),
            )
            .build()
    };
    for item in openapi.paths.paths.values_mut() {
        for operation in [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ]
        .into_iter()
        .flatten()
        {
            let responses = &mut operation.responses.responses;
            responses
                .entry("500".into())
                .or_insert_with(|| problem("Internal error (`internal`)").into());
            responses.entry("503".into()).or_insert_with(|| {
                problem("The database or a service this depends on is unavailable; retry after `Retry-After`").into()
            });
        }
    }
}

/// `GET /internal/v1/openapi.json`: this service's OpenAPI document, for
/// the gateway. Service principals only, like every `/internal` route.
pub async fn spec(ctx: TenantContext) -> Result<HttpResponse, tenant_core::Problem> {
    ctx.require_service()?;
    let body = serde_json::to_vec(&ApiDoc::openapi()).map_err(tenant_core::Problem::internal)?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(body))
}
