//! `failure.failure_groups`: written by uploads (inserted with their
//! classification, their figures refreshed at the end of the upload),
//! relabelled by members and by learning, and read by the v2 API
//! ([`views`]).

pub mod views;

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use tenant_core::{DbError, TenantTx};
use tokio_postgres::Row;
use uuid::Uuid;

use crate::domain::classification::{
    Classification, Explanation, GroupClassification, LabelSource, LabelledGroup,
};
use crate::domain::signature::fingerprint::Signature;
use crate::domain::{BatchGroup, SimilarityCandidate};

/// A batch's classifications as `unnest` arrays: the label as it stands
/// (`effective`) and the group's own (`own_classification`).
struct ClassificationColumns<'a> {
    labels: Vec<&'a str>,
    confidences: Vec<f64>,
    sources: Vec<Option<&'a str>>,
    explanations: Vec<serde_json::Value>,
    owns: Vec<serde_json::Value>,
}

impl<'a> ClassificationColumns<'a> {
    fn of(classes: &'a [GroupClassification]) -> Self {
        Self {
            labels: classes.iter().map(|c| c.effective.label.as_str()).collect(),
            confidences: classes.iter().map(|c| c.effective.confidence).collect(),
            sources: classes
                .iter()
                .map(|c| c.effective.source.map(|s| s.as_str()))
                .collect(),
            explanations: classes
                .iter()
                .map(|c| c.effective.explanation_json())
                .collect(),
            owns: classes
                .iter()
                .map(|c| serde_json::to_value(&c.own).unwrap_or(serde_json::Value::Null))
                .collect(),
        }
    }
}

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
    classes: &[GroupClassification],
) -> Result<Vec<Uuid>, DbError> {
    if groups.is_empty() {
        return Ok(Vec::new());
    }
    let ClassificationColumns {
        labels,
        confidences,
        sources,
        explanations,
        owns,
    } = ClassificationColumns::of(classes);
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
                 template, message, stack_trace, first_seen_at, last_seen_at,
                 label, confidence, label_source, explanation, own_classification)
         SELECT $1, g.id, g.version, g.hash, g.exception_type,
                ARRAY(SELECT jsonb_array_elements_text(g.frames::jsonb)),
                g.template, g.message, g.stack_trace, $2, $2,
                g.label, g.confidence, g.source, g.explanation, g.own
           FROM unnest($3::uuid[], $4::int[], $5::text[], $6::text[], $7::text[],
                       $8::text[], $9::text[], $10::text[], $11::text[], $12::float8[],
                       $13::text[], $14::jsonb[], $15::jsonb[])
                AS g(id, version, hash, exception_type, frames, template, message, stack_trace,
                     label, confidence, source, explanation, own)
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
                &labels,
                &confidences,
                &sources,
                &explanations,
                &owns,
            ],
        )
        .await?;
    inserted
        .iter()
        .map(|row| row.try_get("id"))
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

/// Recomputes the figures of `group_ids` (occurrences, affected tests,
/// last seen, last build and failure) from their failures, at the end of
/// an upload that added to them or of a regroup batch that moved failures
/// in or out (a group left without failures keeps its last seen, build
/// and failure, with no occurrences). The groups are locked first, in id order,
/// and the figures computed by a second statement: under read committed it
/// sees every upload that refreshed them before, so the last to commit
/// leaves the right figures. Uploads wait for each other only here, for
/// the time between this and their commit. The lock is `FOR NO KEY
/// UPDATE`, which the key-share locks of uploads' new failures (their
/// reference to the group) do not conflict with.
#[tracing::instrument(
    skip_all,
    fields(project_id = %project_id, groups = group_ids.len()),
    err(level = "warn")
)]
pub async fn refresh_group_figures(
    tx: &TenantTx,
    project_id: Uuid,
    group_ids: &[Uuid],
) -> Result<(), DbError> {
    if group_ids.is_empty() {
        return Ok(());
    }
    tx.execute(
        "SELECT 1 FROM failure.failure_groups
          WHERE project_id = $1 AND id = ANY($2::uuid[])
          ORDER BY id FOR NO KEY UPDATE",
        &[&project_id, &group_ids],
    )
    .await?;
    tx.execute(
        "UPDATE failure.failure_groups g
            SET occurrences = s.occurrences, affected_tests = s.affected_tests,
                last_seen_at = greatest(g.last_seen_at, s.created_at),
                last_build_id = coalesce(s.build_id, g.last_build_id),
                last_failure_id = coalesce(s.failure_id, g.last_failure_id)
           FROM (SELECT u.id, c.occurrences, c.affected_tests, l.created_at, l.build_id,
                        l.id AS failure_id
                   FROM unnest($2::uuid[]) AS u(id)
                  CROSS JOIN LATERAL (
                        SELECT count(*) AS occurrences, count(DISTINCT f.test_id) AS affected_tests
                          FROM failure.failures f
                         WHERE f.project_id = $1 AND f.group_id = u.id) c
                   LEFT JOIN LATERAL (
                        SELECT f.created_at, f.build_id, f.id
                          FROM failure.failures f
                         WHERE f.project_id = $1 AND f.group_id = u.id
                         ORDER BY f.created_at DESC, f.id DESC
                         LIMIT 1) l ON true) s
          WHERE g.project_id = $1 AND g.id = s.id",
        &[&project_id, &group_ids],
    )
    .await?;
    Ok(())
}

