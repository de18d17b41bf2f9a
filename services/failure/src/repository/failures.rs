//! `failure.failures` as read: the failures list and one failure, each
//! with its build and test.

use chrono::{DateTime, Utc};
use tenant_core::{DbError, TenantTx};
use tokio_postgres::Row;
use uuid::Uuid;

use super::build_ref;
use crate::domain::classification::{Classification, Label, LabelSource};
use crate::domain::{FailureDetails, FailureFilter, FailureSummary, TestIdentity};

macro_rules! failure_select {
    () => {
        "SELECT f.id, f.kind, f.error_type, left(f.message, 1000) AS message, f.created_at,
                f.group_id, f.attempt, f.label, f.confidence, f.label_source,
                b.id AS build_id, b.job_name, b.external_id, b.number, b.branch, b.commit_sha,
                t.id AS test_id, t.suite, t.classname, t.name, t.file"
    };
}

pub(super) const FAILURE_SELECT: &str = failure_select!();

/// The failures list, newest first with build and test, in one statement:
/// `$1` project, `$2`/`$3` since/until, `$4` build, `$5` branch, `$6` job,
/// `$7` test name ILIKE pattern (names of the tests that failed, trigram
/// index), `$8` error type, `$9`/`$10` the cursor
/// (created_at, id), `$11` limit. Public so the benchmark's RLS figure
/// times exactly what the service runs.
pub const FAILURES_LIST_SQL: &str = concat!(
    failure_select!(),
    "
   FROM failure.failures f
   JOIN failure.builds b ON b.project_id = f.project_id AND b.id = f.build_id
   JOIN failure.tests t ON t.project_id = f.project_id AND t.id = f.test_id
  WHERE f.project_id = $1
    AND ($2::timestamptz IS NULL OR f.created_at >= $2)
    AND ($3::timestamptz IS NULL OR f.created_at < $3)
    AND ($4::uuid IS NULL OR f.build_id = $4)
    AND ($5::text IS NULL OR b.branch = $5)
    AND ($6::text IS NULL OR b.job_name = $6)
    AND ($7::text IS NULL OR f.test_id IN (SELECT n.test_id FROM failure.failed_test_names n
                                            WHERE n.project_id = $1 AND n.name ILIKE $7))
    AND ($8::text IS NULL OR f.error_type = $8)
    AND ($9::timestamptz IS NULL OR (f.created_at, f.id) < ($9, $10))
  ORDER BY f.created_at DESC, f.id DESC
  LIMIT $11"
);

pub(super) fn failure_summary(row: &Row) -> Result<FailureSummary, tokio_postgres::Error> {
    Ok(FailureSummary {
        id: row.try_get("id")?,
        kind: row.try_get("kind")?,
        error_type: row.try_get("error_type")?,
        message: row.try_get("message")?,
        created_at: row.try_get("created_at")?,
        group_id: row.try_get("group_id")?,
        label: row.try_get("label")?,
        confidence: row.try_get("confidence")?,
        label_source: row.try_get("label_source")?,
        attempt: row.try_get("attempt")?,
        build: build_ref(row)?,
        test: TestIdentity {
            id: row.try_get("test_id")?,
            suite: row.try_get("suite")?,
            classname: row.try_get("classname")?,
            name: row.try_get("name")?,
            file: row.try_get("file")?,
        },
    })
}

/// Failures newest first with their build and test, in one statement.
#[tracing::instrument(skip_all, fields(project_id = %project_id), err(level = "warn"))]
pub async fn list_failures(
    tx: &TenantTx,
    project_id: Uuid,
    filter: &FailureFilter,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<FailureSummary>, DbError> {
    let (after_at, after_id) = after.unzip();
    let test_pattern = filter.test.as_deref().map(like_pattern);
    let rows = tx
        .query(
            FAILURES_LIST_SQL,
            &[
                &project_id,
                &filter.since,
                &filter.until,
                &filter.build,
                &filter.branch,
                &filter.job,
                &test_pattern,
                &filter.error_type,
                &after_at,
                &after_id,
                &limit,
            ],
        )
        .await?;
    Ok(rows.iter().map(failure_summary).collect::<Result<_, _>>()?)
}

/// `%text%` for ILIKE, with the wildcards in `text` taken literally.
pub(super) fn like_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

#[tracing::instrument(skip_all, fields(project_id = %project_id, failure_id = %failure_id), err(level = "warn"))]
pub async fn get_failure(
    tx: &TenantTx,
    project_id: Uuid,
    failure_id: Uuid,
) -> Result<Option<FailureDetails>, DbError> {
    let row = tx
        .query_opt(
            &format!(
                "{FAILURE_SELECT}, f.message AS full_message, f.stack_trace, f.system_out, f.system_err
                   FROM failure.failures f
                   JOIN failure.builds b ON b.project_id = f.project_id AND b.id = f.build_id
                   JOIN failure.tests t ON t.project_id = f.project_id AND t.id = f.test_id
                  WHERE f.project_id = $1 AND f.id = $2"
            ),
            &[&project_id, &failure_id],
        )
        .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let mut summary = failure_summary(&row)?;
    summary.message = row.try_get("full_message")?;
    Ok(Some(FailureDetails {
        summary,
        stack_trace: row.try_get("stack_trace")?,
        system_out: row.try_get("system_out")?,
        system_err: row.try_get("system_err")?,
    }))
}

/// Sets a failure's label; the label and source it had, or `None` when
/// there is no such failure.
#[tracing::instrument(skip_all, fields(project_id = %project_id, failure_id = %failure_id), err(level = "warn"))]
pub async fn set_failure_label(
    tx: &TenantTx,
    project_id: Uuid,
    failure_id: Uuid,
    classification: &Classification,
) -> Result<Option<(Label, Option<LabelSource>)>, DbError> {
    let row = tx
        .query_opt(
            "UPDATE failure.failures f
                SET label = $3, confidence = $4, label_source = $5, explanation = $6
               FROM (SELECT id, label, label_source FROM failure.failures
                      WHERE project_id = $1 AND id = $2 FOR UPDATE) old
              WHERE f.project_id = $1 AND f.id = old.id
             RETURNING old.label, old.label_source",
            &[
                &project_id,
                &failure_id,
                &classification.label.as_str(),
                &classification.confidence,
                &classification.source.map(LabelSource::as_str),
                &classification.explanation_json(),
            ],
        )
        .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    Ok(Some((row.try_get("label")?, row.try_get("label_source")?)))
}
