//! `/v1/projects/{project}/quality-gate-rules`: the rules a project's
//! admins set (viewers read them), and
//! `/v1/projects/{project}/builds/{build}/quality-gate`: a build's gate,
//! the call a CI step makes before a merge.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use tenant_core::json::Object;
use tenant_core::{Db, Role, TenantContext};
use utoipa::ToSchema;
use uuid::Uuid;

use super::openapi as doc;
use super::project_scope;
use crate::domain::gates::{
    BranchPattern, GateAnswer, GateRule, NewGateRule, RuleKind, RuleName, Threshold,
};
use crate::error::AnalyticsError;
use crate::jobs::gate_evaluation;
use crate::repository::gates as repository;

/// A rule to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateGateRule {
    /// 1 to 200 characters, unique in the project.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000](?:[^\x00-\x1f\x7f-\x9f]*[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000])?[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$"
    )]
    name: String,
    kind: RuleKind,
    /// The branches the rule applies to: a glob (`main`, `release/*`, `*`).
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$"
    )]
    branch_pattern: String,
    /// A whole count for max_failures, max_newly_failing and min_tests; a
    /// percentage (0 to 100) for min_pass_rate; absent or 0 for
    /// no_new_groups and no_product_bugs.
    #[schema(minimum = 0, maximum = 1_000_000_000)]
    threshold: Option<f64>,
    /// Default true.
    enabled: Option<bool>,
}

/// Changes to a rule; absent fields are kept. A rule's kind does not
/// change (create another rule).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateGateRule {
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000](?:[^\x00-\x1f\x7f-\x9f]*[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000])?[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$"
    )]
    name: Option<String>,
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$"
    )]
    branch_pattern: Option<String>,
    #[schema(minimum = 0, maximum = 1_000_000_000)]
    threshold: Option<f64>,
    enabled: Option<bool>,
}

/// A project's rules, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct GateRuleList {
    items: Vec<GateRule>,
}

const RULE_PATH: &str = "quality-gate-rules";

fn name(value: &str) -> Result<RuleName, AnalyticsError> {
    RuleName::parse(value).map_err(|message| {
        AnalyticsError::invalid_as("quality_gate_rule.invalid_name", "name", message)
    })
}

fn branch_pattern(value: &str) -> Result<BranchPattern, AnalyticsError> {
    BranchPattern::parse(value).map_err(|message| {
        AnalyticsError::invalid_as(
            "quality_gate_rule.invalid_branch_pattern",
            "branch_pattern",
            message,
        )
    })
}

fn threshold(kind: RuleKind, value: Option<f64>) -> Result<Threshold, AnalyticsError> {
    Threshold::parse(kind, value).map_err(|message| {
        AnalyticsError::invalid_as("quality_gate_rule.invalid_threshold", "threshold", message)
    })
}

/// `GET /v1/projects/{project}/quality-gate-rules`.
/// The project's quality gate rules, oldest first.
#[utoipa::path(
    get,
    path = "/v1/projects/{project}/quality-gate-rules",
    tag = "quality gates",
    params(("project" = String, Path, description = "Project id or slug")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Every rule of the project", body = GateRuleList),
        (status = 400, description = "The path names another project (`project.context_mismatch`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid context token (`context.*`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller has no role in the project (`context.role_too_low`)", body = doc::Problem, content_type = "application/problem+json"),
    ),
)]
#[tracing::instrument(skip_all, fields(project_id = tracing::field::Empty), err(level = "info"))]
pub async fn list_rules(
    ctx: TenantContext,
    db: web::Data<Db>,
    path: web::Path<String>,
) -> Result<HttpResponse, AnalyticsError> {
    let project_id = project_scope(&ctx, &path, Role::Viewer)?;
    let tx = db.tenant_tx(&ctx).await?;
    let items = repository::list_rules(&tx, project_id).await?;
    tx.commit().await?;
    Ok(HttpResponse::Ok().json(GateRuleList { items }))
}