/// A group's signature, its label as it stands and its own.
#[derive(Debug, Clone)]
pub struct StoredGroup {
    pub id: Uuid,
    pub signature: Signature,
    pub current: Classification,
    pub own: Classification,
}

const STORED_GROUP_COLUMNS: &str = "id, grouping_version, signature_hash, exception_type, frames, \
     template, label, confidence, label_source, explanation, own_classification";

fn stored_group(row: &Row) -> Result<StoredGroup, tokio_postgres::Error> {
    let version: i32 = row.try_get("grouping_version")?;
    let explanation: serde_json::Value = row.try_get("explanation")?;
    let current = Classification {
        label: row.try_get("label")?,
        confidence: row.try_get("confidence")?,
        source: row.try_get("label_source")?,
        explanation: serde_json::from_value(explanation).unwrap_or(Explanation::Nothing),
    };
    let own: Option<serde_json::Value> = row.try_get("own_classification")?;
    let own = own
        .and_then(|own| serde_json::from_value(own).ok())
        .unwrap_or_else(|| match current.source {
            Some(LabelSource::Rule | LabelSource::Flaky) => current.clone(),
            _ => Classification::nothing(),
        });
    Ok(StoredGroup {
        id: row.try_get("id")?,
        signature: Signature {
            version: u32::try_from(version).unwrap_or_default(),
            exception_type: row.try_get("exception_type")?,
            frames: row.try_get("frames")?,
            message: row.try_get("template")?,
            hash: row.try_get("signature_hash")?,
        },
        current,
        own,
    })
}

/// The project's user-labelled groups, for learned labels: loaded once
/// per upload or label change.
#[tracing::instrument(skip_all, fields(project_id = %project_id), err(level = "warn"))]
pub async fn user_labelled_groups(
    tx: &TenantTx,
    project_id: Uuid,
) -> Result<Vec<LabelledGroup>, DbError> {
    let rows = tx
        .query(
            &format!(
                "SELECT {STORED_GROUP_COLUMNS} FROM failure.failure_groups
                  WHERE project_id = $1 AND label_source = 'user'"
            ),
            &[&project_id],
        )
        .await?;
    let groups = rows.iter().map(|row| {
        let group = stored_group(row)?;
        Ok(LabelledGroup {
            id: group.id,
            label: group.current.label,
            signature: group.signature,
            classification: group.current,
        })
    });
    Ok(groups.collect::<Result<_, tokio_postgres::Error>>()?)
}

/// One group as stored, not locked.
#[tracing::instrument(skip_all, fields(project_id = %project_id, group_id = %group_id), err(level = "warn"))]
pub async fn get_stored_group(
    tx: &TenantTx,
    project_id: Uuid,
    group_id: Uuid,
) -> Result<Option<StoredGroup>, DbError> {
    let row = tx
        .query_opt(
            &format!(
                "SELECT {STORED_GROUP_COLUMNS} FROM failure.failure_groups
                  WHERE project_id = $1 AND id = $2"
            ),
            &[&project_id, &group_id],
        )
        .await?;
    Ok(row.as_ref().map(stored_group).transpose()?)
}

