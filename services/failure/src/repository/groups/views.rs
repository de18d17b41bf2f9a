//! The v2 reads of `failure.failure_groups`: the groups list (one row per
//! group, its figures kept on the row; the latest sample joined by primary
//! keys) and one group in full.

use chrono::{DateTime, Utc};
use tenant_core::{DbError, TenantTx};
use tokio_postgres::Row;
use uuid::Uuid;

use super::super::build_ref;
use super::super::failures::{FAILURE_SELECT, failure_summary};
use crate::domain::classification::Explanation;
use crate::domain::{
    FailureSummary, GroupDetails, GroupFilter, GroupSummary, LatestSample, TestIdentity,
};

macro_rules! group_select {
    () => {
        "SELECT g.id, g.template, g.exception_type, g.label, g.confidence, g.label_source,
                g.status, g.assignee_id, g.occurrences, g.affected_tests, g.first_seen_at, g.last_seen_at,
                f.id AS sample_id, left(f.message, 1000) AS sample_message,
                b.id AS build_id, b.job_name, b.external_id, b.number, b.branch, b.commit_sha,
                t.id AS test_id, t.suite, t.classname, t.name, t.file
           FROM failure.failure_groups g
           LEFT JOIN failure.failures f ON f.project_id = g.project_id AND f.id = g.last_failure_id
           LEFT JOIN failure.builds b ON b.project_id = f.project_id AND b.id = f.build_id
           LEFT JOIN failure.tests t ON t.project_id = f.project_id AND t.id = f.test_id"
    };
}

/// The v2 groups list, latest seen first: `$1` project, `$2` label, `$3`
/// status, `$4` exception type, `$5`/`$6` since/until (last seen), `$7`
/// ILIKE pattern on the template or the message's first 1000
/// characters, `$8` minimum confidence,
/// `$9`/`$10` the cursor (last_seen_at, id), `$11` limit. Public so a
/// benchmark can time exactly what the service runs.
pub const GROUPS_LIST_SQL: &str = concat!(
    group_select!(),
    "
  WHERE g.project_id = $1
    AND ($2::text IS NULL OR g.label = $2)
    AND ($3::text IS NULL OR g.status = $3)
    AND ($4::text IS NULL OR g.exception_type = $4)
    AND ($5::timestamptz IS NULL OR g.last_seen_at >= $5)
    AND ($6::timestamptz IS NULL OR g.last_seen_at < $6)
    AND ($7::text IS NULL OR g.template ILIKE $7 OR left(g.message, 1000) ILIKE $7)
    AND ($8::float8 IS NULL OR g.confidence >= $8)
    AND ($9::timestamptz IS NULL OR (g.last_seen_at, g.id) < ($9, $10))
  ORDER BY g.last_seen_at DESC, g.id DESC
  LIMIT $11"
);

fn group_summary(row: &Row) -> Result<GroupSummary, tokio_postgres::Error> {
    let sample_id: Option<Uuid> = row.try_get("sample_id")?;
    let latest_sample = match sample_id {
        Some(failure_id) => Some(LatestSample {
            failure_id,
            message: row.try_get("sample_message")?,
            build: build_ref(row)?,
            test: TestIdentity {
                id: row.try_get("test_id")?,
                suite: row.try_get("suite")?,
                classname: row.try_get("classname")?,
                name: row.try_get("name")?,
                file: row.try_get("file")?,
            },
        }),
        None => None,
    };
    Ok(GroupSummary {
        id: row.try_get("id")?,
        template: row.try_get("template")?,
        exception_type: row.try_get("exception_type")?,
        label: row.try_get("label")?,
        confidence: row.try_get("confidence")?,
        label_source: row.try_get("label_source")?,
        status: row.try_get("status")?,
        assignee_id: row.try_get("assignee_id")?,
        occurrences: row.try_get("occurrences")?,
        affected_tests: row.try_get("affected_tests")?,
        first_seen_at: row.try_get("first_seen_at")?,
        last_seen_at: row.try_get("last_seen_at")?,
        latest_sample,
    })
}

/// A page of groups, in one statement.
#[tracing::instrument(skip_all, fields(project_id = %project_id), err(level = "warn"))]
pub async fn list_groups(
    tx: &TenantTx,
    project_id: Uuid,
    filter: &GroupFilter,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<GroupSummary>, DbError> {
    let (after_at, after_id) = after.unzip();
    let pattern = filter
        .q
        .as_deref()
        .map(super::super::failures::like_pattern);
    let rows = tx
        .query(
            GROUPS_LIST_SQL,
            &[
                &project_id,
                &filter.label.map(|l| l.as_str()),
                &filter.status,
                &filter.exception_type,
                &filter.since,
                &filter.until,
                &pattern,
                &filter.min_confidence,
                &after_at,
                &after_id,
                &limit,
            ],
        )
        .await?;
    Ok(rows.iter().map(group_summary).collect::<Result<_, _>>()?)
}

/// One group with its explanation and latest failures; the feedback log
/// is left empty for the caller to fill.
#[tracing::instrument(skip_all, fields(project_id = %project_id, group_id = %group_id), err(level = "warn"))]
pub async fn get_group(
    tx: &TenantTx,
    project_id: Uuid,
    group_id: Uuid,
    occurrences: i64,
) -> Result<Option<GroupDetails>, DbError> {
    let row = tx
        .query_opt(
            concat!(
                group_select!(),
                "
  WHERE g.project_id = $1 AND g.id = $2"
            ),
            &[&project_id, &group_id],
        )
        .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let summary = group_summary(&row)?;
    let detail = tx
        .query_one(
            "SELECT frames, message, stack_trace, explanation FROM failure.failure_groups
              WHERE project_id = $1 AND id = $2",
            &[&project_id, &group_id],
        )
        .await?;
    let explanation: serde_json::Value = detail.try_get("explanation")?;
    let recent = tx
        .query(
            &format!(
                "{FAILURE_SELECT}
                   FROM failure.failures f
                   JOIN failure.builds b ON b.project_id = f.project_id AND b.id = f.build_id
                   JOIN failure.tests t ON t.project_id = f.project_id AND t.id = f.test_id
                  WHERE f.project_id = $1 AND f.group_id = $2
                  ORDER BY f.created_at DESC, f.id DESC
                  LIMIT $3"
            ),
            &[&project_id, &group_id, &occurrences],
        )
        .await?;
    let recent_occurrences: Vec<FailureSummary> = recent
        .iter()
        .map(failure_summary)
        .collect::<Result<_, _>>()?;
    Ok(Some(GroupDetails {
        summary,
        frames: detail.try_get("frames")?,
        message: detail.try_get("message")?,
        stack_trace: detail.try_get("stack_trace")?,
        explanation: serde_json::from_value(explanation).unwrap_or(Explanation::Nothing),
        recent_occurrences,
        feedback: Vec::new(),
        issue_links: Vec::new(),
    }))
}
