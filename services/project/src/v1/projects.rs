//! `/v1/projects`: create, list mine, read, change, archive, restore,
//! delete, and (platform admins) change the plan.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tenant_core::json::Object;
use tenant_core::pagination::{Page, PageParams, PageRequest};
use tenant_core::{Db, Problem, ProjectAccess, Role, TenantContext};
use uuid::Uuid;

use super::ProjectView;
use super::openapi as doc;
use crate::domain::{
    Description, IdempotencyKey, Plan, ProjectName, ProjectRef, ProjectSettings, ProjectSlug,
    ProjectStatus, SettingsPatch,
};
use crate::error::ProjectError;
use crate::repository::memberships;
use crate::repository::projects::{self, ListCursor, ListFilter, NewProject};
use crate::scope::{MemberScope, check_context_project};

const IDEMPOTENCY_KEY: &str = "idempotency-key";
const IDEMPOTENT_REPLAYED: &str = "idempotent-replayed";

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
    #[schema(value_type = doc::SettingsPatch)]
    pub settings: SettingsPatch,
}

impl CreateProject {
    /// What an Idempotency-Key is bound to: a retry must send the same.
    fn fingerprint(&self) -> String {
        let canonical = serde_json::to_vec(self).unwrap_or_default();
        Sha256::digest(&canonical)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
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
pub async fn create(
    ctx: TenantContext,
    db: web::Data<Db>,
    request: HttpRequest,
    body: web::Json<Object<CreateProject>>,
) -> Result<HttpResponse, Problem> {
    let user = ctx.require_user()?;
    let key = idempotency_key(&request)?;
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
                None => Err(ProjectError::SlugTaken.into()),
            }
        }
        (Err(error), _) => Err(error.into()),
    }
}

fn idempotency_key(request: &HttpRequest) -> Result<Option<IdempotencyKey>, ProjectError> {
    let Some(value) = request.headers().get(IDEMPOTENCY_KEY) else {
        return Ok(None);
    };
    let value = value.to_str().unwrap_or("");
    IdempotencyKey::parse(value)
        .map(Some)
        .map_err(ProjectError::InvalidIdempotencyKey)
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
fn created_response(row: projects::ProjectRow, role: Role, replayed: bool) -> HttpResponse {
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
        ("status" = Option<doc::ProjectStatus>, Query, nullable = false, description = "Only projects in this state"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of projects", body = doc::ProjectPage),
        (status = 400, description = "Invalid query (`request.invalid_query`, `pagination.*`, `request.invalid_text`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid context: not signed in (`context.*`)", body = doc::Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn list(
    ctx: TenantContext,
    db: web::Data<Db>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, Problem> {
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
        return Err(Problem::bad_request(
            "request.invalid_query",
            "name: at most 100 characters",
        ));
    }
    let filter = ListFilter {
        name_contains,
        status: query.status,
    };
    let tx = db.user_tx(user).await.map_err(ProjectError::from)?;
    let rows =
        projects::list_for_member(&tx, user, &filter, page.after.as_ref(), page.fetch_limit())
            .await?;
    tx.commit().await.map_err(ProjectError::from)?;
    let views = rows
        .into_iter()
        .map(|(row, role)| ProjectView::new(row, Some(role)))
        .collect();
    let page = Page::from_rows(views, page.limit, |view: &ProjectView| ListCursor {
        name: view.name.clone(),
        id: view.id,
    });
    Ok(HttpResponse::Ok().json(page))
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
pub async fn get(
    ctx: TenantContext,
    db: web::Data<Db>,
    path: web::Path<String>,
) -> Result<HttpResponse, Problem> {
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
    #[schema(value_type = Option<doc::SettingsPatch>)]
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
pub async fn update(
    ctx: TenantContext,
    db: web::Data<Db>,
    path: web::Path<String>,
    body: web::Json<Object<UpdateProject>>,
) -> Result<HttpResponse, Problem> {
    let scope = MemberScope::resolve(&db, &ctx, &path).await?;
    scope.require(Role::Admin)?;
    let (tx, locked) = scope.begin_change(&db).await?;
    locked.require(Role::Admin)?;
    let project = locked.project;
    if project.status == ProjectStatus::Archived {
        return Err(ProjectError::Archived.into());
    }
    let name = match &body.name {
        Some(name) => name.clone(),
        None => ProjectName::parse(&project.name).map_err(ProjectError::from)?,
    };
    let description = match &body.description {
        Some(description) => description.clone(),
        None => Description::parse(&project.description).map_err(ProjectError::from)?,
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
    tx.commit().await.map_err(ProjectError::from)?;
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
pub async fn delete(
    ctx: TenantContext,
    db: web::Data<Db>,
    path: web::Path<String>,
) -> Result<HttpResponse, Problem> {
    let scope = MemberScope::resolve(&db, &ctx, &path).await?;
    scope.require(Role::Owner)?;
    let (tx, locked) = scope.begin_change(&db).await?;
    locked.require(Role::Owner)?;
    projects::set_status(&tx, locked.project.id, ProjectStatus::Deleted).await?;
    tx.commit().await.map_err(ProjectError::from)?;
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
pub async fn archive(
    ctx: TenantContext,
    db: web::Data<Db>,
    path: web::Path<String>,
) -> Result<HttpResponse, Problem> {
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
pub async fn restore(
    ctx: TenantContext,
    db: web::Data<Db>,
    path: web::Path<String>,
) -> Result<HttpResponse, Problem> {
    move_to(ctx, db, &path, ProjectStatus::Active).await
}

async fn move_to(
    ctx: TenantContext,
    db: web::Data<Db>,
    path: &str,
    status: ProjectStatus,
) -> Result<HttpResponse, Problem> {
    let scope = MemberScope::resolve(&db, &ctx, path).await?;
    scope.require(Role::Admin)?;
    let (tx, locked) = scope.begin_change(&db).await?;
    locked.require(Role::Admin)?;
    let row = if locked.project.status == status {
        locked.project
    } else {
        projects::set_status(&tx, locked.project.id, status).await?
    };
    tx.commit().await.map_err(ProjectError::from)?;
    Ok(HttpResponse::Ok().json(ProjectView::new(row, Some(locked.role))))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePlan {
    #[schema(value_type = doc::Plan)]
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
pub async fn change_plan(
    ctx: TenantContext,
    db: web::Data<Db>,
    path: web::Path<String>,
    body: web::Json<Object<ChangePlan>>,
) -> Result<HttpResponse, Problem> {
    if let Err(not_admin) = ctx.require_platform_admin() {
        MemberScope::resolve(&db, &ctx, &path).await?;
        return Err(not_admin);
    }
    let project_ref = ProjectRef::parse(&path).ok_or(ProjectError::NotFound)?;
    let registry = db.unscoped_tx().await.map_err(ProjectError::from)?;
    let project = projects::find(&registry, &project_ref)
        .await?
        .ok_or(ProjectError::NotFound)?;
    registry.commit().await.map_err(ProjectError::from)?;
    check_context_project(&ctx, project.id)?;

    // No membership to scope by: the project's own worker scope, which the
    // access change trigger needs to record the new limits.
    let tx = db.worker_tx(project.id).await.map_err(ProjectError::from)?;
    let project = projects::lock(&tx, project.id)
        .await?
        .ok_or(ProjectError::NotFound)?;
    let row = if project.plan == body.plan {
        project
    } else {
        projects::set_plan(&tx, project.id, body.plan).await?
    };
    tx.commit().await.map_err(ProjectError::from)?;
    Ok(HttpResponse::Ok().json(ProjectView::new(row, None)))
}
