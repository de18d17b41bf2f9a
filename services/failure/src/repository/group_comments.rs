//! `failure.group_comments`: what members wrote about a group.

use chrono::{DateTime, Utc};
use tenant_core::{DbError, TenantTx};
use uuid::Uuid;

use crate::domain::{Comment, CommentBody};

/// Stores a comment by `author` on a group that exists.
#[tracing::instrument(skip_all, fields(project_id = %project_id, group_id = %group_id), err(level = "warn"))]
pub async fn insert_comment(
    tx: &TenantTx,
    project_id: Uuid,
    group_id: Uuid,
    author: Uuid,
    body: &CommentBody,
    now: DateTime<Utc>,
) -> Result<Comment, DbError> {
    let id = Uuid::now_v7();
    tx.execute(
        "INSERT INTO failure.group_comments (project_id, id, group_id, author_id, body, created_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
        &[&project_id, &id, &group_id, &author, &body.as_str(), &now],
    )
    .await?;
    Ok(Comment {
        id,
        group_id,
        author_id: author,
        body: body.as_str().to_owned(),
        created_at: now,
    })
}

/// A group's comments, newest first, after the keyset position `after`
/// (`created_at`, `id`), at most `limit`.
#[tracing::instrument(skip_all, fields(project_id = %project_id, group_id = %group_id), err(level = "warn"))]
pub async fn list_comments(
    tx: &TenantTx,
    project_id: Uuid,
    group_id: Uuid,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<Comment>, DbError> {
    let (after_at, after_id) = after.unzip();
    let rows = tx
        .query(
            "SELECT id, group_id, author_id, body, created_at
               FROM failure.group_comments
              WHERE project_id = $1 AND group_id = $2
                AND ($3::timestamptz IS NULL OR (created_at, id) < ($3, $4))
              ORDER BY created_at DESC, id DESC
              LIMIT $5",
            &[&project_id, &group_id, &after_at, &after_id, &limit],
        )
        .await?;
    rows.iter()
        .map(|row| {
            Ok(Comment {
                id: row.try_get("id")?,
                group_id: row.try_get("group_id")?,
                author_id: row.try_get("author_id")?,
                body: row.try_get("body")?,
                created_at: row.try_get("created_at")?,
            })
        })
        .collect::<Result<_, tokio_postgres::Error>>()
        .map_err(DbError::from)
}

/// One comment on a group.
#[tracing::instrument(skip_all, fields(project_id = %project_id, comment_id = %comment_id), err(level = "warn"))]
pub async fn get_comment(
    tx: &TenantTx,
    project_id: Uuid,
    group_id: Uuid,
    comment_id: Uuid,
) -> Result<Option<Comment>, DbError> {
    let row = tx
        .query_opt(
            "SELECT id, group_id, author_id, body, created_at
               FROM failure.group_comments
              WHERE project_id = $1 AND id = $2 AND group_id = $3",
            &[&project_id, &comment_id, &group_id],
        )
        .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    Ok(Some(Comment {
        id: row.try_get("id")?,
        group_id: row.try_get("group_id")?,
        author_id: row.try_get("author_id")?,
        body: row.try_get("body")?,
        created_at: row.try_get("created_at")?,
    }))
}
