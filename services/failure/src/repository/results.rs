//! `failure.tests`, `failure.test_results` and `failure.failures` as an
//! upload writes them, and a test's history across builds.

use std::collections::HashSet;

use chrono::{DateTime, NaiveDate, Utc};
use tenant_core::{DbError, TenantTx};
use uuid::Uuid;

use super::build_ref;
use super::groups::insert_groups;
use crate::domain::classification::UploadClassifier;
use crate::domain::events::NewGroup;
use crate::domain::{FailureRow, HistoryEntry, ResultRow, TestIdentity, batch_groups};

/// Makes sure the month partition for `at` exists.
#[tracing::instrument(skip_all, fields(date = %at.date_naive()), err(level = "warn"))]
pub async fn ensure_results_partition(tx: &TenantTx, at: DateTime<Utc>) -> Result<(), DbError> {
    let month: NaiveDate = at.date_naive();
    tx.execute(
        "SELECT failure.ensure_test_results_partition($1)",
        &[&month],
    )
    .await?;
    Ok(())
}

/// Where an upload's batches of results go, and what the upload wrote so
/// far.
#[derive(Debug)]
pub struct ResultsTarget {
    pub project_id: Uuid,
    pub build_id: Uuid,
    pub build_created_at: DateTime<Utc>,
    pub now: DateTime<Utc>,
    /// When the build had no results before the upload: the low 64 bits
    /// of each test id the upload wrote so far. A batch none of whose
    /// tests are among them cannot meet a result already stored, and is
    /// inserted without `ON CONFLICT` (its check of the key before every
    /// row costs a quarter of the statement). A collision of the low bits
    /// only sends a batch down the merging statement.
    written: Option<HashSet<u64>>,
}

impl ResultsTarget {
    /// `build_has_results`: whether the build held any result when the
    /// upload locked it.
    pub fn new(
        project_id: Uuid,
        build_id: Uuid,
        build_created_at: DateTime<Utc>,
        now: DateTime<Utc>,
        build_has_results: bool,
    ) -> Self {
        Self {
            project_id,
            build_id,
            build_created_at,
            now,
            written: (!build_has_results).then(HashSet::new),
        }
    }

    /// Whether none of `rows` can have a stored result yet; notes them as
    /// written either way.
    fn all_new(&mut self, rows: &[&ResultRow]) -> bool {
        let Some(written) = &mut self.written else {
            return false;
        };
        let key = |row: &ResultRow| row.test_id.as_u64_pair().1;
        let all_new = rows.iter().all(|row| !written.contains(&key(row)));
        written.extend(rows.iter().map(|row| key(row)));
        all_new
    }
}

macro_rules! insert_test_results {
    () => {
        "INSERT INTO failure.test_results
                (project_id, build_id, test_id, build_created_at, status, duration_ms, retry_count, created_at)
         SELECT $1, $2, r.test_id, $3, r.status, r.duration_ms, r.retries, $4
           FROM unnest($5::uuid[], $6::text[], $7::bigint[], $8::int[]) AS r(test_id, status, duration_ms, retries)"
    };
}

/// A batch of results none of which the build holds yet.
const INSERT_NEW_RESULTS: &str = insert_test_results!();

/// A batch of results merged with the build's stored ones: a test seen
/// again in a later upload of the same build (or twice in one upload).
const MERGE_RESULTS: &str = concat!(
    insert_test_results!(),
    "
         ON CONFLICT ON CONSTRAINT test_results_pkey DO UPDATE
            SET status = CASE
                    WHEN failure.test_results.status = excluded.status THEN excluded.status
                    WHEN 'skipped' IN (failure.test_results.status, excluded.status)
                        THEN CASE WHEN failure.test_results.status = 'skipped'
                                  THEN excluded.status ELSE failure.test_results.status END
                    WHEN failure.test_results.status IN ('passed', 'flaky')
                         OR excluded.status IN ('passed', 'flaky') THEN 'flaky'
                    ELSE excluded.status END,
                duration_ms = coalesce(excluded.duration_ms, failure.test_results.duration_ms),
                retry_count = least(failure.test_results.retry_count::bigint + excluded.retry_count + 1, 2147483647)::int"
);

