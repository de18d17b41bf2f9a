//! Triage of a failure group: `PATCH /v2/projects/{project}/failures/{group}`
//! (status, assignee), its comments and its activity log.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use tenant_core::json::Object;
use tenant_core::outbox;
use tenant_core::pagination::{Page, PageParams, PageRequest};
use tenant_core::{Db, Role, TenantContext};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::openapi as doc;
use super::project_scope;
use crate::FailureState;
use crate::domain::events;
use crate::domain::{Activity, Comment, CommentBody, GroupStatus, GroupTriage, TriageChange};
use crate::error::FailureError;
use crate::repository::{group_comments, group_triage};

/// A triage change; absent fields are left as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateGroup {
    /// `open`, `triaged`, `resolved` or `muted`. A resolved group that
    /// occurs again reopens as `open` (a regression); a muted one stays
    /// muted.
    status: Option<GroupStatus>,
    /// A member of the project (any role); `null` unassigns.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Uuid>)]
    assignee_id: Option<Option<Uuid>>,
}

fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Option<Uuid>>, D::Error> {
    Option::<Uuid>::deserialize(deserializer).map(Some)
}

/// `PATCH /v2/projects/{project}/failures/{group}`.
/// Changes a group's status or assignee; each change is logged.
#[utoipa::path(
    patch,
    path = "/v2/projects/{project}/failures/{group}",
    tag = "triage",
    params(
        ("project" = String, Path, description = "Project id or slug"),
        ("group" = Uuid, Path, description = "The failure group's id"),
    ),
    request_body = UpdateGroup,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The group's triage state after the change", body = GroupTriage),
        (status = 400, description = "Malformed JSON (`request.malformed_json`), a group id that is not a UUID (`request.invalid_path`), or the path names another project (`project.context_mismatch`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid context token (`context.*`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller's role in the project is below member (`context.role_too_low`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such group in this project (`group.not_found`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is too large (`request.body_too_large`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not JSON (`request.unsupported_media_type`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is invalid (`request.invalid_body`), or the assignee is not a member of the project (`group.assignee_not_member`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 503, description = "The project service, which knows the members, did not answer (`dependency.unavailable`)", body = doc::Problem, content_type = "application/problem+json"),
    ),
)]
#[tracing::instrument(
    skip_all,
    fields(project_id = tracing::field::Empty, group_id = %path.1),
    err(level = "info")
)]
pub async fn update(
    ctx: TenantContext,
    db: web::Data<Db>,
    state: web::Data<FailureState>,
    path: web::Path<(String, Uuid)>,
    body: web::Json<Object<UpdateGroup>>,
) -> Result<HttpResponse, FailureError> {
    let (project, group_id) = path.into_inner();
    let project_id = project_scope(&ctx, &project, Role::Member)?;
    let body = body.into_inner().into_inner();
    let change = TriageChange {
        status: body.status,
        assignee: body.assignee_id,
    };
    // Asked before the transaction, so no row is locked while waiting.
    if let Some(Some(assignee)) = change.assignee
        && state
            .project
            .member_role(project_id, assignee, ctx.request_id())
            .await?
            .is_none()
    {
        return Err(FailureError::AssigneeNotMember);
    }
    let tx = db.tenant_tx(&ctx).await?;
    let before = group_triage::lock_group_triage(&tx, project_id, group_id)
        .await?
        .ok_or(FailureError::GroupNotFound)?;
    let entries = change.activity(&before);
    let now = Utc::now();
    let old_status = before.status;
    let after = if entries.is_empty() {
        before
    } else {
        group_triage::update_group_triage(
            &tx,
            project_id,
            group_id,
            &change,
            &entries,
            ctx.principal().id,
            now,
        )
        .await?
    };
    if after.status != old_status {
        let event = events::group_status_changed(
            project_id,
            group_id,
            old_status.as_str(),
            after.status.as_str(),
            now,
        );
        outbox::publish(&tx, &[event]).await?;
    }
    tx.commit().await?;
    Ok(HttpResponse::Ok().json(after))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CommentQuery {
    /// Page size (default 50); above 500 counts as 500.
    #[param(value_type = Option<u64>, minimum = 1, maximum = 4_294_967_295_u64)]
    limit: Option<u32>,
    /// `next_cursor` of the previous page, as it was given.
    #[param(pattern = r"^[A-Za-z0-9_-]+$")]
    cursor: Option<String>,
}

/// A page of comments, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct CommentPage {
    items: Vec<Comment>,
    /// Pass as `cursor` for the next page; absent on the last one.
    next_cursor: Option<String>,
}

