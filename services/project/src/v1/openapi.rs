//! The project service's OpenAPI 3.1 document, generated from the
//! handlers' `#[utoipa::path]` annotations and served to other services at
//! `GET /internal/v1/openapi.json` (the gateway merges it into the public
//! `/api/openapi.json`).

use actix_web::HttpResponse;
use serde::Serialize;
use tenant_core::TenantContext;
use utoipa::{OpenApi, ToSchema};

use super::{MemberView, ProjectView, members, projects};

use tenant_core::openapi::CommonResponses;
pub use tenant_core::openapi::{BEARER, FieldProblem, Problem, Role};

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
#[serde(deny_unknown_fields)]
pub struct SettingsPatch {
    /// A branch name: 1 to 255 characters without whitespace or control
    /// characters; absent or `null`: unchanged.
    #[schema(
        pattern = r"^[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]{1,255}$"
    )]
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
    modifiers(&CommonResponses),
    tags((name = "projects", description = "Projects and plans"),
         (name = "members", description = "A project's members and their roles")),
)]
pub struct ApiDoc;

/// `GET /internal/v1/openapi.json`: this service's OpenAPI document, for
/// the gateway. Service principals only, like every `/internal` route.
pub async fn spec(ctx: TenantContext) -> Result<HttpResponse, tenant_core::Problem> {
    tenant_core::openapi::serve(&ctx, &ApiDoc::openapi())
}