/// Writes a batch of results (unique by test within the batch) with three
/// `INSERT ... SELECT FROM unnest(...)` statements: tests, results,
/// failures (with the names of the tests that failed), and when the batch
/// has failures a fourth before the last inserting their new groups
/// ([`insert_groups`]). Failures and new groups are classified by the
/// upload's `classifier` on the way. A test seen again in a later upload
/// of the same build, or again in the same upload, is merged: retries add up, a
/// pass meeting a failure makes it flaky, and its failure takes the latest
/// signature's group and label (unless a member labelled it). Returns the
/// groups the batch created. (The upload reopens the `resolved` groups its
/// failures went to at its end, with their figures.)
#[tracing::instrument(
    skip_all,
    fields(project_id = %target.project_id, build_id = %target.build_id, rows = rows.len()),
    err(level = "warn")
)]
pub async fn insert_results(
    tx: &TenantTx,
    target: &mut ResultsTarget,
    rows: &[ResultRow],
    classifier: &mut UploadClassifier,
) -> Result<Vec<NewGroup>, DbError> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let (project_id, build_id, now) = (target.project_id, target.build_id, target.now);
    // Tests and results are written in test id order: concurrent uploads
    // lock test rows in the same order, and the results' indexes, which
    // lead with the test after the project (and build), are filled in one
    // sweep instead of at random.
    let mut sorted: Vec<&ResultRow> = rows.iter().collect();
    sorted.sort_unstable_by_key(|r| r.test_id);
    let ids: Vec<Uuid> = sorted.iter().map(|r| r.test_id).collect();
    let suites: Vec<&str> = sorted.iter().map(|r| r.suite.as_str()).collect();
    let classnames: Vec<&str> = sorted.iter().map(|r| r.classname.as_str()).collect();
    let names: Vec<&str> = sorted.iter().map(|r| r.name.as_str()).collect();
    let files: Vec<Option<&str>> = sorted.iter().map(|r| r.file.as_deref()).collect();
    tx.execute(
        "INSERT INTO failure.tests (project_id, id, suite, classname, name, file, first_seen_at, last_seen_at)
         SELECT $1, t.id, t.suite, t.classname, t.name, t.file, $7, $7
           FROM unnest($2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[])
                AS t(id, suite, classname, name, file)
          ORDER BY t.id
         ON CONFLICT (project_id, id) DO UPDATE
            SET last_seen_at = excluded.last_seen_at
          WHERE failure.tests.last_seen_at < excluded.last_seen_at - interval '1 hour'",
        &[&project_id, &ids, &suites, &classnames, &names, &files, &now],
    )
    .await?;

    let statuses: Vec<&str> = sorted.iter().map(|r| r.status.as_str()).collect();
    let durations: Vec<Option<i64>> = sorted.iter().map(|r| r.duration_ms).collect();
    let retries: Vec<i32> = sorted.iter().map(|r| r.retries).collect();
    let statement = if target.all_new(&sorted) {
        INSERT_NEW_RESULTS
    } else {
        MERGE_RESULTS
    };
    tx.execute(
        statement,
        &[
            &project_id,
            &build_id,
            &target.build_created_at,
            &now,
            &ids,
            &statuses,
            &durations,
            &retries,
        ],
    )
    .await?;

    // The reported outcome's failure and every earlier failed attempt's:
    // one statement for all of them.
    let failing: Vec<(&ResultRow, i32, &FailureRow)> = rows
        .iter()
        .flat_map(|r| r.failures().map(move |(attempt, f)| (r, attempt, f)))
        .collect();
    if failing.is_empty() {
        return Ok(Vec::new());
    }
    let groups = batch_groups(failing.iter().map(|(_, _, f)| *f));
    let classified = classifier.classify_batch(&failing, &groups);
    let inserted: HashSet<Uuid> = insert_groups(tx, project_id, now, &groups, &classified.groups)
        .await?
        .into_iter()
        .collect();
    let new_groups = groups
        .iter()
        .filter(|group| inserted.contains(&group.id))
        .map(|group| NewGroup {
            id: group.id,
            grouping_version: group.signature.version,
            exception_type: group.signature.exception_type.clone(),
            message: group.message.map(str::to_owned),
        })
        .collect();
    let labels: Vec<&str> = classified
        .failures
        .iter()
        .map(|c| c.label.as_str())
        .collect();
    let confidences: Vec<f64> = classified.failures.iter().map(|c| c.confidence).collect();
    let sources: Vec<Option<&str>> = classified
        .failures
        .iter()
        .map(|c| c.source.map(|s| s.as_str()))
        .collect();
    let explanations: Vec<serde_json::Value> = classified
        .failures
        .iter()
        .map(|c| c.explanation_json())
        .collect();
    let group_ids: Vec<Uuid> = failing.iter().map(|(_, _, f)| f.group_id).collect();
    let failure_ids: Vec<Uuid> = failing.iter().map(|_| Uuid::now_v7()).collect();
    let test_ids: Vec<Uuid> = failing.iter().map(|(r, _, _)| r.test_id).collect();
    let attempts: Vec<i32> = failing.iter().map(|(_, attempt, _)| *attempt).collect();
    let kinds: Vec<&str> = failing.iter().map(|(_, _, f)| f.kind.as_str()).collect();
    let types: Vec<Option<&str>> = failing
        .iter()
        .map(|(_, _, f)| f.error_type.as_deref())
        .collect();
    let messages: Vec<Option<&str>> = failing
        .iter()
        .map(|(_, _, f)| f.message.as_deref())
        .collect();
    let traces: Vec<Option<&str>> = failing
        .iter()
        .map(|(_, _, f)| f.stack_trace.as_deref())
        .collect();
    let outs: Vec<Option<&str>> = failing
        .iter()
        .map(|(_, _, f)| f.system_out.as_deref())
        .collect();
    let errs: Vec<Option<&str>> = failing
        .iter()
        .map(|(_, _, f)| f.system_err.as_deref())
        .collect();
    // The failing tests' names, for the failures list's test filter (the
    // only names indexed for substring search), in the same statement.
    let failed: Vec<&ResultRow> = sorted
        .iter()
        .copied()
        .filter(|r| r.failures().next().is_some())
        .collect();
    let failed_ids: Vec<Uuid> = failed.iter().map(|r| r.test_id).collect();
    let failed_names: Vec<&str> = failed.iter().map(|r| r.name.as_str()).collect();
    tx.execute(
        "WITH names AS (
             INSERT INTO failure.failed_test_names (project_id, test_id, name)
             SELECT $1, n.test_id, n.name FROM unnest($18::uuid[], $19::text[]) AS n(test_id, name)
             ON CONFLICT ON CONSTRAINT failed_test_names_pkey DO NOTHING)
         INSERT INTO failure.failures
                (project_id, id, build_id, test_id, kind, error_type, message, stack_trace,
                 system_out, system_err, created_at, group_id, attempt,
                 label, confidence, label_source, explanation)
         SELECT $1, f.id, $2, f.test_id, f.kind, f.error_type, f.message, f.stack_trace,
                f.system_out, f.system_err, $3, f.group_id, f.attempt,
                f.label, f.confidence, f.source, f.explanation
           FROM unnest($4::uuid[], $5::uuid[], $6::text[], $7::text[], $8::text[], $9::text[],
                       $10::text[], $11::text[], $12::uuid[], $13::int[], $14::text[],
                       $15::float8[], $16::text[], $17::jsonb[])
                AS f(id, test_id, kind, error_type, message, stack_trace, system_out, system_err,
                     group_id, attempt, label, confidence, source, explanation)
         ON CONFLICT ON CONSTRAINT failures_build_test_attempt_key DO UPDATE
            SET kind = excluded.kind, error_type = excluded.error_type,
                message = excluded.message, stack_trace = excluded.stack_trace,
                system_out = excluded.system_out, system_err = excluded.system_err,
                group_id = excluded.group_id,
                label = CASE WHEN failure.failures.label_source = 'user'
                             THEN failure.failures.label ELSE excluded.label END,
                confidence = CASE WHEN failure.failures.label_source = 'user'
                                  THEN failure.failures.confidence ELSE excluded.confidence END,
                explanation = CASE WHEN failure.failures.label_source = 'user'
                                   THEN failure.failures.explanation ELSE excluded.explanation END,
                label_source = CASE WHEN failure.failures.label_source = 'user'
                                    THEN 'user' ELSE excluded.label_source END",
        &[
            &project_id,
            &build_id,
            &now,
            &failure_ids,
            &test_ids,
            &kinds,
            &types,
            &messages,
            &traces,
            &outs,
            &errs,
            &group_ids,
            &attempts,
            &labels,
            &confidences,
            &sources,
            &explanations,
            &failed_ids,
            &failed_names,
        ],
    )
    .await?;
    Ok(new_groups)
}

