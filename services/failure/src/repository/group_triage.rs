//! A group's triage columns on `failure.failure_groups` (status,
//! assignee, regressions) and its audit log, `failure.group_activity`.

use chrono::{DateTime, Utc};
use tenant_core::{DbError, TenantTx};
use tokio_postgres::Row;
use uuid::Uuid;

use crate::domain::{
    Activity, ActivityEntry, ActivityKind, GroupStatus, GroupTriage, TriageChange,
};

fn group_triage(row: &Row) -> Result<GroupTriage, tokio_postgres::Error> {
    Ok(GroupTriage {
        id: row.try_get("id")?,
        status: row.try_get("status")?,
        assignee_id: row.try_get("assignee_id")?,
        regressed_at: row.try_get("regressed_at")?,
        regression_count: row.try_get("regression_count")?,
    })
}

/// The group's triage state, locked until the transaction ends so a
/// change and its audit entries are one step.
#[tracing::instrument(skip_all, fields(project_id = %project_id, group_id = %group_id), err(level = "warn"))]
pub async fn lock_group_triage(
    tx: &TenantTx,
    project_id: Uuid,
    group_id: Uuid,
) -> Result<Option<GroupTriage>, DbError> {
    let row = tx
        .query_opt(
            "SELECT id, status, assignee_id, regressed_at, regression_count
               FROM failure.failure_groups
              WHERE project_id = $1 AND id = $2
                FOR UPDATE",
            &[&project_id, &group_id],
        )
        .await?;
    Ok(row.as_ref().map(group_triage).transpose()?)
}

/// Whether the group exists (for the comment routes).
#[tracing::instrument(skip_all, fields(project_id = %project_id, group_id = %group_id), err(level = "warn"))]
pub async fn group_exists(
    tx: &TenantTx,
    project_id: Uuid,
    group_id: Uuid,
) -> Result<bool, DbError> {
    let row = tx
        .query_opt(
            "SELECT 1 AS found FROM failure.failure_groups WHERE project_id = $1 AND id = $2",
            &[&project_id, &group_id],
        )
        .await?;
    Ok(row.is_some())
}

/// Applies `change` to a group locked with [`lock_group_triage`] and logs
/// `entries` by `actor`, in two statements.
#[tracing::instrument(skip_all, fields(project_id = %project_id, group_id = %group_id), err(level = "warn"))]
pub async fn update_group_triage(
    tx: &TenantTx,
    project_id: Uuid,
    group_id: Uuid,
    change: &TriageChange,
    entries: &[ActivityEntry],
    actor: Uuid,
    now: DateTime<Utc>,
) -> Result<GroupTriage, DbError> {
    let status = change.status.map(GroupStatus::as_str);
    let set_assignee = change.assignee.is_some();
    let assignee = change.assignee.flatten();
    let row = tx
        .query_one(
            "UPDATE failure.failure_groups
                SET status = coalesce($3, status),
                    assignee_id = CASE WHEN $4 THEN $5 ELSE assignee_id END
              WHERE project_id = $1 AND id = $2
          RETURNING id, status, assignee_id, regressed_at, regression_count",
            &[&project_id, &group_id, &status, &set_assignee, &assignee],
        )
        .await?;
    let updated = group_triage(&row)?;
    let groups = vec![group_id; entries.len()];
    insert_activity(tx, project_id, &groups, Some(actor), entries, now).await?;
    Ok(updated)
}

