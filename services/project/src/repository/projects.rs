//! The project registry (`project.projects`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tenant_core::idempotency::IdempotencyKey;
use tenant_core::{Role, TenantTx};
use tokio_postgres::Row;
use tokio_postgres::types::Json;
use uuid::Uuid;

use super::{column, parse_column, role_column};
use crate::domain::{
    Description, Plan, ProjectName, ProjectRef, ProjectSettings, ProjectSlug, ProjectStatus,
};
use crate::error::ProjectError;

/// The columns every project query returns, for [`ProjectRow::from_row`].
macro_rules! project_columns {
    () => {
        "p.id, p.slug, p.name, p.description, p.plan, p.status, p.settings, \
         p.created_at, p.updated_at, p.archived_at"
    };
}

#[derive(Debug, Clone)]
pub struct ProjectRow {
    pub id: Uuid,
    pub slug: String,
    pub name: String,
    pub description: String,
    pub plan: Plan,
    pub status: ProjectStatus,
    pub settings: ProjectSettings,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub archived_at: Option<DateTime<Utc>>,
}

impl ProjectRow {
    fn from_row(row: &Row) -> Result<Self, ProjectError> {
        let Json(settings): Json<serde_json::Value> = column(row, "settings")?;
        Ok(Self {
            id: column(row, "id")?,
            slug: column(row, "slug")?,
            name: column(row, "name")?,
            description: column(row, "description")?,
            plan: parse_column(row, "plan")?,
            status: parse_column(row, "status")?,
            settings: serde_json::from_value(settings)
                .map_err(|error| ProjectError::CorruptRow(format!("settings: {error}")))?,
            created_at: column(row, "created_at")?,
            updated_at: column(row, "updated_at")?,
            archived_at: column(row, "archived_at")?,
        })
    }
}

fn settings_json(settings: &ProjectSettings) -> Result<Json<serde_json::Value>, ProjectError> {
    serde_json::to_value(settings)
        .map(Json)
        .map_err(|error| ProjectError::CorruptRow(format!("settings: {error}")))
}

/// A project about to be created.
#[derive(Debug)]
pub struct NewProject<'a> {
    pub id: Uuid,
    pub slug: &'a ProjectSlug,
    pub name: &'a ProjectName,
    pub description: &'a Description,
    pub plan: Plan,
    pub settings: &'a ProjectSettings,
    /// The user who created it, with the request's Idempotency-Key and
    /// fingerprint when it had one.
    pub created_by: Option<Uuid>,
    pub idempotency: Option<(&'a IdempotencyKey, &'a str)>,
}

/// Inserts the registry row. Runs in the new project's own transaction,
/// together with its owner membership.
#[tracing::instrument(skip_all, fields(project_id = %new.id), err(level = "warn"))]
pub async fn insert(tx: &TenantTx, new: &NewProject<'_>) -> Result<ProjectRow, ProjectError> {
    let settings = settings_json(new.settings)?;
    let (key, fingerprint) = match new.idempotency {
        Some((key, fingerprint)) => (Some(key.as_str()), Some(fingerprint)),
        None => (None, None),
    };
    let row = tx
        .query_one(
            concat!(
                "INSERT INTO project.projects AS p
                        (id, slug, name, description, plan, settings, created_by,
                         idempotency_key, request_fingerprint)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                 RETURNING ",
                project_columns!()
            ),
            &[
                &new.id,
                &new.slug.as_str(),
                &new.name.as_str(),
                &new.description.as_str(),
                &new.plan.as_str(),
                &settings,
                &new.created_by,
                &key,
                &fingerprint,
            ],
        )
        .await?;
    ProjectRow::from_row(&row)
}

/// The project `user` created with `key`, whatever its status, with the
/// fingerprint of the request that created it.
#[tracing::instrument(skip_all, fields(user_id = %user), err(level = "warn"))]
pub async fn find_created_with_key(
    tx: &TenantTx,
    user: Uuid,
    key: &IdempotencyKey,
) -> Result<Option<(ProjectRow, Option<String>)>, ProjectError> {
    let row = tx
        .query_opt(
            concat!(
                "SELECT ",
                project_columns!(),
                ", p.request_fingerprint
                   FROM project.projects p
                  WHERE p.created_by = $1 AND p.idempotency_key = $2"
            ),
            &[&user, &key.as_str()],
        )
        .await?;
    row.map(|row| {
        let fingerprint: Option<String> = column(&row, "request_fingerprint")?;
        Ok((ProjectRow::from_row(&row)?, fingerprint))
    })
    .transpose()
}