/// `GET /v2/projects/{project}/failures/{group}/comments`.
/// A group's comments, newest first.
#[utoipa::path(
    get,
    path = "/v2/projects/{project}/failures/{group}/comments",
    tag = "triage",
    params(
        ("project" = String, Path, description = "Project id or slug"),
        ("group" = Uuid, Path, description = "The failure group's id"),
        CommentQuery,
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of comments", body = CommentPage),
        (status = 400, description = "Invalid query (`request.invalid_query`, `pagination.*`), a group id that is not a UUID (`request.invalid_path`), or the path names another project (`project.context_mismatch`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid context token (`context.*`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller has no role in the project (`context.role_too_low`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such group in this project (`group.not_found`)", body = doc::Problem, content_type = "application/problem+json"),
    ),
)]
#[tracing::instrument(
    skip_all,
    fields(project_id = tracing::field::Empty, group_id = %path.1),
    err(level = "info")
)]
pub async fn list_comments(
    ctx: TenantContext,
    db: web::Data<Db>,
    path: web::Path<(String, Uuid)>,
    query: web::Query<CommentQuery>,
) -> Result<HttpResponse, FailureError> {
    let (project, group_id) = path.into_inner();
    let project_id = project_scope(&ctx, &project, Role::Viewer)?;
    let query = query.into_inner();
    let page = PageRequest::<(DateTime<Utc>, Uuid)>::from_params(&PageParams {
        limit: query.limit,
        cursor: query.cursor,
    })?;
    let tx = db.tenant_tx(&ctx).await?;
    if !group_triage::group_exists(&tx, project_id, group_id).await? {
        return Err(FailureError::GroupNotFound);
    }
    let comments =
        group_comments::list_comments(&tx, project_id, group_id, page.after, page.fetch_limit())
            .await?;
    tx.commit().await?;
    let page = Page::from_rows(comments, page.limit, |c| (c.created_at, c.id));
    Ok(HttpResponse::Ok().json(CommentPage {
        items: page.items,
        next_cursor: page.next_cursor,
    }))
}

/// A new comment.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateComment {
    /// 1 to 10000 characters, not blank.
    #[schema(
        min_length = 1,
        max_length = 10000,
        pattern = r"^[^\x00]*[^\x00\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\x00]*$"
    )]
    body: String,
}

/// `POST /v2/projects/{project}/failures/{group}/comments`.
/// Comments on a group as the caller.
#[utoipa::path(
    post,
    path = "/v2/projects/{project}/failures/{group}/comments",
    tag = "triage",
    params(
        ("project" = String, Path, description = "Project id or slug"),
        ("group" = Uuid, Path, description = "The failure group's id"),
    ),
    request_body = CreateComment,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The comment", body = Comment,
         headers(("location" = String, description = "`comments/{id}`"))),
        (status = 400, description = "Malformed JSON (`request.malformed_json`), a group id that is not a UUID (`request.invalid_path`), or the path names another project (`project.context_mismatch`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid context token (`context.*`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller's role in the project is below member (`context.role_too_low`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such group in this project (`group.not_found`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is too large (`request.body_too_large`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not JSON (`request.unsupported_media_type`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 422, description = "The body is missing, blank or too long (`request.invalid_body`)", body = doc::Problem, content_type = "application/problem+json"),
    ),
)]
#[tracing::instrument(
    skip_all,
    fields(project_id = tracing::field::Empty, group_id = %path.1),
    err(level = "info")
)]
pub async fn create_comment(
    ctx: TenantContext,
    db: web::Data<Db>,
    path: web::Path<(String, Uuid)>,
    body: web::Json<Object<CreateComment>>,
) -> Result<HttpResponse, FailureError> {
    let (project, group_id) = path.into_inner();
    let project_id = project_scope(&ctx, &project, Role::Member)?;
    let body = CommentBody::parse(body.into_inner().into_inner().body)
        .map_err(|message| FailureError::invalid("body", message))?;
    let tx = db.tenant_tx(&ctx).await?;
    if !group_triage::group_exists(&tx, project_id, group_id).await? {
        return Err(FailureError::GroupNotFound);
    }
    let comment = group_comments::insert_comment(
        &tx,
        project_id,
        group_id,
        ctx.principal().id,
        &body,
        Utc::now(),
    )
    .await?;
    tx.commit().await?;
    Ok(HttpResponse::Created()
        .insert_header(("location", format!("comments/{}", comment.id)))
        .json(comment))
}