/// `POST /v1/projects/{project}/quality-gate-rules`.
/// Creates a rule; builds finished from now on are evaluated with it.
#[utoipa::path(
    post,
    path = "/v1/projects/{project}/quality-gate-rules",
    tag = "quality gates",
    params(("project" = String, Path, description = "Project id or slug")),
    request_body = CreateGateRule,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The new rule", body = GateRule,
         headers(("location" = String, description = "`quality-gate-rules/{id}`"))),
        (status = 400, description = "Malformed JSON (`request.malformed_json`), or the path names another project (`project.context_mismatch`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid context token (`context.*`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller's role in the project is below admin (`context.role_too_low`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The project has a rule of this name (`quality_gate_rule.name_taken`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is too large (`request.body_too_large`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not JSON (`request.unsupported_media_type`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 422, description = "An invalid name (`quality_gate_rule.invalid_name`), branch pattern (`quality_gate_rule.invalid_branch_pattern`) or threshold for the kind (`quality_gate_rule.invalid_threshold`), an unknown kind or another invalid field (`request.invalid_body`)", body = doc::Problem, content_type = "application/problem+json"),
    ),
)]
#[tracing::instrument(skip_all, fields(project_id = tracing::field::Empty), err(level = "info"))]
pub async fn create_rule(
    ctx: TenantContext,
    db: web::Data<Db>,
    path: web::Path<String>,
    body: web::Json<Object<CreateGateRule>>,
) -> Result<HttpResponse, AnalyticsError> {
    let project_id = project_scope(&ctx, &path, Role::Admin)?;
    let body = body.into_inner().into_inner();
    let new = NewGateRule {
        name: name(&body.name)?,
        kind: body.kind,
        branch_pattern: branch_pattern(&body.branch_pattern)?,
        threshold: threshold(body.kind, body.threshold)?,
        enabled: body.enabled.unwrap_or(true),
    };
    let tx = db.tenant_tx(&ctx).await?;
    let rule = repository::create_rule(&tx, project_id, ctx.principal().id, &new).await?;
    tx.commit().await?;
    Ok(HttpResponse::Created()
        .insert_header(("location", format!("{RULE_PATH}/{}", rule.id)))
        .json(rule))
}

/// `GET /v1/projects/{project}/quality-gate-rules/{rule}`.
/// One quality gate rule.
#[utoipa::path(
    get,
    path = "/v1/projects/{project}/quality-gate-rules/{rule}",
    tag = "quality gates",
    params(
        ("project" = String, Path, description = "Project id or slug"),
        ("rule" = Uuid, Path, description = "The rule's id"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The rule", body = GateRule),
        (status = 400, description = "A rule id that is not a UUID (`request.invalid_path`), or the path names another project (`project.context_mismatch`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid context token (`context.*`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller has no role in the project (`context.role_too_low`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such rule in this project (`quality_gate_rule.not_found`)", body = doc::Problem, content_type = "application/problem+json"),
    ),
)]
#[tracing::instrument(skip_all, fields(project_id = tracing::field::Empty, rule_id = %path.1), err(level = "info"))]
pub async fn show_rule(
    ctx: TenantContext,
    db: web::Data<Db>,
    path: web::Path<(String, Uuid)>,
) -> Result<HttpResponse, AnalyticsError> {
    let (project, rule_id) = path.into_inner();
    let project_id = project_scope(&ctx, &project, Role::Viewer)?;
    let tx = db.tenant_tx(&ctx).await?;
    let rule = repository::get_rule(&tx, project_id, rule_id)
        .await?
        .ok_or(AnalyticsError::GateRuleNotFound)?;
    tx.commit().await?;
    Ok(HttpResponse::Ok().json(rule))
}

