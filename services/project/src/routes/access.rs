//! `/internal/v1/access`: what the gateway authorizes with. Service
//! principals only; never routed from outside.
//!
//! - `GET /internal/v1/access?user=<uuid>&project=<id-or-slug>`: the user's
//!   role in a project that is not deleted, with its status and plan limits.
//! - `GET /internal/v1/access?api_key_project=<uuid>&role=<role>&project=<id-or-slug>`:
//!   for an API key (bound to one project, with a role the auth service
//!   vouched for): answers only when the key's project is the one asked
//!   for and it is active. The role is capped at `member`.
//! - `GET /internal/v1/users/{user}/projects`: the ids of the projects
//!   (not deleted) a user is a member of, for views that put a user's
//!   projects side by side (the analytics overview).
//! - `GET /internal/v1/access/changes?after=<seq>`: memberships and
//!   projects whose access changed after `seq`, so the gateway drops cached
//!   entries at once instead of waiting out a TTL.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use tenant_core::{Db, Role, TenantContext};
use uuid::Uuid;

use crate::AppState;
use crate::domain::{Plan, PlanLimits, ProjectRef, ProjectStatus};
use crate::error::ProjectError;
use crate::repository::access::{self, AccessRow};
use crate::repository::access_changes::{self, ChangeRow};

/// The highest role an API key ever acts with.
const API_KEY_MAX_ROLE: Role = Role::Member;

#[derive(Debug, Deserialize)]
pub struct AccessQuery {
    pub project: String,
    pub user: Option<Uuid>,
    pub api_key_project: Option<Uuid>,
    pub role: Option<Role>,
}

#[derive(Debug, Serialize)]
pub struct AccessView {
    pub project_id: Uuid,
    pub slug: String,
    pub status: ProjectStatus,
    pub role: Role,
    pub plan: Plan,
    pub limits: PlanLimits,
    /// The change sequence this answer reflects: a gateway that has already
    /// applied a later change for this entry should not cache it.
    pub as_of_seq: i64,
}

impl AccessView {
    fn new(row: AccessRow, role: Role) -> Self {
        Self {
            project_id: row.project_id,
            slug: row.slug,
            status: row.status,
            role,
            plan: row.plan,
            limits: row.plan.limits(),
            as_of_seq: row.as_of_seq,
        }
    }
}

#[tracing::instrument(skip_all, fields(project = %query.project, user_id = ?query.user, api_key_project = ?query.api_key_project), err(level = "info"))]
pub async fn check(
    ctx: TenantContext,
    db: web::Data<Db>,
    query: web::Query<AccessQuery>,
) -> Result<HttpResponse, ProjectError> {
    ctx.require_service()?;
    let query = query.into_inner();
    let project = ProjectRef::parse(&query.project);
    let view = match (query.user, query.api_key_project, query.role) {
        (Some(user), None, None) => user_access(&db, user, project).await?,
        (None, Some(key_project), Some(key_role)) => {
            api_key_access(&db, key_project, key_role, project).await?
        }
        _ => return Err(ProjectError::AmbiguousAccessQuery),
    };
    Ok(HttpResponse::Ok().json(view.ok_or(ProjectError::NoAccess)?))
}

/// The most projects [`member_projects`] lists.
const MAX_MEMBER_PROJECTS: i64 = 1000;

#[derive(Debug, Serialize)]
pub struct MemberProjects {
    pub project_ids: Vec<Uuid>,
}