/// Logs one entry per group in `groups` (the same length as `entries`),
/// in one statement.
async fn insert_activity(
    tx: &TenantTx,
    project_id: Uuid,
    groups: &[Uuid],
    actor: Option<Uuid>,
    entries: &[ActivityEntry],
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    if entries.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = entries.iter().map(|_| Uuid::now_v7()).collect();
    let kinds: Vec<&str> = entries.iter().map(|e| e.kind.as_str()).collect();
    let old: Vec<Option<&str>> = entries.iter().map(|e| e.old_value.as_deref()).collect();
    let new: Vec<Option<&str>> = entries.iter().map(|e| e.new_value.as_deref()).collect();
    tx.execute(
        "INSERT INTO failure.group_activity
                (project_id, id, group_id, actor_id, kind, old_value, new_value, created_at)
         SELECT $1, a.id, a.group_id, $2, a.kind, a.old_value, a.new_value, $3
           FROM unnest($4::uuid[], $5::uuid[], $6::text[], $7::text[], $8::text[])
                AS a(id, group_id, kind, old_value, new_value)",
        &[&project_id, &actor, &now, &ids, &groups, &kinds, &old, &new],
    )
    .await?;
    Ok(())
}

/// Reopens the `resolved` groups among `group_ids` (an upload stored
/// failures in them): each becomes `open`, its regression count goes up
/// and `regressed_at` is `now`, and the log says so. The upload calls it
/// at its end, holding the groups' locks (taken in id order refreshing
/// their figures); the lock here is `FOR NO KEY UPDATE` like that one, so
/// it waits for no upload that only references the groups. Returns the
/// ids reopened, for the `group.regressed` event.
#[tracing::instrument(skip_all, fields(project_id = %project_id, groups = group_ids.len()), err(level = "warn"))]
pub async fn reopen_regressions(
    tx: &TenantTx,
    project_id: Uuid,
    group_ids: &[Uuid],
    now: DateTime<Utc>,
) -> Result<Vec<Uuid>, DbError> {
    if group_ids.is_empty() {
        return Ok(Vec::new());
    }
    let rows = tx
        .query(
            "WITH resolved AS (
                 SELECT g.id FROM failure.failure_groups g
                  WHERE g.project_id = $1 AND g.id = ANY($2) AND g.status = 'resolved'
                  ORDER BY g.id
                    FOR NO KEY UPDATE
             )
             UPDATE failure.failure_groups g
                SET status = 'open', regressed_at = $3, regression_count = g.regression_count + 1
               FROM resolved r
              WHERE g.project_id = $1 AND g.id = r.id
          RETURNING g.id",
            &[&project_id, &group_ids, &now],
        )
        .await?;
    let reopened = rows
        .iter()
        .map(|row| row.try_get::<_, Uuid>("id"))
        .collect::<Result<Vec<_>, _>>()?;
    let entries: Vec<ActivityEntry> = reopened
        .iter()
        .map(|_| ActivityEntry {
            kind: ActivityKind::Regressed,
            old_value: Some(GroupStatus::Resolved.as_str().to_owned()),
            new_value: Some(GroupStatus::Open.as_str().to_owned()),
        })
        .collect();
    insert_activity(tx, project_id, &reopened, None, &entries, now).await?;
    Ok(reopened)
}

/// A group's audit log, newest first: `(kind, actor, old, new, at)`.
#[tracing::instrument(skip_all, fields(project_id = %project_id, group_id = %group_id), err(level = "warn"))]
pub async fn group_activity(
    tx: &TenantTx,
    project_id: Uuid,
    group_id: Uuid,
    limit: i64,
) -> Result<Vec<Activity>, DbError> {
    let rows = tx
        .query(
            "SELECT kind, actor_id, old_value, new_value, created_at
               FROM failure.group_activity
              WHERE project_id = $1 AND group_id = $2
              ORDER BY created_at DESC, id DESC
              LIMIT $3",
            &[&project_id, &group_id, &limit],
        )
        .await?;
    rows.iter()
        .map(|row| {
            Ok(Activity {
                kind: row.try_get("kind")?,
                actor_id: row.try_get("actor_id")?,
                old_value: row.try_get("old_value")?,
                new_value: row.try_get("new_value")?,
                created_at: row.try_get("created_at")?,
            })
        })
        .collect::<Result<_, tokio_postgres::Error>>()
        .map_err(DbError::from)
}
