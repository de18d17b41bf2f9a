//! `failure.label_feedback`: the log of labels members set or removed.

use tenant_core::{DbError, TenantTx};
use tokio_postgres::Row;
use uuid::Uuid;

use crate::domain::FeedbackEntry;
use crate::domain::classification::{Label, LabelSource};

/// What a member did to one label.
#[derive(Debug, Clone, Copy)]
pub struct Feedback {
    pub group_id: Option<Uuid>,
    pub failure_id: Option<Uuid>,
    pub actor_id: Uuid,
    /// `set` or `removed`.
    pub action: &'static str,
    pub old_label: Option<Label>,
    pub old_source: Option<LabelSource>,
    pub new_label: Label,
    pub new_source: Option<LabelSource>,
}

#[tracing::instrument(skip_all, fields(project_id = %project_id), err(level = "warn"))]
pub async fn record_feedback(
    tx: &TenantTx,
    project_id: Uuid,
    feedback: &Feedback,
) -> Result<(), DbError> {
    tx.execute(
        "INSERT INTO failure.label_feedback
                (project_id, id, group_id, failure_id, actor_id, action,
                 old_label, old_source, new_label, new_source)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        &[
            &project_id,
            &Uuid::now_v7(),
            &feedback.group_id,
            &feedback.failure_id,
            &feedback.actor_id,
            &feedback.action,
            &feedback.old_label.map(Label::as_str),
            &feedback.old_source.map(LabelSource::as_str),
            &feedback.new_label.as_str(),
            &feedback.new_source.map(LabelSource::as_str),
        ],
    )
    .await?;
    Ok(())
}

fn entry(row: &Row) -> Result<FeedbackEntry, tokio_postgres::Error> {
    Ok(FeedbackEntry {
        id: row.try_get("id")?,
        group_id: row.try_get("group_id")?,
        failure_id: row.try_get("failure_id")?,
        actor_id: row.try_get("actor_id")?,
        action: row.try_get("action")?,
        old_label: row.try_get("old_label")?,
        old_source: row.try_get("old_source")?,
        new_label: row.try_get("new_label")?,
        new_source: row.try_get("new_source")?,
        created_at: row.try_get("created_at")?,
    })
}

/// A group's feedback, newest first.
#[tracing::instrument(skip_all, fields(project_id = %project_id, group_id = %group_id), err(level = "warn"))]
pub async fn group_feedback(
    tx: &TenantTx,
    project_id: Uuid,
    group_id: Uuid,
    limit: i64,
) -> Result<Vec<FeedbackEntry>, DbError> {
    let rows = tx
        .query(
            "SELECT id, group_id, failure_id, actor_id, action, old_label, old_source,
                    new_label, new_source, created_at
               FROM failure.label_feedback
              WHERE project_id = $1 AND group_id = $2
              ORDER BY created_at DESC, id DESC
              LIMIT $3",
            &[&project_id, &group_id, &limit],
        )
        .await?;
    Ok(rows.iter().map(entry).collect::<Result<_, _>>()?)
}
