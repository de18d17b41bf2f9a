//! `/v1/projects/{project}/plan`: platform admins change a project's plan.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use tenant_core::json::Object;
use tenant_core::openapi as doc;
use tenant_core::{Db, TenantContext};
use tracing::field::{Empty, display};

use super::projects::ProjectView;
use crate::domain::{Plan, ProjectRef};
use crate::error::ProjectError;
use crate::member_scope::{MemberScope, check_context_project};
use crate::repository::projects;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePlan {
    pub plan: Plan,
}

/// `PUT /v1/projects/{project}/plan`: platform admins only, member or not
/// (a platform operation, not access to the project's data). Anyone else
/// gets 403 if they are a member and the usual 404 if not.
/// Changes a project's plan (platform admins, member or not).
#[utoipa::path(
    put,
    path = "/v1/projects/{project}/plan",
    tag = "projects",
    params(
        ("project" = String, Path, description = "Project id or slug"),
    ),
    request_body = ChangePlan,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The project on its new plan", body = ProjectView),
        (status = 400, description = "Malformed JSON, or another project is in the request context (`project.context_mismatch`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid context: not signed in (`context.*`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 403, description = "A member who is not a platform admin", body = doc::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such project, or not a member (`project.not_found`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is too large (`request.body_too_large`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not JSON (`request.unsupported_media_type`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown plan (`request.invalid_body`)", body = doc::Problem, content_type = "application/problem+json"),
    ),
)]
#[tracing::instrument(skip_all, fields(project = %path.as_str(), project_id = Empty), err(level = "info"))]
pub async fn change_plan(
    ctx: TenantContext,
    db: web::Data<Db>,
    path: web::Path<String>,
    body: web::Json<Object<ChangePlan>>,
) -> Result<HttpResponse, ProjectError> {
    if let Err(not_admin) = ctx.require_platform_admin() {
        MemberScope::resolve(&db, &ctx, &path).await?;
        return Err(not_admin.into());
    }
    let project_ref = ProjectRef::parse(&path).ok_or(ProjectError::NotFound)?;
    let registry = db.unscoped_tx().await?;
    let project = projects::find(&registry, &project_ref)
        .await?
        .ok_or(ProjectError::NotFound)?;
    registry.commit().await?;
    tracing::Span::current().record("project_id", display(project.id));
    check_context_project(&ctx, project.id)?;

    // No membership to scope by: the project's own worker scope, which the
    // access change trigger needs to record the new limits.
    let tx = db.worker_tx(project.id).await?;
    let project = projects::lock(&tx, project.id)
        .await?
        .ok_or(ProjectError::NotFound)?;
    let row = if project.plan == body.plan {
        project
    } else {
        projects::set_plan(&tx, project.id, body.plan).await?
    };
    tx.commit().await?;
    Ok(HttpResponse::Ok().json(ProjectView::new(row, None)))
}
