//! `/v1/projects/{project}/classification-rules`: the rules a project's
//! admins write. A rule applies to groups created after it (and to
//! failures ingested after it); groups that exist keep their label until
//! they are re-analysed.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Deserializer, Serialize};
use tenant_core::json::Object;
use tenant_core::{Db, Role, TenantContext};
use utoipa::ToSchema;
use uuid::Uuid;

use super::openapi as doc;
use super::project_scope;
use crate::domain::classification::rules::MAX_RULES_PER_PROJECT;
use crate::domain::classification::{
    Label, NewRule, RuleField, RulePatch, RuleRecord, compile_pattern,
};
use crate::error::FailureError;
use crate::repository::classification_rules as repository;

/// A rule to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRule {
    /// 1 to 200 characters, shown in explanations.
    #[schema(min_length = 1, max_length = 200, pattern = r"^[^\x00]*$")]
    name: String,
    field: RuleField,
    /// A regular expression (the `regex` crate's syntax, e.g. `(?i)` for
    /// case insensitive), searched anywhere in the field; at most 1000
    /// characters.
    #[schema(min_length = 1, max_length = 1000, pattern = r"^[^\x00]*$")]
    pattern: String,
    label: Label,
    /// Default true.
    enabled: Option<bool>,
    /// Rules are tried by ascending position; default: after the last.
    /// 0 to 1000000.
    #[schema(minimum = 0, maximum = 1_000_000)]
    #[serde(default, deserialize_with = "whole_number")]
    position: Option<i32>,
}

/// Changes to a rule; absent fields are kept.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateRule {
    #[schema(min_length = 1, max_length = 200, pattern = r"^[^\x00]*$")]
    name: Option<String>,
    field: Option<RuleField>,
    #[schema(min_length = 1, max_length = 1000, pattern = r"^[^\x00]*$")]
    pattern: Option<String>,
    label: Option<Label>,
    enabled: Option<bool>,
    /// 0 to 1000000.
    #[schema(minimum = 0, maximum = 1_000_000)]
    #[serde(default, deserialize_with = "whole_number")]
    position: Option<i32>,
}

/// A position written as `3.0` is the whole number 3: JSON has one number
/// type, and the document's `integer` (JSON Schema's) admits it, so a
/// client that writes every number with a fraction is not refused.
/// Anything else that is not a whole `i32` is refused as serde would.
fn whole_number<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<i32>, D::Error> {
    use serde::de::Error;
    let Some(number) = Option::<serde_json::Number>::deserialize(deserializer)? else {
        return Ok(None);
    };
    let whole = match (number.as_i64(), number.as_f64()) {
        (Some(integer), _) => Some(integer),
        (None, Some(float)) if float.fract() == 0.0 && float.abs() <= f64::from(i32::MAX) => {
            format!("{float:.0}").parse::<i64>().ok()
        }
        _ => None,
    };
    whole
        .and_then(|integer| i32::try_from(integer).ok())
        .map(Some)
        .ok_or_else(|| {
            D::Error::custom(format!(
                "invalid value: {number}, expected a whole number (i32)"
            ))
        })
}

/// The largest position a rule may be given; a rule created without one
/// goes after the last, which stays far from the column's range.
const MAX_POSITION: i32 = 1_000_000;

fn rule_position(position: Option<i32>) -> Result<Option<i32>, FailureError> {
    match position {
        Some(p) if !(0..=MAX_POSITION).contains(&p) => Err(FailureError::invalid(
            "position",
            "must be between 0 and 1000000",
        )),
        _ => Ok(position),
    }
}

fn rule_name(name: String) -> Result<String, FailureError> {
    let name = name.trim().to_owned();
    match name.chars().count() {
        0 => Err(FailureError::invalid("name", "must not be empty")),
        n if n > 200 => Err(FailureError::invalid(
            "name",
            "must be at most 200 characters",
        )),
        _ => Ok(name),
    }
}

fn pattern(pattern: String) -> Result<String, FailureError> {
    compile_pattern(&pattern).map_err(FailureError::InvalidPattern)?;
    Ok(pattern)
}

/// A project's rules, in the order they are tried.
#[derive(Debug, Serialize, ToSchema)]
pub struct RuleList {
    items: Vec<RuleRecord>,
}

