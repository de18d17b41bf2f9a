//! What the gateway asks: may this principal use this project.

use tenant_core::{Role, TenantTx};
use tokio_postgres::Row;
use uuid::Uuid;

use super::{column, parse_column, role_column};
use crate::domain::{Plan, ProjectRef, ProjectStatus};
use crate::error::ProjectError;

/// A principal's access to one project, as of change `as_of_seq`.
#[derive(Debug, Clone)]
pub struct AccessRow {
    pub project_id: Uuid,
    pub slug: String,
    pub status: ProjectStatus,
    pub plan: Plan,
    /// The member's role; `None` for a project looked up without one.
    pub role: Option<Role>,
    pub as_of_seq: i64,
}

impl AccessRow {
    fn from_row(row: &Row, with_role: bool) -> Result<Self, ProjectError> {
        Ok(Self {
            project_id: column(row, "id")?,
            slug: column(row, "slug")?,
            status: parse_column(row, "status")?,
            plan: parse_column(row, "plan")?,
            role: if with_role {
                Some(role_column(row, "role")?)
            } else {
                None
            },
            as_of_seq: column(row, "as_of_seq")?,
        })
    }
}

/// A user's access by project id ($1 user, $2 project id). Public so a
/// test can check its plan uses indexes only.
pub const USER_ACCESS_BY_ID: &str = "SELECT p.id, p.slug, p.status, p.plan, m.role,
        (SELECT c.last_seq FROM project.access_change_counter c) AS as_of_seq
   FROM project.projects p
   JOIN project.memberships m ON m.project_id = p.id AND m.user_id = $1
  WHERE p.id = $2 AND p.status <> 'deleted'";

/// A user's access by slug ($1 user, $2 slug).
pub const USER_ACCESS_BY_SLUG: &str = "SELECT p.id, p.slug, p.status, p.plan, m.role,
        (SELECT c.last_seq FROM project.access_change_counter c) AS as_of_seq
   FROM project.projects p
   JOIN project.memberships m ON m.project_id = p.id AND m.user_id = $1
  WHERE p.slug = $2 AND p.status <> 'deleted'";

/// A user's access: one query, by the project's primary key or slug and
/// then the membership primary key. The change sequence is read in the
/// same statement, so it is exactly the state the answer reflects. Runs in
/// `user_tx(user)`.
#[tracing::instrument(skip_all, fields(user_id = %user, project = %project), err(level = "warn"))]
pub async fn for_user(
    tx: &TenantTx,
    user: Uuid,
    project: &ProjectRef,
) -> Result<Option<AccessRow>, ProjectError> {
    let row = match project {
        ProjectRef::Id(id) => tx.query_opt(USER_ACCESS_BY_ID, &[&user, id]).await?,
        ProjectRef::Slug(slug) => {
            tx.query_opt(USER_ACCESS_BY_SLUG, &[&user, &slug.as_str()])
                .await?
        }
    };
    row.map(|row| AccessRow::from_row(&row, true)).transpose()
}

/// An active project by id, membership aside: what an API key bound to it
/// may reach. Runs in `unscoped_tx` (the registry is not row-secured).
#[tracing::instrument(skip_all, fields(project_id = %project), err(level = "warn"))]
pub async fn for_active_project(
    tx: &TenantTx,
    project: Uuid,
) -> Result<Option<AccessRow>, ProjectError> {
    let row = tx
        .query_opt(
            "SELECT p.id, p.slug, p.status, p.plan,
                    (SELECT c.last_seq FROM project.access_change_counter c) AS as_of_seq
               FROM project.projects p
              WHERE p.id = $1 AND p.status = 'active'",
            &[&project],
        )
        .await?;
    row.map(|row| AccessRow::from_row(&row, false)).transpose()
}

/// The projects (not deleted) `user` is a member of, at most `limit`, by
/// id. Runs in `user_tx(user)`: row level security shows the user's own
/// memberships only, and the filter says the same for the planner.
#[tracing::instrument(skip_all, fields(user_id = %user), err(level = "warn"))]
pub async fn member_project_ids(
    tx: &TenantTx,
    user: Uuid,
    limit: i64,
) -> Result<Vec<Uuid>, ProjectError> {
    let rows = tx
        .query(
            "SELECT p.id
               FROM project.memberships m
               JOIN project.projects p ON p.id = m.project_id
              WHERE m.user_id = $1 AND p.status <> 'deleted'
              ORDER BY p.id
              LIMIT $2",
            &[&user, &limit],
        )
        .await?;
    rows.iter().map(|row| column(row, "id")).collect()
}