#[tracing::instrument(skip_all, fields(project_id = %project_id, test_id = %test_id), err(level = "warn"))]
pub async fn get_test(
    tx: &TenantTx,
    project_id: Uuid,
    test_id: Uuid,
) -> Result<Option<TestIdentity>, DbError> {
    let row = tx
        .query_opt(
            "SELECT id, suite, classname, name, file FROM failure.tests
              WHERE project_id = $1 AND id = $2",
            &[&project_id, &test_id],
        )
        .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    Ok(Some(TestIdentity {
        id: row.try_get("id")?,
        suite: row.try_get("suite")?,
        classname: row.try_get("classname")?,
        name: row.try_get("name")?,
        file: row.try_get("file")?,
    }))
}

/// The last `limit` results of one test across builds, newest first.
#[tracing::instrument(skip_all, fields(project_id = %project_id, test_id = %test_id), err(level = "warn"))]
pub async fn test_history(
    tx: &TenantTx,
    project_id: Uuid,
    test_id: Uuid,
    limit: i64,
) -> Result<Vec<HistoryEntry>, DbError> {
    let rows = tx
        .query(
            "SELECT r.status, r.duration_ms, r.retry_count, r.created_at,
                    b.id AS build_id, b.job_name, b.external_id, b.number, b.branch, b.commit_sha,
                    f.id AS failure_id
               FROM failure.test_results r
               JOIN failure.builds b ON b.project_id = r.project_id AND b.id = r.build_id
               LEFT JOIN failure.failures f
                      ON f.project_id = r.project_id AND f.build_id = r.build_id AND f.test_id = r.test_id
                     AND f.attempt = 0
              WHERE r.project_id = $1 AND r.test_id = $2
              ORDER BY r.build_created_at DESC, r.build_id DESC
              LIMIT $3",
            &[&project_id, &test_id, &limit],
        )
        .await?;
    let entries = rows.iter().map(|row| {
        Ok(HistoryEntry {
            status: row.try_get("status")?,
            duration_ms: row.try_get("duration_ms")?,
            retry_count: row.try_get("retry_count")?,
            recorded_at: row.try_get("created_at")?,
            build: build_ref(row)?,
            failure_id: row.try_get("failure_id")?,
        })
    });
    Ok(entries.collect::<Result<_, tokio_postgres::Error>>()?)
}