/// A project that is not deleted, with `user`'s role in it; `None` when
/// there is no such project or the user is not a member. Runs in
/// `user_tx(user)`: one indexed query (slug or primary key, then the
/// membership primary key).
#[tracing::instrument(skip_all, fields(user_id = %user, project = %project), err(level = "warn"))]
pub async fn find_for_member(
    tx: &TenantTx,
    user: Uuid,
    project: &ProjectRef,
) -> Result<Option<(ProjectRow, Role)>, ProjectError> {
    const BY_ID: &str = concat!(
        "SELECT ",
        project_columns!(),
        ", m.role
           FROM project.projects p
           JOIN project.memberships m ON m.project_id = p.id AND m.user_id = $1
          WHERE p.id = $2 AND p.status <> 'deleted'"
    );
    const BY_SLUG: &str = concat!(
        "SELECT ",
        project_columns!(),
        ", m.role
           FROM project.projects p
           JOIN project.memberships m ON m.project_id = p.id AND m.user_id = $1
          WHERE p.slug = $2 AND p.status <> 'deleted'"
    );
    let row = match project {
        ProjectRef::Id(id) => tx.query_opt(BY_ID, &[&user, id]).await?,
        ProjectRef::Slug(slug) => tx.query_opt(BY_SLUG, &[&user, &slug.as_str()]).await?,
    };
    row.map(|row| Ok((ProjectRow::from_row(&row)?, role_column(&row, "role")?)))
        .transpose()
}

/// A project that is not deleted, membership aside (platform operations).
#[tracing::instrument(skip_all, fields(project = %project), err(level = "warn"))]
pub async fn find(tx: &TenantTx, project: &ProjectRef) -> Result<Option<ProjectRow>, ProjectError> {
    const BY_ID: &str = concat!(
        "SELECT ",
        project_columns!(),
        " FROM project.projects p WHERE p.id = $1 AND p.status <> 'deleted'"
    );
    const BY_SLUG: &str = concat!(
        "SELECT ",
        project_columns!(),
        " FROM project.projects p WHERE p.slug = $1 AND p.status <> 'deleted'"
    );
    let row = match project {
        ProjectRef::Id(id) => tx.query_opt(BY_ID, &[id]).await?,
        ProjectRef::Slug(slug) => tx.query_opt(BY_SLUG, &[&slug.as_str()]).await?,
    };
    row.as_ref().map(ProjectRow::from_row).transpose()
}

/// The project holding `slug`, deleted ones included (a deleted project
/// keeps its slug until it is purged).
#[tracing::instrument(skip_all, fields(slug = %slug), err(level = "warn"))]
pub async fn find_by_slug_any_status(
    tx: &TenantTx,
    slug: &ProjectSlug,
) -> Result<Option<ProjectRow>, ProjectError> {
    let row = tx
        .query_opt(
            concat!(
                "SELECT ",
                project_columns!(),
                " FROM project.projects p WHERE p.slug = $1"
            ),
            &[&slug.as_str()],
        )
        .await?;
    row.as_ref().map(ProjectRow::from_row).transpose()
}

/// Locks a project that is not deleted against concurrent lifecycle and
/// membership changes for the rest of the transaction.
#[tracing::instrument(skip_all, fields(project_id = %id), err(level = "warn"))]
pub async fn lock(tx: &TenantTx, id: Uuid) -> Result<Option<ProjectRow>, ProjectError> {
    let row = tx
        .query_opt(
            concat!(
                "SELECT ",
                project_columns!(),
                " FROM project.projects p
                 WHERE p.id = $1 AND p.status <> 'deleted'
                   FOR NO KEY UPDATE"
            ),
            &[&id],
        )
        .await?;
    row.as_ref().map(ProjectRow::from_row).transpose()
}

#[tracing::instrument(skip_all, fields(project_id = %id), err(level = "warn"))]
pub async fn update_details(
    tx: &TenantTx,
    id: Uuid,
    name: &ProjectName,
    description: &Description,
    settings: &ProjectSettings,
) -> Result<ProjectRow, ProjectError> {
    let settings = settings_json(settings)?;
    let row = tx
        .query_one(
            concat!(
                "UPDATE project.projects AS p
                    SET name = $2, description = $3, settings = $4, updated_at = now()
                  WHERE p.id = $1
                 RETURNING ",
                project_columns!()
            ),
            &[&id, &name.as_str(), &description.as_str(), &settings],
        )
        .await?;
    ProjectRow::from_row(&row)
}