const RULE_PATH: &str = "classification-rules";

/// `GET /v1/projects/{project}/classification-rules`.
/// The project's classification rules, in the order they are tried.
#[utoipa::path(
    get,
    path = "/v1/projects/{project}/classification-rules",
    tag = "classification rules",
    params(("project" = String, Path, description = "Project id or slug")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Every rule of the project (at most 200)", body = RuleList),
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
) -> Result<HttpResponse, FailureError> {
    let project_id = project_scope(&ctx, &path, Role::Viewer)?;
    let tx = db.tenant_tx(&ctx).await?;
    let items = repository::list_rules(&tx, project_id).await?;
    tx.commit().await?;
    Ok(HttpResponse::Ok().json(RuleList { items }))
}

/// `POST /v1/projects/{project}/classification-rules`.
/// Creates a rule; it applies to groups and failures ingested from now on.
#[utoipa::path(
    post,
    path = "/v1/projects/{project}/classification-rules",
    tag = "classification rules",
    params(("project" = String, Path, description = "Project id or slug")),
    request_body = CreateRule,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The new rule", body = RuleRecord,
         headers(("location" = String, description = "`classification-rules/{id}`"))),
        (status = 400, description = "Malformed JSON (`request.malformed_json`), or the path names another project (`project.context_mismatch`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid context token (`context.*`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller's role in the project is below admin (`context.role_too_low`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The project has 200 rules already (`classification_rule.too_many`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is too large (`request.body_too_large`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not JSON (`request.unsupported_media_type`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 422, description = "A pattern that does not compile or is too large (`classification_rule.invalid_pattern`), or another invalid field (`request.invalid_body`)", body = doc::Problem, content_type = "application/problem+json"),
    ),
)]
#[tracing::instrument(skip_all, fields(project_id = tracing::field::Empty), err(level = "info"))]
pub async fn create(
    ctx: TenantContext,
    db: web::Data<Db>,
    path: web::Path<String>,
    body: web::Json<Object<CreateRule>>,
) -> Result<HttpResponse, FailureError> {
    let project_id = project_scope(&ctx, &path, Role::Admin)?;
    let body = body.into_inner().into_inner();
    let new = NewRule {
        name: rule_name(body.name)?,
        field: body.field,
        pattern: pattern(body.pattern)?,
        label: body.label,
        enabled: body.enabled.unwrap_or(true),
        position: rule_position(body.position)?,
    };
    let tx = db.tenant_tx(&ctx).await?;
    let rule = repository::create_rule(
        &tx,
        project_id,
        ctx.principal().id,
        &new,
        MAX_RULES_PER_PROJECT,
    )
    .await?
    .ok_or(FailureError::TooManyRules {
        max: MAX_RULES_PER_PROJECT,
    })?;
    tx.commit().await?;
    Ok(HttpResponse::Created()
        .insert_header(("location", format!("{RULE_PATH}/{}", rule.id)))
        .json(rule))
}

/// `GET /v1/projects/{project}/classification-rules/{rule}`.
/// One classification rule.
#[utoipa::path(
    get,
    path = "/v1/projects/{project}/classification-rules/{rule}",
    tag = "classification rules",
    params(
        ("project" = String, Path, description = "Project id or slug"),
        ("rule" = Uuid, Path, description = "The rule's id"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The rule", body = RuleRecord),
        (status = 400, description = "A rule id that is not a UUID (`request.invalid_path`), or the path names another project (`project.context_mismatch`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid context token (`context.*`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller has no role in the project (`context.role_too_low`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such rule in this project (`classification_rule.not_found`)", body = doc::Problem, content_type = "application/problem+json"),
    ),
)]
#[tracing::instrument(skip_all, fields(project_id = tracing::field::Empty, rule_id = %path.1), err(level = "info"))]
pub async fn show(
    ctx: TenantContext,
    db: web::Data<Db>,
    path: web::Path<(String, Uuid)>,
) -> Result<HttpResponse, FailureError> {
    let (project, rule_id) = path.into_inner();
    let project_id = project_scope(&ctx, &project, Role::Viewer)?;
    let tx = db.tenant_tx(&ctx).await?;
    let rule = repository::get_rule(&tx, project_id, rule_id)
        .await?
        .ok_or(FailureError::RuleNotFound)?;
    tx.commit().await?;
    Ok(HttpResponse::Ok().json(rule))
}

