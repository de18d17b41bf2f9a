//! `/v1/projects`: create, list mine, read, change, archive, restore and
//! delete.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tenant_core::idempotency::{IdempotencyKey, RequestFingerprint};
use tenant_core::json::Object;
use tenant_core::openapi as doc;
use tenant_core::pagination::{Page, PageParams, PageRequest};
use tenant_core::{Db, ProjectAccess, Role, TenantContext};
use tracing::field::{Empty, display};
use uuid::Uuid;

use crate::domain::{
    Description, Plan, PlanLimits, ProjectName, ProjectRef, ProjectSettings, ProjectSlug,
    ProjectStatus, SettingsPatch,
};
use crate::error::ProjectError;
use crate::member_scope::MemberScope;
use crate::repository::memberships;
use crate::repository::projects::{self, ListCursor, ListFilter, NewProject, ProjectRow};

const IDEMPOTENT_REPLAYED: &str = "idempotent-replayed";

/// A project as clients see it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = Project)]
pub struct ProjectView {
    pub id: Uuid,
    pub slug: String,
    pub name: String,
    pub description: String,
    pub status: ProjectStatus,
    pub plan: Plan,
    pub limits: PlanLimits,
    pub settings: ProjectSettings,
    /// The caller's role; absent where the caller need not be a member
    /// (a platform admin changing a plan).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<doc::Role>)]
    pub role: Option<Role>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub archived_at: Option<DateTime<Utc>>,
}

impl ProjectView {
    pub fn new(row: ProjectRow, role: Option<Role>) -> Self {
        Self {
            id: row.id,
            slug: row.slug,
            name: row.name,
            description: row.description,
            status: row.status,
            plan: row.plan,
            limits: row.plan.limits(),
            settings: row.settings,
            role,
            created_at: row.created_at,
            updated_at: row.updated_at,
            archived_at: row.archived_at,
        }
    }
}

/// A page of projects, by name.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ProjectPage {
    items: Vec<ProjectView>,
    /// Pass as `cursor` for the next page; absent on the last one.
    next_cursor: Option<String>,
}

impl From<Page<ProjectView>> for ProjectPage {
    fn from(page: Page<ProjectView>) -> Self {
        Self {
            items: page.items,
            next_cursor: page.next_cursor,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateProject {
    /// 2 to 63 lowercase letters, digits and `-`, starting with a letter
    /// or digit; not shaped like a UUID (a path takes either).
    #[schema(value_type = String, pattern = r"^(?![0-9a-f]{32}$)(?![0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$)[a-z0-9][a-z0-9-]{1,62}$")]
    pub slug: ProjectSlug,
    /// 1 to 100 characters without control characters (surrounding
    /// whitespace is trimmed).
    #[schema(value_type = String, pattern = r"^[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000](?:[^\x00-\x1f\x7f-\x9f]{0,98}[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000])?[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$")]
    pub name: ProjectName,
    /// At most 2000 characters; no control characters but line breaks
    /// and tabs (surrounding whitespace is trimmed).
    #[serde(default)]
    #[schema(value_type = String, pattern = r"^[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*(?:[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000](?:[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]{0,1998}[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000])?)?[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$")]
    pub description: Description,
    #[serde(default)]
    pub settings: SettingsPatch,
}

impl CreateProject {
    /// What an Idempotency-Key is bound to: a retry must send the same.
    /// SHA-256 of the body's canonical JSON, in hex, as stored with the
    /// project.
    fn fingerprint(&self) -> String {
        let mut fingerprint = RequestFingerprint::new();
        fingerprint.update(&serde_json::to_vec(self).unwrap_or_default());
        fingerprint.finish_hex()
    }
}

/// `POST /v1/projects`: the project, its owner membership and its default
/// settings in one transaction. With an `Idempotency-Key`, a retry of the
/// same request answers with the project the first one created.
/// Creates a project; the caller becomes its owner.
#[utoipa::path(
    post,
    path = "/v1/projects",
    tag = "projects",
    params(
("idempotency-key" = Option<String>, Header, nullable = false, pattern = r"^[!-~]{1,255}$", description = "1 to 255 visible ASCII characters. Makes retries of this request answer with the project the first one created"),
    ),
    request_body = CreateProject,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The project (also for a replayed request)", body = ProjectView,
         headers(("location" = String, description = "`projects/{id}`"),
                 ("idempotent-replayed" = String, description = "`true` when this answers a retry"))),
        (status = 400, description = "Malformed JSON or Idempotency-Key (`request.malformed_json`, `idempotency.invalid_key`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid context: not signed in (`context.*`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The slug is taken (`project.slug_taken`), or the project a key created is gone (`idempotency.result_gone`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is too large (`request.body_too_large`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not JSON (`request.unsupported_media_type`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is invalid (`request.invalid_body`), or the key was used for another request (`idempotency.key_reused`)", body = doc::Problem, content_type = "application/problem+json"),
    ),
)]
#[tracing::instrument(skip_all, fields(project_id = Empty), err(level = "info"))]
pub async fn create(
    ctx: TenantContext,
    db: web::Data<Db>,
    request: HttpRequest,
    body: web::Json<Object<CreateProject>>,
) -> Result<HttpResponse, ProjectError> {
    let user = ctx.require_user()?;
    let key = IdempotencyKey::from_request(&request)?;
    let body = body.into_inner().into_inner();
    let fingerprint = body.fingerprint();
    if let Some(key) = &key
        && let Some(replayed) = replay_create(&db, user, key, &fingerprint).await?
    {
        return Ok(replayed);
    }

    let id = Uuid::now_v7();
    let settings = ProjectSettings::default().patched(&body.settings);
    let new = NewProject {
        id,
        slug: &body.slug,
        name: &body.name,
        description: &body.description,
        plan: Plan::Free,
        settings: &settings,
        created_by: Some(user),
        idempotency: key.as_ref().map(|key| (key, fingerprint.as_str())),
    };
    let owner_context = TenantContext::new(
        ctx.principal().clone(),
        Some(ProjectAccess {
            project_id: id,
            role: Role::Owner,
        }),
        ctx.request_id(),
    );
    let created = async {
        let tx = db.tenant_tx(&owner_context).await?;
        let row = projects::insert(&tx, &new).await?;
        memberships::insert(&tx, id, user, Role::Owner).await?;
        tx.commit().await?;
        Ok::<_, ProjectError>(row)
    }
    .await;
    match (created, &key) {
        (Ok(row), _) => Ok(created_response(row, Role::Owner, false)),
        // A concurrent request with the same key may have committed first
        // (its row can collide on the slug before the key).
        (Err(ProjectError::IdempotencyRace | ProjectError::SlugTaken), Some(key)) => {
            match replay_create(&db, user, key, &fingerprint).await? {
                Some(replayed) => Ok(replayed),
                None => Err(ProjectError::SlugTaken),
            }
        }
        (Err(error), _) => Err(error),
    }
}