/// `PATCH /v1/projects/{project}/quality-gate-rules/{rule}`.
/// Changes a rule's name, branch pattern, threshold or enabled flag;
/// gates stored already keep the result they had.
#[utoipa::path(
    patch,
    path = "/v1/projects/{project}/quality-gate-rules/{rule}",
    tag = "quality gates",
    params(
        ("project" = String, Path, description = "Project id or slug"),
        ("rule" = Uuid, Path, description = "The rule's id"),
    ),
    request_body = UpdateGateRule,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The rule", body = GateRule),
        (status = 400, description = "Malformed JSON (`request.malformed_json`), a rule id that is not a UUID (`request.invalid_path`), or the path names another project (`project.context_mismatch`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid context token (`context.*`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller's role in the project is below admin (`context.role_too_low`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such rule in this project (`quality_gate_rule.not_found`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The project has another rule of this name (`quality_gate_rule.name_taken`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is too large (`request.body_too_large`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not JSON (`request.unsupported_media_type`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 422, description = "An invalid name, branch pattern or threshold (`quality_gate_rule.invalid_*`), or another invalid field such as `kind` (`request.invalid_body`)", body = doc::Problem, content_type = "application/problem+json"),
    ),
)]
#[tracing::instrument(skip_all, fields(project_id = tracing::field::Empty, rule_id = %path.1), err(level = "info"))]
pub async fn update_rule(
    ctx: TenantContext,
    db: web::Data<Db>,
    path: web::Path<(String, Uuid)>,
    body: web::Json<Object<UpdateGateRule>>,
) -> Result<HttpResponse, AnalyticsError> {
    let (project, rule_id) = path.into_inner();
    let project_id = project_scope(&ctx, &project, Role::Admin)?;
    let body = body.into_inner().into_inner();
    let new_name = body.name.as_deref().map(name).transpose()?;
    let new_pattern = body
        .branch_pattern
        .as_deref()
        .map(branch_pattern)
        .transpose()?;
    let tx = db.tenant_tx(&ctx).await?;
    let current = repository::get_rule(&tx, project_id, rule_id)
        .await?
        .ok_or(AnalyticsError::GateRuleNotFound)?;
    let new = NewGateRule {
        name: match new_name {
            Some(name) => name,
            None => name(&current.name)?,
        },
        kind: current.kind,
        branch_pattern: match new_pattern {
            Some(pattern) => pattern,
            None => branch_pattern(&current.branch_pattern)?,
        },
        threshold: threshold(current.kind, body.threshold.or(Some(current.threshold)))?,
        enabled: body.enabled.unwrap_or(current.enabled),
    };
    let rule = repository::update_rule(&tx, project_id, rule_id, &new)
        .await?
        .ok_or(AnalyticsError::GateRuleNotFound)?;
    tx.commit().await?;
    Ok(HttpResponse::Ok().json(rule))
}

/// `DELETE /v1/projects/{project}/quality-gate-rules/{rule}`.
/// Deletes a rule; gates stored already keep its result.
#[utoipa::path(
    delete,
    path = "/v1/projects/{project}/quality-gate-rules/{rule}",
    tag = "quality gates",
    params(
        ("project" = String, Path, description = "Project id or slug"),
        ("rule" = Uuid, Path, description = "The rule's id"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "A rule id that is not a UUID (`request.invalid_path`), or the path names another project (`project.context_mismatch`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid context token (`context.*`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller's role in the project is below admin (`context.role_too_low`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such rule in this project (`quality_gate_rule.not_found`)", body = doc::Problem, content_type = "application/problem+json"),
    ),
)]
#[tracing::instrument(skip_all, fields(project_id = tracing::field::Empty, rule_id = %path.1), err(level = "info"))]
pub async fn delete_rule(
    ctx: TenantContext,
    db: web::Data<Db>,
    path: web::Path<(String, Uuid)>,
) -> Result<HttpResponse, AnalyticsError> {
    let (project, rule_id) = path.into_inner();
    let project_id = project_scope(&ctx, &project, Role::Admin)?;
    let tx = db.tenant_tx(&ctx).await?;
    if !repository::delete_rule(&tx, project_id, rule_id).await? {
        return Err(AnalyticsError::GateRuleNotFound);
    }
    tx.commit().await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `GET /v1/projects/{project}/builds/{build}/quality-gate`.
/// The build's quality gate: `pending` while it runs or its failures are
/// not analysed, then `passed` or `failed` with each rule's result, the
/// same answer every time once the build has finished.
#[utoipa::path(
    get,
    path = "/v1/projects/{project}/builds/{build}/quality-gate",
    tag = "quality gates",
    params(
        ("project" = String, Path, description = "Project id or slug"),
        ("build" = Uuid, Path, description = "The build's id (the failure service's)"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The gate: pending, passed or failed", body = GateAnswer),
        (status = 400, description = "A build id that is not a UUID (`request.invalid_path`), or the path names another project (`project.context_mismatch`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid context token (`context.*`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller has no role in the project (`context.role_too_low`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such build in this project (`build.not_found`)", body = doc::Problem, content_type = "application/problem+json"),
    ),
)]
#[tracing::instrument(skip_all, fields(project_id = tracing::field::Empty, build_id = %path.1), err(level = "info"))]
pub async fn show_gate(
    ctx: TenantContext,
    db: web::Data<Db>,
    path: web::Path<(String, Uuid)>,
) -> Result<HttpResponse, AnalyticsError> {
    let (project, build_id) = path.into_inner();
    let project_id = project_scope(&ctx, &project, Role::Viewer)?;
    let tx = db.tenant_tx(&ctx).await?;
    let answer = gate_evaluation::quality_gate(&tx, project_id, build_id).await?;
    tx.commit().await?;
    Ok(HttpResponse::Ok().json(answer))
}