/// `PATCH /v1/projects/{project}/classification-rules/{rule}`.
/// Changes a rule; the change applies to groups and failures ingested from now on.
#[utoipa::path(
    patch,
    path = "/v1/projects/{project}/classification-rules/{rule}",
    tag = "classification rules",
    params(
        ("project" = String, Path, description = "Project id or slug"),
        ("rule" = Uuid, Path, description = "The rule's id"),
    ),
    request_body = UpdateRule,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The rule", body = RuleRecord),
        (status = 400, description = "Malformed JSON (`request.malformed_json`), a rule id that is not a UUID (`request.invalid_path`), or the path names another project (`project.context_mismatch`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid context token (`context.*`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller's role in the project is below admin (`context.role_too_low`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such rule in this project (`classification_rule.not_found`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is too large (`request.body_too_large`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not JSON (`request.unsupported_media_type`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 422, description = "A pattern that does not compile or is too large (`classification_rule.invalid_pattern`), or another invalid field (`request.invalid_body`)", body = doc::Problem, content_type = "application/problem+json"),
    ),
)]
#[tracing::instrument(skip_all, fields(project_id = tracing::field::Empty, rule_id = %path.1), err(level = "info"))]
pub async fn update(
    ctx: TenantContext,
    db: web::Data<Db>,
    path: web::Path<(String, Uuid)>,
    body: web::Json<Object<UpdateRule>>,
) -> Result<HttpResponse, FailureError> {
    let (project, rule_id) = path.into_inner();
    let project_id = project_scope(&ctx, &project, Role::Admin)?;
    let body = body.into_inner().into_inner();
    let patch = RulePatch {
        name: body.name.map(rule_name).transpose()?,
        field: body.field,
        pattern: body.pattern.map(pattern).transpose()?,
        label: body.label,
        enabled: body.enabled,
        position: rule_position(body.position)?,
    };
    let tx = db.tenant_tx(&ctx).await?;
    let rule = repository::update_rule(&tx, project_id, rule_id, &patch)
        .await?
        .ok_or(FailureError::RuleNotFound)?;
    tx.commit().await?;
    Ok(HttpResponse::Ok().json(rule))
}

/// `DELETE /v1/projects/{project}/classification-rules/{rule}`.
/// Deletes a rule; labels it gave stay until re-analysis.
#[utoipa::path(
    delete,
    path = "/v1/projects/{project}/classification-rules/{rule}",
    tag = "classification rules",
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
        (status = 404, description = "No such rule in this project (`classification_rule.not_found`)", body = doc::Problem, content_type = "application/problem+json"),
    ),
)]
#[tracing::instrument(skip_all, fields(project_id = tracing::field::Empty, rule_id = %path.1), err(level = "info"))]
pub async fn delete(
    ctx: TenantContext,
    db: web::Data<Db>,
    path: web::Path<(String, Uuid)>,
) -> Result<HttpResponse, FailureError> {
    let (project, rule_id) = path.into_inner();
    let project_id = project_scope(&ctx, &project, Role::Admin)?;
    let tx = db.tenant_tx(&ctx).await?;
    if !repository::delete_rule(&tx, project_id, rule_id).await? {
        return Err(FailureError::RuleNotFound);
    }
    tx.commit().await?;
    Ok(HttpResponse::NoContent().finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_position_is_any_json_number_with_no_fraction_within_i32() {
        let position = |json: &str| {
            serde_json::from_str::<UpdateRule>(&format!(r#"{{"position": {json}}}"#))
                .map(|rule| rule.position)
        };
        assert_eq!(position("156").unwrap(), Some(156));
        assert_eq!(position("156.0").unwrap(), Some(156));
        assert_eq!(position("-3.0").unwrap(), Some(-3));
        assert_eq!(position("null").unwrap(), None);
        assert!(position("1.5").is_err());
        assert!(position("3000000000").is_err());
        assert!(position("3e10").is_err());
        assert!(position("\"7\"").is_err());
        assert_eq!(
            serde_json::from_str::<UpdateRule>("{}").unwrap().position,
            None
        );
    }
}