/// The answer to a create already done with `key`, if there was one.
async fn replay_create(
    db: &Db,
    user: Uuid,
    key: &IdempotencyKey,
    fingerprint: &str,
) -> Result<Option<HttpResponse>, ProjectError> {
    let tx = db.user_tx(user).await?;
    let Some((created, stored_fingerprint)) =
        projects::find_created_with_key(&tx, user, key).await?
    else {
        return Ok(None);
    };
    if stored_fingerprint.as_deref() != Some(fingerprint) {
        return Err(ProjectError::IdempotencyKeyReused);
    }
    // The project as it is now, if the creator can still see it.
    let current = projects::find_for_member(&tx, user, &ProjectRef::Id(created.id)).await?;
    tx.commit().await?;
    let (row, role) = current.ok_or(ProjectError::IdempotentResultGone)?;
    Ok(Some(created_response(row, role, true)))
}

/// 201 with a `Location` relative to the request (`projects/{id}`), which
/// resolves correctly both here (`/v1/projects`) and behind the gateway's
/// `/api/v1/projects`.
fn created_response(row: ProjectRow, role: Role, replayed: bool) -> HttpResponse {
    tracing::Span::current().record("project_id", display(row.id));
    let mut response = HttpResponse::Created();
    response.insert_header((header::LOCATION, format!("projects/{}", row.id)));
    if replayed {
        response.insert_header((IDEMPOTENT_REPLAYED, "true"));
    }
    response.json(ProjectView::new(row, Some(role)))
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    pub limit: Option<u32>,
    pub cursor: Option<String>,
    /// Case-insensitive substring of the project name.
    pub name: Option<String>,
    pub status: Option<ProjectStatus>,
}

