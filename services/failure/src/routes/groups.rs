//! `/v2/projects/{project}/failures`: failure groups, the problems behind
//! a project's failures, with their labels; and labelling one.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tenant_core::json::Object;
use tenant_core::outbox;
use tenant_core::pagination::{Page, PageParams, PageRequest};
use tenant_core::{Db, Problem, Role, TenantContext};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::openapi as doc;
use super::project_scope;
use crate::domain::classification::Label;
use crate::domain::events;
use crate::domain::{GroupDetails, GroupFilter, GroupSummary};
use crate::error::FailureError;
use crate::labels;
use crate::repository::groups::views;
use crate::repository::{issue_links, label_feedback};

/// How many failures a group's details list.
const RECENT_OCCURRENCES: i64 = 20;

/// How many feedback entries a group's details list.
const FEEDBACK_ENTRIES: i64 = 50;

/// A group's triage status.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum StatusFilter {
    Open,
    Triaged,
    Resolved,
    Muted,
}

impl StatusFilter {
    fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Triaged => "triaged",
            Self::Resolved => "resolved",
            Self::Muted => "muted",
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct GroupQuery {
    /// Page size (default 50); above 500 counts as 500.
    #[param(value_type = Option<u64>, minimum = 1, maximum = 4_294_967_295_u64)]
    limit: Option<u32>,
    /// `next_cursor` of the previous page, as it was given.
    #[param(pattern = r"^[A-Za-z0-9_-]+$")]
    cursor: Option<String>,
    /// Only groups with this label.
    #[param(inline)]
    label: Option<Label>,
    /// Only groups with this status.
    #[param(inline)]
    status: Option<StatusFilter>,
    /// Only groups of this exception type (exact).
    #[param(pattern = r"^[^\x00]*$")]
    exception_type: Option<String>,
    /// Only groups last seen at or after this time.
    since: Option<DateTime<Utc>>,
    /// Only groups last seen before this time.
    until: Option<DateTime<Utc>>,
    /// Substring of the group's template or first message, case-insensitive.
    #[param(pattern = r"^[^\x00]*$")]
    q: Option<String>,
    /// Only groups whose label has at least this confidence (0 to 1).
    #[param(minimum = 0.0, maximum = 1.0)]
    min_confidence: Option<f64>,
}

/// A page of failure groups, latest seen first.
#[derive(Debug, Serialize, ToSchema)]
pub struct GroupPage {
    items: Vec<GroupSummary>,
    /// Pass as `cursor` for the next page; absent on the last one.
    next_cursor: Option<String>,
}

/// `GET /v2/projects/{project}/failures`: one statement whatever the page size.
/// A project's failure groups, latest seen first, with their labels.
#[utoipa::path(
    get,
    path = "/v2/projects/{project}/failures",
    tag = "failure groups",
    params(
        ("project" = String, Path, description = "Project id or slug"),
        GroupQuery,
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of failure groups", body = GroupPage),
        (status = 400, description = "Invalid query (`request.invalid_query`, `pagination.*`, `request.invalid_text`), or the path names another project (`project.context_mismatch`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid context token (`context.*`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller has no role in the project (`context.role_too_low`)", body = doc::Problem, content_type = "application/problem+json"),
    ),
)]
#[tracing::instrument(skip_all, fields(project_id = tracing::field::Empty), err(level = "info"))]
pub async fn list(
    ctx: TenantContext,
    db: web::Data<Db>,
    path: web::Path<String>,
    query: web::Query<GroupQuery>,
) -> Result<HttpResponse, FailureError> {
    let project_id = project_scope(&ctx, &path, Role::Viewer)?;
    let query = query.into_inner();
    let page = PageRequest::<(DateTime<Utc>, Uuid)>::from_params(&PageParams {
        limit: query.limit,
        cursor: query.cursor,
    })?;
    if let Some(min) = query.min_confidence
        && !(0.0..=1.0).contains(&min)
    {
        return Err(Problem::bad_request(
            "request.invalid_query",
            "min_confidence must be between 0 and 1",
        )
        .into());
    }
    let filter = GroupFilter {
        label: query.label,
        status: query.status.map(|s| s.as_str().to_owned()),
        exception_type: query.exception_type,
        since: query.since,
        until: query.until,
        q: query.q.filter(|q| !q.is_empty()),
        min_confidence: query.min_confidence,
    };
    let tx = db.tenant_tx(&ctx).await?;
    let groups =
        views::list_groups(&tx, project_id, &filter, page.after, page.fetch_limit()).await?;
    tx.commit().await?;
    let page = Page::from_rows(groups, page.limit, |g| (g.last_seen_at, g.id));
    Ok(HttpResponse::Ok().json(GroupPage {
        items: page.items,
        next_cursor: page.next_cursor,
    }))
}

