//! What the gateway asks: may this principal use this project, and what
//! changed since it last asked.

use tenant_core::{Role, TenantTx};
use uuid::Uuid;

use super::{parse_column, role_column};
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

fn access_row(row: &tokio_postgres::Row, with_role: bool) -> Result<AccessRow, ProjectError> {
    let corrupt = |error: tokio_postgres::Error| ProjectError::CorruptRow(error.to_string());
    Ok(AccessRow {
        project_id: row.try_get("id").map_err(corrupt)?,
        slug: row.try_get("slug").map_err(corrupt)?,
        status: parse_column(row, "status")?,
        plan: parse_column(row, "plan")?,
        role: if with_role {
            Some(role_column(row, "role")?)
        } else {
            None
        },
        as_of_seq: row.try_get("as_of_seq").map_err(corrupt)?,
    })
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
    row.map(|row| access_row(&row, true)).transpose()
}

/// An active project by id, membership aside: what an API key bound to it
/// may reach. Runs in `unscoped_tx` (the registry is not row-secured).
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
    row.map(|row| access_row(&row, false)).transpose()
}

/// One entry of the change feed: a membership (`user_id` set) or a whole
/// project (`user_id` empty) whose access may differ from before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeRow {
    pub seq: i64,
    pub project_id: Uuid,
    pub user_id: Option<Uuid>,
    pub kind: String,
}

/// A slice of the feed and where the feed stands.
#[derive(Debug, Clone)]
pub struct FeedSlice {
    pub latest: i64,
    pub pruned_through: i64,
    pub changes: Vec<ChangeRow>,
}

/// Lets this transaction read and prune the whole feed across projects
/// (the `access_feed_*` policies). Only the gateway's poll does this.
pub async fn open_feed(tx: &TenantTx) -> Result<(), ProjectError> {
    tx.execute("SELECT set_config('app.access_feed', 'read', true)", &[])
        .await?;
    Ok(())
}

/// Up to `limit` changes after `after`, and the counter, in one statement
/// so both come from the same snapshot.
pub async fn changes_after(
    tx: &TenantTx,
    after: i64,
    limit: i64,
) -> Result<FeedSlice, ProjectError> {
    let rows = tx
        .query(
            "SELECT c.last_seq, c.pruned_through, ch.seq, ch.project_id, ch.user_id, ch.kind
               FROM project.access_change_counter c
               LEFT JOIN LATERAL (
                    SELECT a.seq, a.project_id, a.user_id, a.kind
                      FROM project.access_changes a
                     WHERE a.seq > $1
                     ORDER BY a.seq
                     LIMIT $2
               ) ch ON true
              ORDER BY ch.seq",
            &[&after, &limit],
        )
        .await?;
    let corrupt = |error: tokio_postgres::Error| ProjectError::CorruptRow(error.to_string());
    let first = rows
        .first()
        .ok_or_else(|| ProjectError::CorruptRow("the access change counter is missing".into()))?;
    let latest: i64 = first.try_get("last_seq").map_err(corrupt)?;
    let pruned_through: i64 = first.try_get("pruned_through").map_err(corrupt)?;
    let mut changes = Vec::with_capacity(rows.len());
    for row in &rows {
        let Some(seq) = row.try_get::<_, Option<i64>>("seq").map_err(corrupt)? else {
            continue;
        };
        changes.push(ChangeRow {
            seq,
            project_id: row.try_get("project_id").map_err(corrupt)?,
            user_id: row.try_get("user_id").map_err(corrupt)?,
            kind: row.try_get("kind").map_err(corrupt)?,
        });
    }
    Ok(FeedSlice {
        latest,
        pruned_through,
        changes,
    })
}

/// Drops all but the newest `keep` changes, if more than that are kept,
/// and never a change a consumer in `access_feed_cursors` has not
/// delivered. Returns the new `pruned_through` when it moved. Needs
/// [`open_feed`].
pub async fn prune(tx: &TenantTx, keep: i64) -> Result<Option<i64>, ProjectError> {
    let row = tx
        .query_opt(
            "WITH bound AS (
                 SELECT least(last_seq - $1,
                              (SELECT coalesce(min(f.position), last_seq)
                                 FROM project.access_feed_cursors f)) AS through
                   FROM project.access_change_counter
                  WHERE least(last_seq - $1,
                              (SELECT coalesce(min(f.position), last_seq)
                                 FROM project.access_feed_cursors f)) > pruned_through
                    FOR UPDATE
             ), pruned AS (
                 DELETE FROM project.access_changes a
                  USING bound
                  WHERE a.seq <= bound.through
             )
             UPDATE project.access_change_counter c
                SET pruned_through = bound.through
               FROM bound
             RETURNING c.pruned_through",
            &[&keep],
        )
        .await?;
    Ok(row.map(|row| row.get(0)))
}

/// Where the feed consumer `consumer` stands, locked until the transaction
/// ends; `None` when another replica is relaying right now (or the
/// consumer is unknown).
pub async fn lock_feed_cursor(tx: &TenantTx, consumer: &str) -> Result<Option<i64>, ProjectError> {
    Ok(tx
        .query_opt(
            "SELECT position FROM project.access_feed_cursors
              WHERE consumer = $1
                FOR UPDATE SKIP LOCKED",
            &[&consumer],
        )
        .await?
        .map(|row| row.get(0)))
}

pub async fn set_feed_cursor(
    tx: &TenantTx,
    consumer: &str,
    position: i64,
) -> Result<(), ProjectError> {
    tx.execute(
        "UPDATE project.access_feed_cursors SET position = $2 WHERE consumer = $1",
        &[&consumer, &position],
    )
    .await?;
    Ok(())
}

/// A member's role now (none when they are not a member) and the change
/// sequence that state reflects, from one snapshot. Runs in the feed's
/// unscoped transaction: it names the user, so the `own_memberships`
/// policy shows exactly their row.
pub async fn member_role_now(
    tx: &TenantTx,
    project: Uuid,
    user: Uuid,
) -> Result<(Option<Role>, i64), ProjectError> {
    tx.execute(
        "SELECT set_config('app.user_id', $1, true)",
        &[&user.to_string()],
    )
    .await?;
    let row = tx
        .query_one(
            "SELECT (SELECT m.role FROM project.memberships m
                      WHERE m.project_id = $1 AND m.user_id = $2) AS role,
                    c.last_seq
               FROM project.access_change_counter c",
            &[&project, &user],
        )
        .await?;
    let role = match row
        .try_get::<_, Option<String>>("role")
        .map_err(|error| ProjectError::CorruptRow(error.to_string()))?
    {
        Some(text) => Some(
            text.parse()
                .map_err(|_| ProjectError::CorruptRow(format!("role = `{text}`")))?,
        ),
        None => None,
    };
    Ok((role, row.get("last_seq")))
}
