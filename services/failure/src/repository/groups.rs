//! `failure.failure_groups` as an upload writes them.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use tenant_core::{DbError, TenantTx};
use uuid::Uuid;

use crate::domain::BatchGroup;

/// Upserts a batch's groups in one statement and returns each group's id
/// by signature hash. `occurrences` counts the (build, test) pairs that
/// failed with the group's signature: a test failing again with the same
/// signature in a later upload of the same build is still one failure
/// (its row is updated), so it is not counted again; failing with another
/// signature, it counts once in that group. `failing` is the batch's
/// (hash, test id) per failure; `groups` one entry per hash, ordered by
/// hash (the lock order).
#[tracing::instrument(
    skip_all,
    fields(project_id = %project_id, build_id = %build_id, groups = groups.len()),
    err(level = "warn")
)]
pub async fn upsert_groups(
    tx: &TenantTx,
    project_id: Uuid,
    build_id: Uuid,
    now: DateTime<Utc>,
    groups: &[BatchGroup<'_>],
    failing: &[(&str, Uuid)],
) -> Result<HashMap<String, Uuid>, DbError> {
    if groups.is_empty() {
        return Ok(HashMap::new());
    }
    let ids: Vec<Uuid> = groups.iter().map(|_| Uuid::now_v7()).collect();
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
    let failing_hashes: Vec<&str> = failing.iter().map(|(hash, _)| *hash).collect();
    let failing_tests: Vec<Uuid> = failing.iter().map(|(_, test)| *test).collect();
    let rows = tx
        .query(
            "WITH new_failures AS (
                 SELECT f.hash, count(*) FILTER (WHERE NOT EXISTS (
                            SELECT 1
                              FROM failure.failures x
                              JOIN failure.failure_groups g
                                ON g.project_id = x.project_id AND g.id = x.group_id
                             WHERE x.project_id = $1 AND x.build_id = $2 AND x.test_id = f.test_id
                               AND g.signature_hash = f.hash
                        )) AS n
                   FROM unnest($4::text[], $5::uuid[]) AS f(hash, test_id)
                  GROUP BY f.hash
             )
             INSERT INTO failure.failure_groups
                    (project_id, id, grouping_version, signature_hash, exception_type, frames,
                     template, message, stack_trace, first_seen_at, last_seen_at, occurrences,
                     last_build_id)
             SELECT $1, g.id, g.version, g.hash, g.exception_type,
                    ARRAY(SELECT jsonb_array_elements_text(g.frames::jsonb)),
                    g.template, g.message, g.stack_trace, $3, $3, coalesce(n.n, 0), $2
               FROM unnest($6::uuid[], $7::int[], $8::text[], $9::text[], $10::text[],
                           $11::text[], $12::text[], $13::text[])
                    AS g(id, version, hash, exception_type, frames, template, message, stack_trace)
               LEFT JOIN new_failures n ON n.hash = g.hash
              ORDER BY g.hash
             ON CONFLICT ON CONSTRAINT failure_groups_signature_key DO UPDATE
                SET last_seen_at = greatest(failure.failure_groups.last_seen_at, excluded.last_seen_at),
                    occurrences = failure.failure_groups.occurrences + excluded.occurrences,
                    last_build_id = excluded.last_build_id
             RETURNING id, signature_hash",
            &[
                &project_id,
                &build_id,
                &now,
                &failing_hashes,
                &failing_tests,
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
    rows.iter()
        .map(|row| Ok((row.try_get("signature_hash")?, row.try_get("id")?)))
        .collect::<Result<_, tokio_postgres::Error>>()
        .map_err(DbError::from)
}
