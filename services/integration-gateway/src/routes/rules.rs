//! `/v1/projects/{project}/integrations/rules`: which events go out
//! through which connection. Admins manage them; every member reads them.
//! A rule applies to events received after it was created.

use actix_web::{HttpResponse, web};
use serde::Serialize;
use tenant_core::json::Object;
use tenant_core::{Db, Role, TenantContext};
use utoipa::ToSchema;
use uuid::Uuid;

use super::openapi as doc;
use super::project_scope;
use crate::domain::connections::ConnectionKind;
use crate::domain::rules::{MAX_RULES_PER_PROJECT, NewRule, Rule};
use crate::error::IntegrationError;
use crate::repository::connections;
use crate::repository::rules as repository;

/// A project's notification rules, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct RuleList {
    items: Vec<Rule>,
}

/// `GET /v1/projects/{project}/integrations/rules`.
#[utoipa::path(
    get,
    path = "/v1/projects/{project}/integrations/rules",
    tag = "integrations",
    params(("project" = String, Path, description = "Project id or slug")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Every notification rule of the project (at most 200)", body = RuleList),
        (status = 400, description = "The path names another project (`project.context_mismatch`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid context token (`context.*`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller has no role in the project (`context.role_too_low`)", body = doc::Problem, content_type = "application/problem+json"),
    ),
)]
#[tracing::instrument(skip_all, fields(project_id = tracing::field::Empty), err(level = "info"))]
pub async fn list(
    ctx: TenantContext,
    db: web::Data<Db>,
    path: web::Path<String>,
) -> Result<HttpResponse, IntegrationError> {
    let project_id = project_scope(&ctx, &path, Role::Viewer)?;
    let tx = db.tenant_tx(&ctx).await?;
    let items = repository::list(&tx, project_id).await?;
    tx.commit().await?;
    Ok(HttpResponse::Ok().json(RuleList { items }))
}

/// `POST /v1/projects/{project}/integrations/rules`.
/// Creates a rule: the events it names, received from now on, go out
/// through its connection.
#[utoipa::path(
    post,
    path = "/v1/projects/{project}/integrations/rules",
    tag = "integrations",
    params(("project" = String, Path, description = "Project id or slug")),
    request_body = NewRule,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The new rule", body = Rule,
         headers(("location" = String, description = "`rules/{id}`"))),
        (status = 400, description = "Malformed JSON (`request.malformed_json`), or the path names another project (`project.context_mismatch`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid context token (`context.*`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller's role in the project is below admin (`context.role_too_low`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such connection in this project (`connection.not_found`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The project has 200 rules already (`notification_rule.too_many`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is too large (`request.body_too_large`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not JSON (`request.unsupported_media_type`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 422, description = "An unknown event or label, a Jira connection, a GitHub connection with events other than `build.completed` and `gate.failed`, or another invalid field (`request.invalid_body`)", body = doc::Problem, content_type = "application/problem+json"),
    ),
)]
#[tracing::instrument(skip_all, fields(project_id = tracing::field::Empty), err(level = "info"))]
pub async fn create(
    ctx: TenantContext,
    db: web::Data<Db>,
    path: web::Path<String>,
    body: web::Json<Object<NewRule>>,
) -> Result<HttpResponse, IntegrationError> {
    let project_id = project_scope(&ctx, &path, Role::Admin)?;
    let new = body.into_inner().into_inner().validate()?;
    let tx = db.tenant_tx(&ctx).await?;
    let connection = connections::find(&tx, project_id, new.connection_id)
        .await?
        .ok_or(IntegrationError::ConnectionNotFound)?;
    let pull_request_events = new
        .events
        .iter()
        .all(|e| e == "build.completed" || e == "gate.failed");
    match connection.kind {
        ConnectionKind::Slack | ConnectionKind::Webhook => {}
        ConnectionKind::Github if pull_request_events => {}
        ConnectionKind::Github => {
            return Err(IntegrationError::invalid(
                "events",
                "a GitHub connection comments on pull requests: build.completed and gate.failed only",
            ));
        }
        ConnectionKind::Jira => {
            return Err(IntegrationError::invalid(
                "connection_id",
                "notifications go through Slack, webhook or GitHub connections",
            ));
        }
    }
    if repository::count(&tx, project_id).await? >= MAX_RULES_PER_PROJECT {
        return Err(IntegrationError::TooManyRules {
            max: MAX_RULES_PER_PROJECT,
        });
    }
    let rule = repository::insert(&tx, project_id, &new).await?;
    tx.commit().await?;
    Ok(HttpResponse::Created()
        .insert_header(("location", format!("rules/{}", rule.id)))
        .json(rule))
}

/// `DELETE /v1/projects/{project}/integrations/rules/{rule}`.
#[utoipa::path(
    delete,
    path = "/v1/projects/{project}/integrations/rules/{rule}",
    tag = "integrations",
    params(
        ("project" = String, Path, description = "Project id or slug"),
        ("rule" = Uuid, Path, description = "The rule's id"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted; deliveries it made stay"),
        (status = 400, description = "An id that is not a UUID (`request.invalid_path`), or the path names another project (`project.context_mismatch`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid context token (`context.*`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller's role in the project is below admin (`context.role_too_low`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such rule in this project (`notification_rule.not_found`)", body = doc::Problem, content_type = "application/problem+json"),
    ),
)]
#[tracing::instrument(skip_all, fields(project_id = tracing::field::Empty, rule_id = %path.1), err(level = "info"))]
pub async fn delete(
    ctx: TenantContext,
    db: web::Data<Db>,
    path: web::Path<(String, Uuid)>,
) -> Result<HttpResponse, IntegrationError> {
    let (project, id) = path.into_inner();
    let project_id = project_scope(&ctx, &project, Role::Admin)?;
    let tx = db.tenant_tx(&ctx).await?;
    if !repository::delete(&tx, project_id, id).await? {
        return Err(IntegrationError::RuleNotFound);
    }
    tx.commit().await?;
    Ok(HttpResponse::NoContent().finish())
}