#[tracing::instrument(skip_all, fields(user_id = %path), err(level = "info"))]
pub async fn member_projects(
    ctx: TenantContext,
    db: web::Data<Db>,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ProjectError> {
    ctx.require_service()?;
    let user = path.into_inner();
    let tx = db.user_tx(user).await?;
    let project_ids = access::member_project_ids(&tx, user, MAX_MEMBER_PROJECTS).await?;
    tx.commit().await?;
    Ok(HttpResponse::Ok().json(MemberProjects { project_ids }))
}

async fn user_access(
    db: &Db,
    user: Uuid,
    project: Option<ProjectRef>,
) -> Result<Option<AccessView>, ProjectError> {
    let Some(project) = project else {
        return Ok(None);
    };
    let tx = db.user_tx(user).await?.single_statement();
    let row = access::for_user(&tx, user, &project).await?;
    tx.commit().await?;
    Ok(row.and_then(|row| {
        let role = row.role?;
        Some(AccessView::new(row, role))
    }))
}

async fn api_key_access(
    db: &Db,
    key_project: Uuid,
    key_role: Role,
    project: Option<ProjectRef>,
) -> Result<Option<AccessView>, ProjectError> {
    let Some(project) = project else {
        return Ok(None);
    };
    let tx = db.unscoped_tx().await?.single_statement();
    let row = access::for_active_project(&tx, key_project).await?;
    tx.commit().await?;
    Ok(row
        .filter(|row| project.matches(row.project_id, &row.slug))
        .map(|row| AccessView::new(row, key_role.min(API_KEY_MAX_ROLE))))
}

const DEFAULT_CHANGES: u32 = 500;
const MAX_CHANGES: u32 = 1_000;

#[derive(Debug, Deserialize)]
pub struct ChangesQuery {
    /// The last sequence the caller applied; absent: only where the feed
    /// stands now (a starting gateway has nothing to drop).
    pub after: Option<i64>,
    pub limit: Option<u32>,
}

#[derive(Debug, Serialize)]
pub struct ChangeView {
    pub seq: i64,
    pub project_id: Uuid,
    /// Absent when the whole project changed (status, plan, slug): drop
    /// every cached entry of the project.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<Uuid>,
    pub kind: String,
}

impl From<ChangeRow> for ChangeView {
    fn from(row: ChangeRow) -> Self {
        Self {
            seq: row.seq,
            project_id: row.project_id,
            user_id: row.user_id,
            kind: row.kind,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct ChangesView {
    pub changes: Vec<ChangeView>,
    /// The newest sequence handed out.
    pub latest: i64,
    /// More changes follow the last one here: ask again right away.
    pub has_more: bool,
    /// The caller cannot catch up (changes it missed were pruned, or the
    /// feed is behind its `after`, as after a restore): drop every cached
    /// entry and continue from `latest`.
    pub reset: bool,
}

#[tracing::instrument(skip_all, fields(after = ?query.after), err(level = "info"))]
pub async fn changes(
    ctx: TenantContext,
    db: web::Data<Db>,
    state: web::Data<AppState>,
    query: web::Query<ChangesQuery>,
) -> Result<HttpResponse, ProjectError> {
    ctx.require_service()?;
    if query.after.is_some_and(|after| after < 0) {
        return Err(ProjectError::NegativeFeedPosition);
    }
    let limit = query.limit.unwrap_or(DEFAULT_CHANGES).clamp(1, MAX_CHANGES);
    let tx = db.unscoped_tx().await?;
    access_changes::open_feed(&tx).await?;
    let slice =
        access_changes::changes_after(&tx, query.after.unwrap_or(i64::MAX), i64::from(limit))
            .await?;
    let retained = state.access_changes_retained;
    // Prune in batches of a tenth, not on every poll.
    if slice.latest - slice.pruned_through > retained + retained / 10 {
        access_changes::prune(&tx, retained).await?;
    }
    tx.commit().await?;
    let reset = query
        .after
        .is_some_and(|after| after < slice.pruned_through || after > slice.latest);
    let changes = if reset { Vec::new() } else { slice.changes };
    let has_more = changes.last().is_some_and(|last| last.seq < slice.latest)
        && changes.len() == usize::try_from(limit).unwrap_or(usize::MAX);
    Ok(HttpResponse::Ok().json(ChangesView {
        changes: changes.into_iter().map(ChangeView::from).collect(),
        latest: slice.latest,
        has_more,
        reset,
    }))
}