/// Moves a project to `status`, stamping when it was archived or deleted.
#[tracing::instrument(skip_all, fields(project_id = %id, status = %status), err(level = "warn"))]
pub async fn set_status(
    tx: &TenantTx,
    id: Uuid,
    status: ProjectStatus,
) -> Result<ProjectRow, ProjectError> {
    let row = tx
        .query_one(
            concat!(
                "UPDATE project.projects AS p
                    SET status = $2,
                        archived_at = CASE $2
                                        WHEN 'archived' THEN coalesce(p.archived_at, now())
                                        WHEN 'active' THEN NULL
                                        ELSE p.archived_at
                                      END,
                        deleted_at = CASE WHEN $2 = 'deleted' THEN now() ELSE p.deleted_at END,
                        updated_at = now()
                  WHERE p.id = $1
                 RETURNING ",
                project_columns!()
            ),
            &[&id, &status.as_str()],
        )
        .await?;
    ProjectRow::from_row(&row)
}

#[tracing::instrument(skip_all, fields(project_id = %id, plan = %plan), err(level = "warn"))]
pub async fn set_plan(tx: &TenantTx, id: Uuid, plan: Plan) -> Result<ProjectRow, ProjectError> {
    let row = tx
        .query_one(
            concat!(
                "UPDATE project.projects AS p
                    SET plan = $2, updated_at = now()
                  WHERE p.id = $1
                 RETURNING ",
                project_columns!()
            ),
            &[&id, &plan.as_str()],
        )
        .await?;
    ProjectRow::from_row(&row)
}

/// Which of a user's projects to list.
#[derive(Debug, Default)]
pub struct ListFilter {
    /// Case-insensitive substring of the name.
    pub name_contains: Option<String>,
    pub status: Option<ProjectStatus>,
}

/// Where a page of "my projects" continues: the last (name, id) seen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ListCursor {
    pub name: String,
    pub id: Uuid,
}

/// "My projects", ordered by name then id. Runs in `user_tx(user)`; the
/// `m.user_id = $1` filter is also what row level security enforces, so
/// the RLS test runs this query without it.
pub const LIST_FOR_MEMBER: &str = concat!(
    "SELECT ",
    project_columns!(),
    ", m.role
       FROM project.memberships m
       JOIN project.projects p ON p.id = m.project_id
      WHERE m.user_id = $1
        AND p.status <> 'deleted'
        AND ($2::text IS NULL OR p.name ILIKE $2 ESCAPE '\\')
        AND ($3::text IS NULL OR p.status = $3)
        AND ($4::text IS NULL OR (p.name, p.id) > ($4::text, $5::uuid))
      ORDER BY p.name, p.id
      LIMIT $6"
);

#[tracing::instrument(skip_all, fields(user_id = %user), err(level = "warn"))]
pub async fn list_for_member(
    tx: &TenantTx,
    user: Uuid,
    filter: &ListFilter,
    after: Option<&ListCursor>,
    fetch_limit: i64,
) -> Result<Vec<(ProjectRow, Role)>, ProjectError> {
    list_with(tx, LIST_FOR_MEMBER, user, filter, after, fetch_limit).await
}

/// [`list_for_member`] with another SQL text taking the same parameters
/// (the RLS test's query without its user filter).
#[tracing::instrument(skip_all, fields(user_id = %user), err(level = "warn"))]
pub async fn list_with(
    tx: &TenantTx,
    sql: &str,
    user: Uuid,
    filter: &ListFilter,
    after: Option<&ListCursor>,
    fetch_limit: i64,
) -> Result<Vec<(ProjectRow, Role)>, ProjectError> {
    let pattern = filter
        .name_contains
        .as_deref()
        .map(|needle| format!("%{}%", escape_like(needle)));
    let status = filter.status.map(ProjectStatus::as_str);
    let after_name = after.map(|cursor| cursor.name.as_str());
    let after_id = after.map(|cursor| cursor.id);
    let rows = tx
        .query(
            sql,
            &[
                &user,
                &pattern,
                &status,
                &after_name,
                &after_id,
                &fetch_limit,
            ],
        )
        .await?;
    rows.iter()
        .map(|row| Ok((ProjectRow::from_row(row)?, role_column(row, "role")?)))
        .collect()
}

/// Makes `%`, `_` and `\` in a user's search text match themselves.
fn escape_like(needle: &str) -> String {
    let mut escaped = String::with_capacity(needle.len());
    for c in needle.chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_wildcards_in_a_search_match_literally() {
        assert_eq!(escape_like("100%_done\\"), "100\\%\\_done\\\\");
        assert_eq!(escape_like("web"), "web");
    }
}