/// `GET /v2/projects/{project}/failures/{group}/comments/{comment}`.
#[utoipa::path(
    get,
    path = "/v2/projects/{project}/failures/{group}/comments/{comment}",
    tag = "triage",
    params(
        ("project" = String, Path, description = "Project id or slug"),
        ("group" = Uuid, Path, description = "The failure group's id"),
        ("comment" = Uuid, Path, description = "The comment's id"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The comment", body = Comment),
        (status = 400, description = "An id that is not a UUID (`request.invalid_path`), or the path names another project (`project.context_mismatch`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid context token (`context.*`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller has no role in the project (`context.role_too_low`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such comment on this group (`comment.not_found`)", body = doc::Problem, content_type = "application/problem+json"),
    ),
)]
#[tracing::instrument(
    skip_all,
    fields(project_id = tracing::field::Empty, group_id = %path.1, comment_id = %path.2),
    err(level = "info")
)]
pub async fn show_comment(
    ctx: TenantContext,
    db: web::Data<Db>,
    path: web::Path<(String, Uuid, Uuid)>,
) -> Result<HttpResponse, FailureError> {
    let (project, group_id, comment_id) = path.into_inner();
    let project_id = project_scope(&ctx, &project, Role::Viewer)?;
    let tx = db.tenant_tx(&ctx).await?;
    let comment = group_comments::get_comment(&tx, project_id, group_id, comment_id)
        .await?
        .ok_or(FailureError::CommentNotFound)?;
    tx.commit().await?;
    Ok(HttpResponse::Ok().json(comment))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ActivityQuery {
    /// How many entries, newest first (default 50); above 500 counts as 500.
    #[param(value_type = Option<u64>, minimum = 1, maximum = 4_294_967_295_u64)]
    limit: Option<u32>,
}

/// A group's audit log, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActivityLog {
    items: Vec<Activity>,
}

/// `GET /v2/projects/{project}/failures/{group}/activity`.
/// Who changed a group's status or assignee and when, and its regressions.
#[utoipa::path(
    get,
    path = "/v2/projects/{project}/failures/{group}/activity",
    tag = "triage",
    params(
        ("project" = String, Path, description = "Project id or slug"),
        ("group" = Uuid, Path, description = "The failure group's id"),
        ActivityQuery,
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The latest entries", body = ActivityLog),
        (status = 400, description = "Invalid query (`request.invalid_query`, `pagination.invalid_limit`), a group id that is not a UUID (`request.invalid_path`), or the path names another project (`project.context_mismatch`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid context token (`context.*`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller has no role in the project (`context.role_too_low`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such group in this project (`group.not_found`)", body = doc::Problem, content_type = "application/problem+json"),
    ),
)]
#[tracing::instrument(
    skip_all,
    fields(project_id = tracing::field::Empty, group_id = %path.1),
    err(level = "info")
)]
pub async fn activity(
    ctx: TenantContext,
    db: web::Data<Db>,
    path: web::Path<(String, Uuid)>,
    query: web::Query<ActivityQuery>,
) -> Result<HttpResponse, FailureError> {
    let (project, group_id) = path.into_inner();
    let project_id = project_scope(&ctx, &project, Role::Viewer)?;
    let page = PageRequest::<()>::from_params(&PageParams {
        limit: query.limit,
        cursor: None,
    })?;
    let tx = db.tenant_tx(&ctx).await?;
    if !group_triage::group_exists(&tx, project_id, group_id).await? {
        return Err(FailureError::GroupNotFound);
    }
    let items =
        group_triage::group_activity(&tx, project_id, group_id, i64::from(page.limit)).await?;
    tx.commit().await?;
    Ok(HttpResponse::Ok().json(ActivityLog { items }))
}
