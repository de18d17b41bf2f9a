//! `POST /v1/projects/{project}/integrations/jira/issues`: files a Jira
//! issue for a failure group, once per group: asking again answers with
//! the issue filed before, unless `force` files a new one. The link is
//! recorded here (for the status sync and regression comments) and on the
//! group in the failure service.

use std::time::Duration;

use actix_web::{HttpResponse, web};
use chrono::Utc;
use tenant_core::json::Object;
use tenant_core::{Db, Role, TenantContext};

use super::issues::{self, CreateIssue, Filing, Tracker};
use super::openapi as doc;
use super::project_scope;
use crate::IntegrationState;
use crate::domain::connections::ConnectionKind;
use crate::error::IntegrationError;
use crate::jira::JiraClient;
use crate::notify::group_link;
use crate::repository::issue_links::IssueLink;

/// Jira as the filing routes name it.
const JIRA: Tracker = Tracker {
    kind: ConnectionKind::Jira,
    link_kind: "jira",
    secret_field: "api_token",
    wrong_kind: "must be a Jira connection",
};

/// `POST /v1/projects/{project}/integrations/jira/issues`.
/// Files a Jira issue for a failure group (idempotent per group unless
/// `force`).
#[utoipa::path(
    post,
    path = "/v1/projects/{project}/integrations/jira/issues",
    tag = "integrations",
    params(("project" = String, Path, description = "Project id or slug")),
    request_body = CreateIssue,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The issue filed now", body = IssueLink,
         headers(("location" = String, description = "The issue in the tracker"))),
        (status = 200, description = "The group's issue filed before", body = IssueLink),
        (status = 400, description = "Malformed JSON (`request.malformed_json`), or the path names another project (`project.context_mismatch`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid context token (`context.*`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller's role in the project is below member (`context.role_too_low`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such connection (`connection.not_found`) or failure group (`failure_group.not_found`) in this project", body = doc::Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is too large (`request.body_too_large`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not JSON (`request.unsupported_media_type`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 422, description = "The connection is not a Jira connection (`request.invalid_body`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 502, description = "Jira refused or failed the request (`jira.failed`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 503, description = "The failure service did not answer (`dependency.unavailable`)", body = doc::Problem, content_type = "application/problem+json"),
    ),
)]
#[tracing::instrument(skip_all, fields(project_id = tracing::field::Empty), err(level = "info"))]
pub async fn create_issue(
    ctx: TenantContext,
    db: web::Data<Db>,
    state: web::Data<IntegrationState>,
    path: web::Path<String>,
    body: web::Json<Object<CreateIssue>>,
) -> Result<HttpResponse, IntegrationError> {
    let project_id = project_scope(&ctx, &path, Role::Member)?;
    let body = body.into_inner().into_inner();
    let tx = db.tenant_tx(&ctx).await?;
    let (connection, group, token) =
        match issues::prepare(&tx, &state, project_id, &body, &JIRA).await? {
            Filing::AlreadyFiled(existing) => {
                tx.commit().await?;
                return Ok(HttpResponse::Ok().json(existing));
            }
            Filing::New {
                connection,
                group,
                secret,
            } => (connection, group, secret),
        };
    let client = JiraClient::new(
        &state.outbound,
        &connection.setting("site_url"),
        &connection.setting("email"),
        &token,
        Duration::from_secs(state.settings.jira_max_retry_after_secs),
    );
    let link = group_link(&state.settings.web_url, project_id, &group.id.to_string());
    let created = client
        .create_issue(
            &connection.setting("project_key"),
            &group.summary(),
            &group.description(&link),
        )
        .await
        .map_err(IntegrationError::Jira)?;
    let issue = IssueLink {
        group_id: group.id,
        connection_id: connection.id,
        issue_key: created.key,
        issue_url: created.url,
        status: "To Do".to_owned(),
        status_category: "new".to_owned(),
        group_resolved: false,
        created_at: Utc::now(),
        synced_at: None,
    };
    issues::record(tx, &state, project_id, &JIRA, issue).await
}
