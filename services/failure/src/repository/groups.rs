//! `failure.failure_groups`: written by uploads (insert only), and the
//! figures derived from a group's failures.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use tenant_core::{DbError, TenantTx};
use uuid::Uuid;

use crate::domain::{BatchGroup, GroupStats, SimilarityCandidate};

/// Inserts a batch's groups that do not exist yet, in one statement.
/// Each group's id is derived from its signature, so nothing is read
/// back, and an existing group is neither updated nor locked: concurrent
/// uploads sharing a signature do not wait for each other. Only a
/// signature new to both makes the second wait for the first's commit
/// (the unique key's insertion), once: afterwards the group exists.
/// `groups` is one entry per hash, ordered by hash. Returns the ids of the
/// groups this statement inserted (the ones new to the project), which
/// become `group.created` events.
#[tracing::instrument(
    skip_all,
    fields(project_id = %project_id, groups = groups.len()),
    err(level = "warn")
)]
pub async fn insert_groups(
    tx: &TenantTx,
    project_id: Uuid,
    now: DateTime<Utc>,
    groups: &[BatchGroup<'_>],
) -> Result<Vec<Uuid>, DbError> {
    if groups.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<Uuid> = groups.iter().map(|g| g.id).collect();
    let versions: Vec<i32> = groups
        .iter()
        .map(|g| i32::try_from(g.signature.version).unwrap_or(i32::MAX))
        .collect();
    let hashes: Vec<&str> = groups.iter().map(|g| g.signature.hash.as_str()).collect();
    let types: Vec<Option<&str>> = groups
        .iter()
        .map(|g| g.signature.exception_type.as_deref())
        .collect();
    // A text[] per group does not fit in unnest's one-dimensional arrays:
    // each group's frames travel as a JSON array.
    let frames: Vec<String> = groups
        .iter()
        .map(|g| serde_json::Value::from(g.signature.frames.clone()).to_string())
        .collect();
    let templates: Vec<Option<&str>> = groups
        .iter()
        .map(|g| g.signature.message.as_deref())
        .collect();
    let messages: Vec<Option<&str>> = groups.iter().map(|g| g.message).collect();
    let traces: Vec<Option<&str>> = groups.iter().map(|g| g.stack_trace).collect();
    let inserted = tx
        .query(
            "INSERT INTO failure.failure_groups
                (project_id, id, grouping_version, signature_hash, exception_type, frames,
                 template, message, stack_trace, first_seen_at)
         SELECT $1, g.id, g.version, g.hash, g.exception_type,
                ARRAY(SELECT jsonb_array_elements_text(g.frames::jsonb)),
                g.template, g.message, g.stack_trace, $2
           FROM unnest($3::uuid[], $4::int[], $5::text[], $6::text[], $7::text[],
                       $8::text[], $9::text[], $10::text[])
                AS g(id, version, hash, exception_type, frames, template, message, stack_trace)
          ORDER BY g.hash
         ON CONFLICT ON CONSTRAINT failure_groups_signature_key DO NOTHING
         RETURNING id",
            &[
                &project_id,
                &now,
                &ids,
                &versions,
                &hashes,
                &types,
                &frames,
                &templates,
                &messages,
                &traces,
            ],
        )
        .await?;
    inserted
        .iter()
        .map(|row| row.try_get("id"))
        .collect::<Result<_, tokio_postgres::Error>>()
        .map_err(DbError::from)
}

/// Occurrences, last seen and last build of each of `group_ids` that has
/// failures, in one statement: each group's figures come from its
/// failures through the index on `(project_id, group_id, created_at DESC,
/// id DESC)`. A group without failures is left out.
#[tracing::instrument(
    skip_all,
    fields(project_id = %project_id, groups = group_ids.len()),
    err(level = "warn")
)]
pub async fn group_stats(
    tx: &TenantTx,
    project_id: Uuid,
    group_ids: &[Uuid],
) -> Result<Vec<GroupStats>, DbError> {
    let rows = tx
        .query(
            "SELECT g.id, s.occurrences, l.created_at, l.build_id
               FROM unnest($2::uuid[]) AS g(id)
              CROSS JOIN LATERAL (
                    SELECT count(*) AS occurrences
                      FROM failure.failures f
                     WHERE f.project_id = $1 AND f.group_id = g.id
                   ) s
              CROSS JOIN LATERAL (
                    SELECT f.created_at, f.build_id
                      FROM failure.failures f
                     WHERE f.project_id = $1 AND f.group_id = g.id
                     ORDER BY f.created_at DESC, f.id DESC
                     LIMIT 1
                   ) l",
            &[&project_id, &group_ids],
        )
        .await?;
    rows.iter()
        .map(|row| {
            Ok(GroupStats {
                group_id: row.try_get("id")?,
                occurrences: row.try_get("occurrences")?,
                last_seen_at: row.try_get("created_at")?,
                last_build_id: row.try_get("build_id")?,
            })
        })
        .collect::<Result<_, tokio_postgres::Error>>()
        .map_err(DbError::from)
}

/// Which of `group_ids` exist, in one statement.
#[tracing::instrument(
    skip_all,
    fields(project_id = %project_id, groups = group_ids.len()),
    err(level = "warn")
)]
pub async fn existing_group_ids(
    tx: &TenantTx,
    project_id: Uuid,
    group_ids: &[Uuid],
) -> Result<HashSet<Uuid>, DbError> {
    if group_ids.is_empty() {
        return Ok(HashSet::new());
    }
    let rows = tx
        .query(
            "SELECT id FROM failure.failure_groups WHERE project_id = $1 AND id = ANY($2)",
            &[&project_id, &group_ids],
        )
        .await?;
    rows.iter()
        .map(|row| row.try_get("id"))
        .collect::<Result<_, tokio_postgres::Error>>()
        .map_err(DbError::from)
}

/// The `limit` most recently first seen groups of `grouping_version`
/// known by their message (no frames), for the similarity merge: one
/// statement, through the groups' `(project_id, first_seen_at DESC, id)`
/// index.
#[tracing::instrument(skip_all, fields(project_id = %project_id), err(level = "warn"))]
pub async fn similarity_candidates(
    tx: &TenantTx,
    project_id: Uuid,
    grouping_version: u32,
    limit: usize,
) -> Result<Vec<SimilarityCandidate>, DbError> {
    let version = i32::try_from(grouping_version).unwrap_or(i32::MAX);
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = tx
        .query(
            "SELECT id, exception_type, template
               FROM failure.failure_groups
              WHERE project_id = $1 AND grouping_version = $2
                AND template IS NOT NULL AND cardinality(frames) = 0
              ORDER BY first_seen_at DESC, id
              LIMIT $3",
            &[&project_id, &version, &limit],
        )
        .await?;
    rows.iter()
        .map(|row| {
            Ok(SimilarityCandidate {
                id: row.try_get("id")?,
                exception_type: row.try_get("exception_type")?,
                template: row.try_get("template")?,
            })
        })
        .collect::<Result<_, tokio_postgres::Error>>()
        .map_err(DbError::from)
}