/// `GET /v2/projects/{project}/failures/{group}`.
/// A failure group with what decided its label, its latest failures and
/// its feedback log.
#[utoipa::path(
    get,
    path = "/v2/projects/{project}/failures/{group}",
    tag = "failure groups",
    params(
        ("project" = String, Path, description = "Project id or slug"),
        ("group" = Uuid, Path, description = "The group's id (`group_id` of a failure)"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The group", body = GroupDetails),
        (status = 400, description = "A group id that is not a UUID (`request.invalid_path`), or the path names another project (`project.context_mismatch`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid context token (`context.*`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller has no role in the project (`context.role_too_low`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such group in this project (`failure_group.not_found`)", body = doc::Problem, content_type = "application/problem+json"),
    ),
)]
#[tracing::instrument(
    skip_all,
    fields(project_id = tracing::field::Empty, group_id = %path.1),
    err(level = "info")
)]
pub async fn show(
    ctx: TenantContext,
    db: web::Data<Db>,
    path: web::Path<(String, Uuid)>,
) -> Result<HttpResponse, FailureError> {
    let (project, group_id) = path.into_inner();
    let project_id = project_scope(&ctx, &project, Role::Viewer)?;
    let tx = db.tenant_tx(&ctx).await?;
    let group = group_details(&tx, project_id, group_id).await?;
    tx.commit().await?;
    Ok(HttpResponse::Ok().json(group))
}

async fn group_details(
    tx: &tenant_core::TenantTx,
    project_id: Uuid,
    group_id: Uuid,
) -> Result<GroupDetails, FailureError> {
    let mut group = views::get_group(tx, project_id, group_id, RECENT_OCCURRENCES)
        .await?
        .ok_or(FailureError::GroupNotFound)?;
    group.feedback =
        label_feedback::group_feedback(tx, project_id, group_id, FEEDBACK_ENTRIES).await?;
    group.issue_links = issue_links::list_for_group(tx, project_id, group_id).await?;
    Ok(group)
}

/// A member's label.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetLabel {
    pub label: Label,
}

/// `PUT /v2/projects/{project}/failures/{group}/label`.
/// Labels a failure group (confidence 1, source `user`); similar groups
/// without a user label learn it at once.
#[utoipa::path(
    put,
    path = "/v2/projects/{project}/failures/{group}/label",
    tag = "failure groups",
    params(
        ("project" = String, Path, description = "Project id or slug"),
        ("group" = Uuid, Path, description = "The group's id"),
    ),
    request_body = SetLabel,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The group, labelled", body = GroupDetails),
        (status = 400, description = "Malformed JSON (`request.malformed_json`), a group id that is not a UUID (`request.invalid_path`), or the path names another project (`project.context_mismatch`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid context token (`context.*`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller's role in the project is below member (`context.role_too_low`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such group in this project (`failure_group.not_found`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is too large (`request.body_too_large`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not JSON (`request.unsupported_media_type`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 422, description = "A missing or unknown label (`request.invalid_body`)", body = doc::Problem, content_type = "application/problem+json"),
    ),
)]
#[tracing::instrument(
    skip_all,
    fields(project_id = tracing::field::Empty, group_id = %path.1),
    err(level = "info")
)]
pub async fn set_label(
    ctx: TenantContext,
    db: web::Data<Db>,
    path: web::Path<(String, Uuid)>,
    body: web::Json<Object<SetLabel>>,
) -> Result<HttpResponse, FailureError> {
    let (project, group_id) = path.into_inner();
    let project_id = project_scope(&ctx, &project, Role::Member)?;
    let label = body.into_inner().into_inner().label;
    relabel(&ctx, &db, project_id, group_id, Some(label)).await
}

/// `DELETE /v2/projects/{project}/failures/{group}/label`.
/// Removes a group's user label: its label is computed again (learned,
/// flaky evidence, rules), and so are those of the groups that learned it.
#[utoipa::path(
    delete,
    path = "/v2/projects/{project}/failures/{group}/label",
    tag = "failure groups",
    params(
        ("project" = String, Path, description = "Project id or slug"),
        ("group" = Uuid, Path, description = "The group's id"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The group, its label computed again (unchanged when it had no user label)", body = GroupDetails),
        (status = 400, description = "A group id that is not a UUID (`request.invalid_path`), or the path names another project (`project.context_mismatch`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid context token (`context.*`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller's role in the project is below member (`context.role_too_low`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such group in this project (`failure_group.not_found`)", body = doc::Problem, content_type = "application/problem+json"),
    ),
)]
#[tracing::instrument(
    skip_all,
    fields(project_id = tracing::field::Empty, group_id = %path.1),
    err(level = "info")
)]
pub async fn remove_label(
    ctx: TenantContext,
    db: web::Data<Db>,
    path: web::Path<(String, Uuid)>,
) -> Result<HttpResponse, FailureError> {
    let (project, group_id) = path.into_inner();
    let project_id = project_scope(&ctx, &project, Role::Member)?;
    relabel(&ctx, &db, project_id, group_id, None).await
}

async fn relabel(
    ctx: &TenantContext,
    db: &Db,
    project_id: Uuid,
    group_id: Uuid,
    label: Option<Label>,
) -> Result<HttpResponse, FailureError> {
    let user_label = label.is_some();
    let tx = db.tenant_tx(ctx).await?;
    if !labels::label_group(&tx, project_id, group_id, ctx.principal().id, label).await? {
        return Err(FailureError::GroupNotFound);
    }
    let group = group_details(&tx, project_id, group_id).await?;
    let event = events::group_labelled(
        project_id,
        group_id,
        group.summary.label.as_str(),
        user_label,
    );
    outbox::publish(&tx, &[event]).await?;
    tx.commit().await?;
    Ok(HttpResponse::Ok().json(group))
}
