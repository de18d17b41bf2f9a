//! `/v1/projects/{project}/quarantine`: tests whose failures do not fail
//! builds' verdicts, as CI reads them (JSON, or plain text one test id a
//! line), and putting a test in or out of quarantine.

use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use tenant_core::{Db, Role, TenantContext};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::openapi as doc;
use super::project_scope;
use crate::domain::flakiness::{HealthChanges, QuarantineEntry};
use crate::error::FailureError;
use crate::repository::quarantine::{self as repository, Actor};
use crate::repository::results as test_results;
use crate::upload::health::publish_health_changes;

/// Why a test is quarantined. The body is optional.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuarantineRequest {
    /// At most 1000 characters, no control characters but line breaks and tabs.
    #[schema(
        max_length = 1000,
        pattern = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$"
    )]
    reason: Option<String>,
}

impl QuarantineRequest {
    /// An empty body or `null` is no reason; anything else must be this
    /// object.
    fn parse(body: &[u8]) -> Result<Option<String>, FailureError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        let request: Option<Self> = serde_json::from_slice(body)
            .map_err(|error| FailureError::invalid("body", error.to_string()))?;
        let Some(request) = request else {
            return Ok(None);
        };
        let reason = request
            .reason
            .map(|r| r.trim().to_owned())
            .filter(|r| !r.is_empty());
        if let Some(reason) = &reason {
            if reason.chars().count() > 1000 {
                return Err(FailureError::invalid(
                    "reason",
                    "must be at most 1000 characters",
                ));
            }
            if reason
                .chars()
                .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
            {
                return Err(FailureError::invalid(
                    "reason",
                    "must not contain control characters",
                ));
            }
        }
        Ok(reason)
    }
}

/// `PUT /v1/projects/{project}/quarantine/{test}`: audited. Quarantining a
/// quarantined test changes nothing.
/// Quarantines a test: its failures stop failing build verdicts.
#[utoipa::path(
    put,
    path = "/v1/projects/{project}/quarantine/{test}",
    tag = "tests",
    params(
        ("project" = String, Path, description = "Project id or slug"),
        ("test" = Uuid, Path, description = "The test's id"),
    ),
    request_body(content = Option<QuarantineRequest>, description = "Optional: why", content_type = "application/json"),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The test is quarantined now", body = QuarantineEntry,
         headers(("location" = String, description = "`{test}`: this path"))),
        (status = 200, description = "The test was quarantined already", body = QuarantineEntry),
        (status = 400, description = "A test id that is not a UUID (`request.invalid_path`), or the path names another project (`project.context_mismatch`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid context token (`context.*`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller's role in the project is below member (`context.role_too_low`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such test in this project (`test.not_found`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is too large (`request.body_too_large`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 422, description = "The body is not the object described, or the reason is invalid (`request.invalid_body`)", body = doc::Problem, content_type = "application/problem+json"),
    ),
)]
#[tracing::instrument(skip_all, fields(project_id = tracing::field::Empty, test_id = %path.1), err(level = "info"))]
pub async fn quarantine(
    ctx: TenantContext,
    db: web::Data<Db>,
    path: web::Path<(String, Uuid)>,
    body: Bytes,
) -> Result<HttpResponse, FailureError> {
    let (project, test_id) = path.into_inner();
    let project_id = project_scope(&ctx, &project, Role::Member)?;
    let reason = QuarantineRequest::parse(&body)?;
    let tx = db.tenant_tx(&ctx).await?;
    if test_results::get_test(&tx, project_id, test_id)
        .await?
        .is_none()
    {
        return Err(FailureError::TestNotFound);
    }
    let actor = Actor::Principal(ctx.principal().id);
    let added = repository::quarantine_tests(
        &tx,
        project_id,
        &[test_id],
        reason.as_deref(),
        actor,
        Utc::now(),
    )
    .await?;
    let entry = repository::get_quarantine(&tx, project_id, test_id)
        .await?
        .ok_or(FailureError::TestNotFound)?;
    let newly = !added.is_empty();
    let changes = HealthChanges {
        newly_quarantined: added,
        ..HealthChanges::default()
    };
    publish_health_changes(&tx, project_id, None, &changes).await?;
    tx.commit().await?;
    if !newly {
        return Ok(HttpResponse::Ok().json(entry));
    }
    Ok(HttpResponse::Created()
        .insert_header(("location", test_id.to_string()))
        .json(entry))
}

