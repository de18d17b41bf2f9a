//! The access change feed (`project.access_changes`): what changed since a
//! poller last asked, and where each relay of it stands
//! (`project.access_feed_cursors`). Triggers write it; nothing here does.

use tenant_core::{Role, TenantTx};
use uuid::Uuid;

use super::{column, optional_role_column};
use crate::error::ProjectError;

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
/// (the `access_feed_*` policies). Only the gateway's poll and the relay
/// do this.
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn open_feed(tx: &TenantTx) -> Result<(), ProjectError> {
    tx.execute("SELECT set_config('app.access_feed', 'read', true)", &[])
        .await?;
    Ok(())
}

/// Up to `limit` changes after `after`, and the counter, in one statement
/// so both come from the same snapshot.
#[tracing::instrument(skip_all, fields(after = after, limit = limit), err(level = "warn"))]
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
    let first = rows
        .first()
        .ok_or_else(|| ProjectError::CorruptRow("the access change counter is missing".into()))?;
    let latest: i64 = column(first, "last_seq")?;
    let pruned_through: i64 = column(first, "pruned_through")?;
    let mut changes = Vec::with_capacity(rows.len());
    for row in &rows {
        let Some(seq) = column::<Option<i64>>(row, "seq")? else {
            continue;
        };
        changes.push(ChangeRow {
            seq,
            project_id: column(row, "project_id")?,
            user_id: column(row, "user_id")?,
            kind: column(row, "kind")?,
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
#[tracing::instrument(skip_all, fields(keep = keep), err(level = "warn"))]
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
    row.map(|row| column(&row, "pruned_through")).transpose()
}

/// Where the feed consumer `consumer` stands, locked until the transaction
/// ends; `None` when another replica is relaying right now (or the
/// consumer is unknown).
#[tracing::instrument(skip_all, fields(consumer = consumer), err(level = "warn"))]
pub async fn lock_feed_cursor(tx: &TenantTx, consumer: &str) -> Result<Option<i64>, ProjectError> {
    let row = tx
        .query_opt(
            "SELECT position FROM project.access_feed_cursors
              WHERE consumer = $1
                FOR UPDATE SKIP LOCKED",
            &[&consumer],
        )
        .await?;
    row.map(|row| column(&row, "position")).transpose()
}

#[tracing::instrument(skip_all, fields(consumer = consumer, position = position), err(level = "warn"))]
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
#[tracing::instrument(skip_all, fields(project_id = %project, user_id = %user), err(level = "warn"))]
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
    Ok((
        optional_role_column(&row, "role")?,
        column(&row, "last_seq")?,
    ))
}
