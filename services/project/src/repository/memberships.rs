//! Who belongs to a project, with which role (`project.memberships`).
//! Every function runs inside the project's own transaction.

use chrono::{DateTime, Utc};
use tenant_core::{Role, TenantTx};
use tokio_postgres::Row;
use uuid::Uuid;

use super::{column, role_column};
use crate::error::ProjectError;

#[derive(Debug, Clone)]
pub struct MemberRow {
    pub user_id: Uuid,
    pub role: Role,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl MemberRow {
    fn from_row(row: &Row) -> Result<Self, ProjectError> {
        Ok(Self {
            user_id: column(row, "user_id")?,
            role: role_column(row, "role")?,
            created_at: column(row, "created_at")?,
            updated_at: column(row, "updated_at")?,
        })
    }
}

/// Adds a member; `memberships_pkey` is violated when they already are one.
#[tracing::instrument(skip_all, fields(project_id = %project, user_id = %user), err(level = "warn"))]
pub async fn insert(
    tx: &TenantTx,
    project: Uuid,
    user: Uuid,
    role: Role,
) -> Result<MemberRow, ProjectError> {
    let row = tx
        .query_one(
            "INSERT INTO project.memberships (project_id, user_id, role)
             VALUES ($1, $2, $3)
             RETURNING user_id, role, created_at, updated_at",
            &[&project, &user, &role.as_str()],
        )
        .await?;
    MemberRow::from_row(&row)
}

/// A member's row, locked for the rest of the transaction.
#[tracing::instrument(skip_all, fields(project_id = %project, user_id = %user), err(level = "warn"))]
pub async fn lock(
    tx: &TenantTx,
    project: Uuid,
    user: Uuid,
) -> Result<Option<MemberRow>, ProjectError> {
    let row = tx
        .query_opt(
            "SELECT user_id, role, created_at, updated_at
               FROM project.memberships
              WHERE project_id = $1 AND user_id = $2
                FOR UPDATE",
            &[&project, &user],
        )
        .await?;
    row.as_ref().map(MemberRow::from_row).transpose()
}

#[tracing::instrument(skip_all, fields(project_id = %project, user_id = %user), err(level = "warn"))]
pub async fn set_role(
    tx: &TenantTx,
    project: Uuid,
    user: Uuid,
    role: Role,
) -> Result<MemberRow, ProjectError> {
    let row = tx
        .query_one(
            "UPDATE project.memberships
                SET role = $3, updated_at = now()
              WHERE project_id = $1 AND user_id = $2
             RETURNING user_id, role, created_at, updated_at",
            &[&project, &user, &role.as_str()],
        )
        .await?;
    MemberRow::from_row(&row)
}

#[tracing::instrument(skip_all, fields(project_id = %project, user_id = %user), err(level = "warn"))]
pub async fn remove(tx: &TenantTx, project: Uuid, user: Uuid) -> Result<bool, ProjectError> {
    let removed = tx
        .execute(
            "DELETE FROM project.memberships WHERE project_id = $1 AND user_id = $2",
            &[&project, &user],
        )
        .await?;
    Ok(removed > 0)
}

#[tracing::instrument(skip_all, fields(project_id = %project), err(level = "warn"))]
pub async fn count_owners(tx: &TenantTx, project: Uuid) -> Result<i64, ProjectError> {
    let row = tx
        .query_one(
            "SELECT count(*) AS owners
               FROM project.memberships
              WHERE project_id = $1 AND role = 'owner'",
            &[&project],
        )
        .await?;
    column(&row, "owners")
}

/// Members ordered by user id (the primary key), after `after`.
#[tracing::instrument(skip_all, fields(project_id = %project), err(level = "warn"))]
pub async fn list(
    tx: &TenantTx,
    project: Uuid,
    after: Option<Uuid>,
    fetch_limit: i64,
) -> Result<Vec<MemberRow>, ProjectError> {
    let rows = tx
        .query(
            "SELECT user_id, role, created_at, updated_at
               FROM project.memberships
              WHERE project_id = $1 AND ($2::uuid IS NULL OR user_id > $2)
              ORDER BY user_id
              LIMIT $3",
            &[&project, &after, &fetch_limit],
        )
        .await?;
    rows.iter().map(MemberRow::from_row).collect()
}

#[tracing::instrument(skip_all, fields(project_id = %project, user_id = %user), err(level = "warn"))]
pub async fn find(
    tx: &TenantTx,
    project: Uuid,
    user: Uuid,
) -> Result<Option<MemberRow>, ProjectError> {
    let row = tx
        .query_opt(
            "SELECT user_id, role, created_at, updated_at
               FROM project.memberships
              WHERE project_id = $1 AND user_id = $2",
            &[&project, &user],
        )
        .await?;
    row.as_ref().map(MemberRow::from_row).transpose()
}