/// `GET /v1/projects`: the projects the caller is a member of, by name.
/// The caller's projects, by name.
#[utoipa::path(
    get,
    path = "/v1/projects",
    tag = "projects",
    params(
        ("limit" = Option<u64>, Query, nullable = false, minimum = 1, maximum = 4_294_967_295_u64, description = "Page size (default 50); above 500 counts as 500"),
        ("cursor" = Option<String>, Query, nullable = false, pattern = r"^[A-Za-z0-9_-]+$", description = "`next_cursor` of the previous page, as it was given"),
("name" = Option<String>, Query, nullable = false, pattern = r"^[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*(?:[^\x00\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000](?:[^\x00]{0,98}[^\x00\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000])?)?[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$", description = "Case-insensitive part of the name: at most 100 characters (surrounding whitespace is trimmed; empty: any name)"),
        ("status" = Option<ProjectStatus>, Query, nullable = false, description = "Only projects in this state"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of projects", body = ProjectPage),
        (status = 400, description = "Invalid query (`request.invalid_query`, `pagination.*`, `request.invalid_text`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid context: not signed in (`context.*`)", body = doc::Problem, content_type = "application/problem+json"),
    ),
)]
#[tracing::instrument(skip_all, err(level = "info"))]
pub async fn list(
    ctx: TenantContext,
    db: web::Data<Db>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ProjectError> {
    let user = ctx.require_user()?;
    let query = query.into_inner();
    let page = PageRequest::<ListCursor>::from_params(&PageParams {
        limit: query.limit,
        cursor: query.cursor,
    })?;
    let name_contains = query
        .name
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty());
    if name_contains
        .as_ref()
        .is_some_and(|name| name.chars().count() > 100)
    {
        return Err(ProjectError::NameFilterTooLong);
    }
    let filter = ListFilter {
        name_contains,
        status: query.status,
    };
    let tx = db.user_tx(user).await?;
    let rows =
        projects::list_for_member(&tx, user, &filter, page.after.as_ref(), page.fetch_limit())
            .await?;
    tx.commit().await?;
    let views = rows
        .into_iter()
        .map(|(row, role)| ProjectView::new(row, Some(role)))
        .collect();
    let page = Page::from_rows(views, page.limit, |view: &ProjectView| ListCursor {
        name: view.name.clone(),
        id: view.id,
    });
    Ok(HttpResponse::Ok().json(ProjectPage::from(page)))
}

/// `GET /v1/projects/{project}`: any member.
/// A project (any member).
#[utoipa::path(
    get,
    path = "/v1/projects/{project}",
    tag = "projects",
    params(
        ("project" = String, Path, description = "Project id or slug"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The project", body = ProjectView),
        (status = 401, description = "No valid context: not signed in (`context.*`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such project, or not a member (`project.not_found`)", body = doc::Problem, content_type = "application/problem+json"),
    ),
)]
#[tracing::instrument(skip_all, fields(project = %path.as_str(), project_id = Empty), err(level = "info"))]
pub async fn get(
    ctx: TenantContext,
    db: web::Data<Db>,
    path: web::Path<String>,
) -> Result<HttpResponse, ProjectError> {
    let scope = MemberScope::resolve(&db, &ctx, &path).await?;
    Ok(HttpResponse::Ok().json(ProjectView::new(scope.project, Some(scope.role))))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateProject {
    /// As when created; absent or `null`: unchanged.
    #[schema(value_type = Option<String>, pattern = r"^[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000](?:[^\x00-\x1f\x7f-\x9f]{0,98}[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000])?[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$")]
    pub name: Option<ProjectName>,
    /// As when created; absent or `null`: unchanged.
    #[schema(value_type = Option<String>, pattern = r"^[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*(?:[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000](?:[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]{0,1998}[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000])?)?[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$")]
    pub description: Option<Description>,
    pub settings: Option<SettingsPatch>,
}

/// `PATCH /v1/projects/{project}`: admins; not while archived.
/// Changes a project's name, description or settings (admins).
#[utoipa::path(
    patch,
    path = "/v1/projects/{project}",
    tag = "projects",
    params(
        ("project" = String, Path, description = "Project id or slug"),
    ),
    request_body = UpdateProject,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The changed project", body = ProjectView),
        (status = 400, description = "Malformed JSON (`request.malformed_json`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid context: not signed in (`context.*`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller's role is below admin (`project.role_too_low`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such project, or not a member (`project.not_found`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The project is archived (`project.archived`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is too large (`request.body_too_large`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not JSON (`request.unsupported_media_type`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is invalid (`request.invalid_body`)", body = doc::Problem, content_type = "application/problem+json"),
    ),
)]
#[tracing::instrument(skip_all, fields(project = %path.as_str(), project_id = Empty), err(level = "info"))]
pub async fn update(
    ctx: TenantContext,
    db: web::Data<Db>,
    path: web::Path<String>,
    body: web::Json<Object<UpdateProject>>,
) -> Result<HttpResponse, ProjectError> {
    let scope = MemberScope::resolve(&db, &ctx, &path).await?;
    scope.require(Role::Admin)?;
    let (tx, locked) = scope.begin_change(&db).await?;
    locked.require(Role::Admin)?;
    let project = locked.project;
    if project.status == ProjectStatus::Archived {
        return Err(ProjectError::Archived);
    }
    let name = match &body.name {
        Some(name) => name.clone(),
        None => ProjectName::parse(&project.name)?,
    };
    let description = match &body.description {
        Some(description) => description.clone(),
        None => Description::parse(&project.description)?,
    };
    let settings = match &body.settings {
        Some(patch) => project.settings.patched(patch),
        None => project.settings.clone(),
    };
    let unchanged = name.as_str() == project.name
        && description.as_str() == project.description
        && settings == project.settings;
    let row = if unchanged {
        project
    } else {
        projects::update_details(&tx, project.id, &name, &description, &settings).await?
    };
    tx.commit().await?;
    Ok(HttpResponse::Ok().json(ProjectView::new(row, Some(locked.role))))
}