/// `DELETE /v1/projects/{project}/quarantine/{test}`: audited when the
/// test was quarantined; answers 204 either way.
/// Lifts a test's quarantine.
#[utoipa::path(
    delete,
    path = "/v1/projects/{project}/quarantine/{test}",
    tag = "tests",
    params(
        ("project" = String, Path, description = "Project id or slug"),
        ("test" = Uuid, Path, description = "The test's id"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "The test is not quarantined (any more)"),
        (status = 400, description = "A test id that is not a UUID (`request.invalid_path`), or the path names another project (`project.context_mismatch`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid context token (`context.*`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller's role in the project is below member (`context.role_too_low`)", body = doc::Problem, content_type = "application/problem+json"),
    ),
)]
#[tracing::instrument(skip_all, fields(project_id = tracing::field::Empty, test_id = %path.1), err(level = "info"))]
pub async fn release(
    ctx: TenantContext,
    db: web::Data<Db>,
    path: web::Path<(String, Uuid)>,
) -> Result<HttpResponse, FailureError> {
    let (project, test_id) = path.into_inner();
    let project_id = project_scope(&ctx, &project, Role::Member)?;
    let tx = db.tenant_tx(&ctx).await?;
    let actor = Actor::Principal(ctx.principal().id);
    repository::release_test(&tx, project_id, test_id, actor, Utc::now()).await?;
    tx.commit().await?;
    Ok(HttpResponse::NoContent().finish())
}

/// How the quarantine list is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ListFormat {
    Json,
    /// One test id a line.
    Text,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct QuarantineQuery {
    /// `text`: one test id a line, as `Accept: text/plain` asks; default
    /// JSON.
    #[param(inline)]
    format: Option<ListFormat>,
}

/// Every quarantined test, oldest quarantine first.
#[derive(Debug, Serialize, ToSchema)]
pub struct QuarantineList {
    items: Vec<QuarantineEntry>,
}

/// `GET /v1/projects/{project}/quarantine`: the whole list, for CI to
/// skip or ignore those tests.
/// The project's quarantined tests, as JSON or as plain text.
#[utoipa::path(
    get,
    path = "/v1/projects/{project}/quarantine",
    tag = "tests",
    params(
        ("project" = String, Path, description = "Project id or slug"),
        QuarantineQuery,
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The quarantined tests: JSON, or with `Accept: text/plain` (or `format=text`) one test id a line",
         content(
            (QuarantineList = "application/json"),
            (String = "text/plain", example = "0195b3a4-5c1e-8d2f-9a7b-3c4d5e6f7a8b\n"),
         )),
        (status = 400, description = "Invalid query (`request.invalid_query`), or the path names another project (`project.context_mismatch`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid context token (`context.*`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller has no role in the project (`context.role_too_low`)", body = doc::Problem, content_type = "application/problem+json"),
    ),
)]
#[tracing::instrument(skip_all, fields(project_id = tracing::field::Empty), err(level = "info"))]
pub async fn list(
    ctx: TenantContext,
    db: web::Data<Db>,
    request: HttpRequest,
    path: web::Path<String>,
    query: web::Query<QuarantineQuery>,
) -> Result<HttpResponse, FailureError> {
    let project_id = project_scope(&ctx, &path, Role::Viewer)?;
    let format = query.format.unwrap_or_else(|| preferred_format(&request));
    let tx = db.tenant_tx(&ctx).await?;
    let items = repository::list_quarantine(&tx, project_id).await?;
    tx.commit().await?;
    Ok(match format {
        ListFormat::Json => HttpResponse::Ok().json(QuarantineList { items }),
        ListFormat::Text => {
            let text: String = items
                .iter()
                .map(|entry| format!("{}\n", entry.test.id))
                .collect();
            HttpResponse::Ok()
                .content_type("text/plain; charset=utf-8")
                .body(text)
        }
    })
}

/// Text when `Accept` names `text/plain` and not JSON; JSON otherwise.
fn preferred_format(request: &HttpRequest) -> ListFormat {
    let accept = request
        .headers()
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    if accept.contains("text/plain") && !accept.contains("application/json") {
        ListFormat::Text
    } else {
        ListFormat::Json
    }
}
