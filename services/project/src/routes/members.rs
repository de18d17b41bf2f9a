//! `/v1/projects/{project}/members`: list, add by email, read, change a
//! role, remove, and leave (`DELETE .../members/me`). The rules are in
//! [`crate::domain::membership`]; here they are applied under the
//! project's lock.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tenant_core::email::Email;
use tenant_core::json::Object;
use tenant_core::openapi as doc;
use tenant_core::pagination::{Page, PageParams, PageRequest};
use tenant_core::{Db, Role, TenantContext, TenantTx};
use tracing::field::Empty;
use uuid::Uuid;

use crate::AppState;
use crate::domain::MemberRef;
use crate::domain::membership;
use crate::error::ProjectError;
use crate::member_scope::{Locked, MemberScope, check_an_owner_remains};
use crate::repository::memberships::{self, MemberRow};

/// A membership as clients see it. Names and emails stay with the auth
/// service; only the add answer carries the ones it just looked up.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = Member)]
pub struct MemberView {
    pub user_id: Uuid,
    #[schema(value_type = doc::Role)]
    pub role: Role,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<MemberRow> for MemberView {
    fn from(row: MemberRow) -> Self {
        Self {
            user_id: row.user_id,
            role: row.role,
            email: None,
            display_name: None,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

/// A page of members, by user id.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MemberPage {
    items: Vec<MemberView>,
    next_cursor: Option<String>,
}

impl From<Page<MemberView>> for MemberPage {
    fn from(page: Page<MemberView>) -> Self {
        Self {
            items: page.items,
            next_cursor: page.next_cursor,
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// `GET /v1/projects/{project}/members`: any member; by user id.
/// The project's members (any member).
#[utoipa::path(
    get,
    path = "/v1/projects/{project}/members",
    tag = "members",
    params(
        ("project" = String, Path, description = "Project id or slug"),
        ("limit" = Option<u64>, Query, nullable = false, minimum = 1, maximum = 4_294_967_295_u64, description = "Page size (default 50); above 500 counts as 500"),
        ("cursor" = Option<String>, Query, nullable = false, pattern = r"^[A-Za-z0-9_-]+$", description = "`next_cursor` of the previous page, as it was given"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of members", body = MemberPage),
        (status = 400, description = "Invalid `limit` or `cursor` (`request.invalid_query`, `pagination.*`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid context: not signed in (`context.*`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such project, or not a member (`project.not_found`)", body = doc::Problem, content_type = "application/problem+json"),
    ),
)]
#[tracing::instrument(skip_all, fields(project = %path.as_str(), project_id = Empty), err(level = "info"))]
pub async fn list(
    ctx: TenantContext,
    db: web::Data<Db>,
    path: web::Path<String>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ProjectError> {
    let scope = MemberScope::resolve(&db, &ctx, &path).await?;
    let query = query.into_inner();
    let page = PageRequest::<Uuid>::from_params(&PageParams {
        limit: query.limit,
        cursor: query.cursor,
    })?;
    let tx = scope.read_tx(&db).await?;
    let rows = memberships::list(&tx, scope.project.id, page.after, page.fetch_limit()).await?;
    tx.commit().await?;
    let views: Vec<MemberView> = rows.into_iter().map(MemberView::from).collect();
    let page = Page::from_rows(views, page.limit, |member: &MemberView| member.user_id);
    Ok(HttpResponse::Ok().json(MemberPage::from(page)))
}

/// The member a path names: `me` is the caller. Parsed only after the
/// project resolved, so a non-member never learns more than 404.
fn target(scope: &MemberScope, raw: &str) -> Result<Uuid, ProjectError> {
    match MemberRef::parse(raw).ok_or(ProjectError::MemberNotFound)? {
        MemberRef::Me => Ok(scope.user),
        MemberRef::User(id) => Ok(id),
    }
}

/// `GET /v1/projects/{project}/members/{member}`: any member.
/// One membership (any member).
#[utoipa::path(
    get,
    path = "/v1/projects/{project}/members/{member}",
    tag = "members",
    params(
        ("project" = String, Path, description = "Project id or slug"),
        ("member" = String, Path, pattern = r"^(?:me|[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12})$", description = "The member's user id, or `me`"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The membership", body = MemberView),
        (status = 401, description = "No valid context: not signed in (`context.*`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such project or member, or not a member (`project.not_found`, `membership.not_found`)", body = doc::Problem, content_type = "application/problem+json"),
    ),
)]
#[tracing::instrument(skip_all, fields(project = %path.0, member = %path.1, project_id = Empty), err(level = "info"))]
pub async fn get(
    ctx: TenantContext,
    db: web::Data<Db>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ProjectError> {
    let (project, member) = path.into_inner();
    let scope = MemberScope::resolve(&db, &ctx, &project).await?;
    let user = target(&scope, &member)?;
    let tx = scope.read_tx(&db).await?;
    let row = memberships::find(&tx, scope.project.id, user)
        .await?
        .ok_or(ProjectError::MemberNotFound)?;
    tx.commit().await?;
    Ok(HttpResponse::Ok().json(MemberView::from(row)))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddMember {
    /// The user's email; the user must have an account.
    #[schema(value_type = String, max_length = 254, pattern = r"^[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*[!-?A-~]{1,64}@(?:[0-9A-Za-z](?:[0-9A-Za-z-]{0,61}[0-9A-Za-z])?\.)+[0-9A-Za-z](?:[0-9A-Za-z-]{0,61}[0-9A-Za-z])?[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$")]
    pub email: Email,
    #[schema(value_type = doc::Role)]
    pub role: Role,
}

/// `POST /v1/projects/{project}/members`: admins add viewers, members and
/// admins; owners also owners. The user must exist in the auth service.
/// Adds a user by email (admins; owners also add owners).
#[utoipa::path(
    post,
    path = "/v1/projects/{project}/members",
    tag = "members",
    params(
        ("project" = String, Path, description = "Project id or slug"),
    ),
    request_body = AddMember,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The membership, with the user's email and name", body = MemberView,
         headers(("location" = String, description = "`members/{user_id}`"))),
        (status = 400, description = "Malformed JSON (`request.malformed_json`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid context: not signed in (`context.*`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller may not grant this role (`project.role_too_low`, `membership.owner_required`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such project, or not a member (`project.not_found`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already a member (`membership.exists`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is too large (`request.body_too_large`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not JSON (`request.unsupported_media_type`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown or disabled user (`membership.unknown_user`, `membership.user_disabled`), or an invalid field (`request.invalid_body`)", body = doc::Problem, content_type = "application/problem+json"),
    ),
)]
#[tracing::instrument(skip_all, fields(project = %path.as_str(), project_id = Empty), err(level = "info"))]
pub async fn add(
    ctx: TenantContext,
    db: web::Data<Db>,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Json<Object<AddMember>>,
) -> Result<HttpResponse, ProjectError> {
    let scope = MemberScope::resolve(&db, &ctx, &path).await?;
    membership::check_grant(scope.role, body.role)?;
    // Looked up before the project is locked: no lock is held across a call
    // to another service.
    let user = state
        .auth
        .find_user_by_email(&body.email, ctx.request_id())
        .await?;
    let (tx, locked) = scope.begin_change(&db).await?;
    membership::check_grant(locked.role, body.role)?;
    let row = memberships::insert(&tx, locked.project.id, user.id, body.role).await?;
    tx.commit().await?;
    let mut view = MemberView::from(row);
    view.email = Some(user.email);
    view.display_name = Some(user.display_name);
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("members/{}", view.user_id)))
        .json(view))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeRole {
    #[schema(value_type = doc::Role)]
    pub role: Role,
}

/// `PATCH /v1/projects/{project}/members/{member}`: admins, within the
/// owner rules; never leaves the project without an owner.
/// Changes a member's role (admins, within the owner rules).
#[utoipa::path(
    patch,
    path = "/v1/projects/{project}/members/{member}",
    tag = "members",
    params(
        ("project" = String, Path, description = "Project id or slug"),
        ("member" = String, Path, pattern = r"^(?:me|[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12})$", description = "The member's user id, or `me`"),
    ),
    request_body = ChangeRole,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The membership", body = MemberView),
        (status = 400, description = "Malformed JSON (`request.malformed_json`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid context: not signed in (`context.*`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller may not make this change (`project.role_too_low`, `membership.owner_required`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such project or member, or not a member (`project.not_found`, `membership.not_found`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 409, description = "It would leave the project without an owner (`project.last_owner`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is too large (`request.body_too_large`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not JSON (`request.unsupported_media_type`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown role (`request.invalid_body`)", body = doc::Problem, content_type = "application/problem+json"),
    ),
)]
#[tracing::instrument(skip_all, fields(project = %path.0, member = %path.1, project_id = Empty), err(level = "info"))]
pub async fn change_role(
    ctx: TenantContext,
    db: web::Data<Db>,
    path: web::Path<(String, String)>,
    body: web::Json<Object<ChangeRole>>,
) -> Result<HttpResponse, ProjectError> {
    let (project, member) = path.into_inner();
    let scope = MemberScope::resolve(&db, &ctx, &project).await?;
    let user = target(&scope, &member)?;
    scope.require(Role::Admin)?;
    let (tx, locked) = scope.begin_change(&db).await?;
    let current = lock_member_to_change(&tx, &locked, user, Some(body.role)).await?;
    let row = if current.role == body.role {
        current
    } else {
        memberships::set_role(&tx, locked.project.id, user, body.role).await?
    };
    tx.commit().await?;
    Ok(HttpResponse::Ok().json(MemberView::from(row)))
}

/// `DELETE /v1/projects/{project}/members/{member}`: admins remove others
/// within the owner rules; anyone removes themselves (`me` or their own
/// id), which is leaving. The last owner can do neither.
/// Removes a member (admins), or leaves the project (`me`).
#[utoipa::path(
    delete,
    path = "/v1/projects/{project}/members/{member}",
    tag = "members",
    params(
        ("project" = String, Path, description = "Project id or slug"),
        ("member" = String, Path, pattern = r"^(?:me|[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12})$", description = "The member's user id, or `me`"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "The membership ended"),
        (status = 401, description = "No valid context: not signed in (`context.*`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller may not remove this member (`project.role_too_low`, `membership.owner_required`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such project or member, or not a member (`project.not_found`, `membership.not_found`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 409, description = "It would leave the project without an owner (`project.last_owner`)", body = doc::Problem, content_type = "application/problem+json"),
    ),
)]
#[tracing::instrument(skip_all, fields(project = %path.0, member = %path.1, project_id = Empty), err(level = "info"))]
pub async fn remove(
    ctx: TenantContext,
    db: web::Data<Db>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ProjectError> {
    let (project, member) = path.into_inner();
    let scope = MemberScope::resolve(&db, &ctx, &project).await?;
    let user = target(&scope, &member)?;
    let leaving = user == scope.user;
    if !leaving {
        scope.require(Role::Admin)?;
    }
    let (tx, locked) = scope.begin_change(&db).await?;
    if leaving {
        check_an_owner_remains(&tx, locked.project.id, locked.role, None).await?;
    } else {
        lock_member_to_change(&tx, &locked, user, None).await?;
    }
    memberships::remove(&tx, locked.project.id, user).await?;
    tx.commit().await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The member `user`, locked, once the rules let the caller move them to
/// `new` (`None`: remove them) and an owner remains after.
async fn lock_member_to_change(
    tx: &TenantTx,
    locked: &Locked,
    user: Uuid,
    new: Option<Role>,
) -> Result<MemberRow, ProjectError> {
    let current = memberships::lock(tx, locked.project.id, user)
        .await?
        .ok_or(ProjectError::MemberNotFound)?;
    membership::check_change(locked.role, current.role, new)?;
    check_an_owner_remains(tx, locked.project.id, current.role, new).await?;
    Ok(current)
}