/// Locks, in id order (the order uploads lock groups in), the group
/// `group_id` and the groups a label on it may relabel: those of its
/// exception type (groups of another type are never similar) without a
/// user label, the `limit` most recently seen.
#[tracing::instrument(skip_all, fields(project_id = %project_id, group_id = %group_id), err(level = "warn"))]
pub async fn lock_group_and_learners(
    tx: &TenantTx,
    project_id: Uuid,
    group_id: Uuid,
    exception_type: Option<&str>,
    limit: i64,
) -> Result<Vec<StoredGroup>, DbError> {
    let rows = tx
        .query(
            &format!(
                "SELECT {STORED_GROUP_COLUMNS} FROM failure.failure_groups
                  WHERE project_id = $1
                    AND (id = $2
                         OR id IN (SELECT id FROM failure.failure_groups
                                    WHERE project_id = $1
                                      AND exception_type IS NOT DISTINCT FROM $3
                                      AND label_source IS DISTINCT FROM 'user'
                                    ORDER BY last_seen_at DESC, id DESC
                                    LIMIT $4))
                  ORDER BY id FOR NO KEY UPDATE"
            ),
            &[&project_id, &group_id, &exception_type, &limit],
        )
        .await?;
    Ok(rows.iter().map(stored_group).collect::<Result<_, _>>()?)
}

/// Sets the label as it stands of each group, in one statement.
#[tracing::instrument(
    skip_all,
    fields(project_id = %project_id, groups = updates.len()),
    err(level = "warn")
)]
pub async fn set_group_classifications(
    tx: &TenantTx,
    project_id: Uuid,
    updates: &[(Uuid, Classification)],
) -> Result<(), DbError> {
    if updates.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = updates.iter().map(|(id, _)| *id).collect();
    let labels: Vec<&str> = updates.iter().map(|(_, c)| c.label.as_str()).collect();
    let confidences: Vec<f64> = updates.iter().map(|(_, c)| c.confidence).collect();
    let sources: Vec<Option<&str>> = updates
        .iter()
        .map(|(_, c)| c.source.map(|s| s.as_str()))
        .collect();
    let explanations: Vec<serde_json::Value> =
        updates.iter().map(|(_, c)| c.explanation_json()).collect();
    tx.execute(
        "UPDATE failure.failure_groups g
            SET label = u.label, confidence = u.confidence, label_source = u.source,
                explanation = u.explanation
           FROM unnest($2::uuid[], $3::text[], $4::float8[], $5::text[], $6::jsonb[])
                AS u(id, label, confidence, source, explanation)
          WHERE g.project_id = $1 AND g.id = u.id",
        &[
            &project_id,
            &ids,
            &labels,
            &confidences,
            &sources,
            &explanations,
        ],
    )
    .await?;
    Ok(())
}

/// Re-analysis: sets the label of each of `groups` to its classification
/// under the project's rules and labels as they are now, except where a
/// member labelled the group or flaky evidence decided it (neither is
/// known again outside an upload). One statement; the caller holds the
/// groups' locks (a regroup batch locks them refreshing their figures).
#[tracing::instrument(
    skip_all,
    fields(project_id = %project_id, groups = groups.len()),
    err(level = "warn")
)]
pub async fn reanalyse_groups(
    tx: &TenantTx,
    project_id: Uuid,
    groups: &[BatchGroup<'_>],
    classes: &[GroupClassification],
) -> Result<u64, DbError> {
    if groups.is_empty() {
        return Ok(0);
    }
    let ids: Vec<Uuid> = groups.iter().map(|g| g.id).collect();
    let ClassificationColumns {
        labels,
        confidences,
        sources,
        explanations,
        owns,
    } = ClassificationColumns::of(classes);
    let changed = tx
        .execute(
            "UPDATE failure.failure_groups g
                SET label = u.label, confidence = u.confidence, label_source = u.source,
                    explanation = u.explanation, own_classification = u.own
               FROM unnest($2::uuid[], $3::text[], $4::float8[], $5::text[], $6::jsonb[],
                           $7::jsonb[])
                    AS u(id, label, confidence, source, explanation, own)
              WHERE g.project_id = $1 AND g.id = u.id
                AND (g.label_source IS NULL OR g.label_source IN ('rule', 'learned'))
                AND (g.label, g.confidence, g.label_source, g.explanation)
                    IS DISTINCT FROM (u.label, u.confidence, u.source, u.explanation)",
            &[
                &project_id,
                &ids,
                &labels,
                &confidences,
                &sources,
                &explanations,
                &owns,
            ],
        )
        .await?;
    Ok(changed)
}