/// `DELETE /v1/projects/{project}`: owners. A soft delete: the project is
/// gone for every API at once; its rows wait for a purge.
/// Deletes a project (owners).
#[utoipa::path(
    delete,
    path = "/v1/projects/{project}",
    tag = "projects",
    params(
        ("project" = String, Path, description = "Project id or slug"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "The project is deleted"),
        (status = 401, description = "No valid context: not signed in (`context.*`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller's role is below owner (`project.role_too_low`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such project, or not a member (`project.not_found`)", body = doc::Problem, content_type = "application/problem+json"),
    ),
)]
#[tracing::instrument(skip_all, fields(project = %path.as_str(), project_id = Empty), err(level = "info"))]
pub async fn delete(
    ctx: TenantContext,
    db: web::Data<Db>,
    path: web::Path<String>,
) -> Result<HttpResponse, ProjectError> {
    let scope = MemberScope::resolve(&db, &ctx, &path).await?;
    scope.require(Role::Owner)?;
    let (tx, locked) = scope.begin_change(&db).await?;
    locked.require(Role::Owner)?;
    projects::set_status(&tx, locked.project.id, ProjectStatus::Deleted).await?;
    tx.commit().await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `POST /v1/projects/{project}/archive`: admins. Archiving an archived
/// project changes nothing.
/// Archives a project: read-only until restored (admins).
#[utoipa::path(
    post,
    path = "/v1/projects/{project}/archive",
    tag = "projects",
    params(
        ("project" = String, Path, description = "Project id or slug"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The archived project", body = ProjectView),
        (status = 401, description = "No valid context: not signed in (`context.*`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller's role is below admin (`project.role_too_low`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such project, or not a member (`project.not_found`)", body = doc::Problem, content_type = "application/problem+json"),
    ),
)]
#[tracing::instrument(skip_all, fields(project = %path.as_str(), project_id = Empty), err(level = "info"))]
pub async fn archive(
    ctx: TenantContext,
    db: web::Data<Db>,
    path: web::Path<String>,
) -> Result<HttpResponse, ProjectError> {
    move_to(ctx, db, &path, ProjectStatus::Archived).await
}

/// `POST /v1/projects/{project}/restore`: admins.
/// Restores an archived project (admins).
#[utoipa::path(
    post,
    path = "/v1/projects/{project}/restore",
    tag = "projects",
    params(
        ("project" = String, Path, description = "Project id or slug"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The active project", body = ProjectView),
        (status = 401, description = "No valid context: not signed in (`context.*`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller's role is below admin (`project.role_too_low`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such project, or not a member (`project.not_found`)", body = doc::Problem, content_type = "application/problem+json"),
    ),
)]
#[tracing::instrument(skip_all, fields(project = %path.as_str(), project_id = Empty), err(level = "info"))]
pub async fn restore(
    ctx: TenantContext,
    db: web::Data<Db>,
    path: web::Path<String>,
) -> Result<HttpResponse, ProjectError> {
    move_to(ctx, db, &path, ProjectStatus::Active).await
}

async fn move_to(
    ctx: TenantContext,
    db: web::Data<Db>,
    path: &str,
    status: ProjectStatus,
) -> Result<HttpResponse, ProjectError> {
    let scope = MemberScope::resolve(&db, &ctx, path).await?;
    scope.require(Role::Admin)?;
    let (tx, locked) = scope.begin_change(&db).await?;
    locked.require(Role::Admin)?;
    let row = if locked.project.status == status {
        locked.project
    } else {
        projects::set_status(&tx, locked.project.id, status).await?
    };
    tx.commit().await?;
    Ok(HttpResponse::Ok().json(ProjectView::new(row, Some(locked.role))))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Stored fingerprints must keep matching retries across deploys: the
    /// SHA-256 of the body's canonical JSON, in lower-case hex.
    #[test]
    fn a_create_is_fingerprinted_by_the_sha256_of_its_canonical_json() {
        let body: CreateProject =
            serde_json::from_str(r#"{"name": " Billing ", "slug": "billing"}"#).unwrap();
        assert_eq!(
            serde_json::to_string(&body).unwrap(),
            r#"{"slug":"billing","name":"Billing","description":"","settings":{"default_branch":null}}"#
        );
        assert_eq!(
            body.fingerprint(),
            "50c6f3eb50b8d79acd1b16301719dd7e6dc710ab2022c903dc2a94f8bdcd257c"
        );
    }
}
