//! Every SQL statement of the failure service.
//!
//! Statements run in the caller's tenant transaction (which counts them)
//! and still say `WHERE project_id = $1` for the planner.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use tenant_core::{DbError, TenantTx};
use tokio_postgres::Row;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::{BuildStatus, CaseStatus, CommitSha, ExternalId, FailureKind, JobName};
use crate::junit::Counts;

/// What a build's uploads held, recounted from its results after each
/// upload (a test uploaded twice counts once), plus the totals stated by
/// suites that list no test cases.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BuildTotals {
    /// The sum of the five outcomes below.
    pub tests: i64,
    pub passed: i64,
    /// JUnit `<failure>`: an assertion did not hold.
    pub failures: i64,
    /// JUnit `<error>`: the test could not run to its assertion.
    pub errors: i64,
    pub skipped: i64,
    /// Passed after failed attempts (counted here only).
    pub flaky: i64,
    /// The sum of the results' durations.
    pub duration_ms: i64,
}

/// A CI build of a project, with the totals of its uploads.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Build {
    pub id: Uuid,
    /// The CI job the build belongs to.
    pub job_name: String,
    /// The CI system's own id for the build, unique per job.
    pub external_id: String,
    pub number: Option<i64>,
    pub branch: Option<String>,
    /// Lowercase hexadecimal.
    pub commit_sha: Option<String>,
    /// The build's page in the CI system.
    pub url: Option<String>,
    #[schema(value_type = BuildStatus)]
    pub status: String,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub totals: BuildTotals,
}

const BUILD_COLUMNS: &str = "id, job_name, external_id, number, branch, commit_sha, url, status, \
     started_at, finished_at, created_at, updated_at, tests_total, passed, failures, errors, \
     skipped, flaky, duration_ms";

impl Build {
    fn from_row(row: &Row) -> Self {
        Self {
            id: row.get("id"),
            job_name: row.get("job_name"),
            external_id: row.get("external_id"),
            number: row.get("number"),
            branch: row.get("branch"),
            commit_sha: row.get("commit_sha"),
            url: row.get("url"),
            status: row.get("status"),
            started_at: row.get("started_at"),
            finished_at: row.get("finished_at"),
            created_at: row.get("created_at"),
            updated_at: row.get("updated_at"),
            totals: BuildTotals {
                tests: row.get("tests_total"),
                passed: row.get("passed"),
                failures: row.get("failures"),
                errors: row.get("errors"),
                skipped: row.get("skipped"),
                flaky: row.get("flaky"),
                duration_ms: row.get("duration_ms"),
            },
        }
    }
}

/// A build as CI announces it.
#[derive(Debug, Clone)]
pub struct NewBuild {
    pub job_name: JobName,
    pub external_id: ExternalId,
    pub number: Option<i64>,
    pub branch: Option<String>,
    pub commit_sha: Option<CommitSha>,
    pub url: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
}

/// Creates the build, or returns the one with the same job and external
/// id; `true` when it was created.
pub async fn create_build(
    sql: &TenantTx,
    project_id: Uuid,
    build: &NewBuild,
) -> Result<(Build, bool), DbError> {
    let inserted = sql
        .query_opt(
            &format!(
                "INSERT INTO failure.builds
                    (project_id, id, job_name, external_id, number, branch, commit_sha, url, started_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                 ON CONFLICT ON CONSTRAINT builds_external_id_key DO NOTHING
                 RETURNING {BUILD_COLUMNS}"
            ),
            &[
                &project_id,
                &Uuid::now_v7(),
                &build.job_name.as_str(),
                &build.external_id.as_str(),
                &build.number,
                &build.branch,
                &build.commit_sha.as_ref().map(CommitSha::as_str),
                &build.url,
                &build.started_at,
            ],
        )
        .await?;
    if let Some(row) = inserted {
        return Ok((Build::from_row(&row), true));
    }
    let existing = sql
        .query_one(
            &format!(
                "SELECT {BUILD_COLUMNS} FROM failure.builds
                  WHERE project_id = $1 AND job_name = $2 AND external_id = $3"
            ),
            &[
                &project_id,
                &build.job_name.as_str(),
                &build.external_id.as_str(),
            ],
        )
        .await?;
    Ok((Build::from_row(&existing), false))
}

pub async fn get_build(
    sql: &TenantTx,
    project_id: Uuid,
    build_id: Uuid,
) -> Result<Option<Build>, DbError> {
    let row = sql
        .query_opt(
            &format!(
                "SELECT {BUILD_COLUMNS} FROM failure.builds WHERE project_id = $1 AND id = $2"
            ),
            &[&project_id, &build_id],
        )
        .await?;
    Ok(row.as_ref().map(Build::from_row))
}

/// The build, locked until the transaction ends: uploads to one build run
/// one after the other, so totals and idempotency records stay exact.
pub async fn lock_build(
    sql: &TenantTx,
    project_id: Uuid,
    build_id: Uuid,
) -> Result<Option<Build>, DbError> {
    let row = sql
        .query_opt(
            &format!(
                "SELECT {BUILD_COLUMNS} FROM failure.builds
                  WHERE project_id = $1 AND id = $2 FOR UPDATE"
            ),
            &[&project_id, &build_id],
        )
        .await?;
    Ok(row.as_ref().map(Build::from_row))
}

pub async fn finish_build(
    sql: &TenantTx,
    project_id: Uuid,
    build_id: Uuid,
    status: BuildStatus,
    finished_at: Option<DateTime<Utc>>,
) -> Result<Option<Build>, DbError> {
    let row = sql
        .query_opt(
            &format!(
                "UPDATE failure.builds
                    SET status = $3,
                        finished_at = CASE WHEN $3 = 'running' THEN NULL
                                           ELSE coalesce($4, finished_at, now()) END,
                        updated_at = now()
                  WHERE project_id = $1 AND id = $2
                  RETURNING {BUILD_COLUMNS}"
            ),
            &[&project_id, &build_id, &status.as_str(), &finished_at],
        )
        .await?;
    Ok(row.as_ref().map(Build::from_row))
}

#[derive(Debug, Default, Clone)]
pub struct BuildFilter {
    pub job: Option<String>,
    pub branch: Option<String>,
    pub status: Option<BuildStatus>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

/// Builds newest first, after the cursor `(created_at, id)`.
pub async fn list_builds(
    sql: &TenantTx,
    project_id: Uuid,
    filter: &BuildFilter,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<Build>, DbError> {
    let (after_at, after_id) = after.unzip();
    let rows = sql
        .query(
            &format!(
                "SELECT {BUILD_COLUMNS} FROM failure.builds
                  WHERE project_id = $1
                    AND ($2::text IS NULL OR job_name = $2)
                    AND ($3::text IS NULL OR branch = $3)
                    AND ($4::text IS NULL OR status = $4)
                    AND ($5::timestamptz IS NULL OR created_at >= $5)
                    AND ($6::timestamptz IS NULL OR created_at < $6)
                    AND ($7::timestamptz IS NULL OR (created_at, id) < ($7, $8))
                  ORDER BY created_at DESC, id DESC
                  LIMIT $9"
            ),
            &[
                &project_id,
                &filter.job,
                &filter.branch,
                &filter.status.map(BuildStatus::as_str),
                &filter.since,
                &filter.until,
                &after_at,
                &after_id,
                &limit,
            ],
        )
        .await?;
    Ok(rows.iter().map(Build::from_row).collect())
}

/// A recorded upload made with an Idempotency-Key.
#[derive(Debug)]
pub struct RecordedUpload {
    pub request_hash: Vec<u8>,
    pub response: serde_json::Value,
}

pub async fn find_upload(
    sql: &TenantTx,
    project_id: Uuid,
    build_id: Uuid,
    key: &str,
) -> Result<Option<RecordedUpload>, DbError> {
    let row = sql
        .query_opt(
            "SELECT request_hash, response FROM failure.uploads
              WHERE project_id = $1 AND build_id = $2 AND idempotency_key = $3",
            &[&project_id, &build_id, &key],
        )
        .await?;
    Ok(row.map(|row| RecordedUpload {
        request_hash: row.get("request_hash"),
        response: row.get("response"),
    }))
}

pub async fn record_upload(
    sql: &TenantTx,
    project_id: Uuid,
    build_id: Uuid,
    key: &str,
    request_hash: &[u8],
    response: &serde_json::Value,
) -> Result<(), DbError> {
    sql.execute(
        "INSERT INTO failure.uploads (project_id, build_id, idempotency_key, request_hash, response)
         VALUES ($1, $2, $3, $4, $5)",
        &[&project_id, &build_id, &key, &request_hash, response],
    )
    .await?;
    Ok(())
}

/// Makes sure the month partition for `at` exists.
pub async fn ensure_results_partition(sql: &TenantTx, at: DateTime<Utc>) -> Result<(), DbError> {
    let month: NaiveDate = at.date_naive();
    sql.execute(
        "SELECT failure.ensure_test_results_partition($1)",
        &[&month],
    )
    .await?;
    Ok(())
}

/// One test's result, ready to be written.
#[derive(Debug, Clone)]
pub struct ResultRow {
    pub test_id: Uuid,
    pub suite: String,
    pub classname: String,
    pub name: String,
    pub file: Option<String>,
    pub status: CaseStatus,
    pub duration_ms: Option<i64>,
    pub retries: i32,
    pub failure: Option<FailureRow>,
}

#[derive(Debug, Clone)]
pub struct FailureRow {
    pub kind: &'static str,
    pub error_type: Option<String>,
    pub message: Option<String>,
    pub stack_trace: Option<String>,
    pub system_out: Option<String>,
    pub system_err: Option<String>,
}

/// Writes a batch of results (unique by test within the batch) with three
/// `INSERT ... SELECT FROM unnest(...)` statements: tests, results,
/// failures. A test seen again in a later upload of the same build is
/// merged: retries add up, and a pass meeting a failure makes it flaky.
pub async fn insert_results(
    sql: &TenantTx,
    project_id: Uuid,
    build_id: Uuid,
    build_created_at: DateTime<Utc>,
    now: DateTime<Utc>,
    rows: &[ResultRow],
) -> Result<(), DbError> {
    if rows.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = rows.iter().map(|r| r.test_id).collect();
    let suites: Vec<&str> = rows.iter().map(|r| r.suite.as_str()).collect();
    let classnames: Vec<&str> = rows.iter().map(|r| r.classname.as_str()).collect();
    let names: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
    let files: Vec<Option<&str>> = rows.iter().map(|r| r.file.as_deref()).collect();
    // Sorted by id, so concurrent uploads lock test rows in the same order.
    sql.execute(
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

    let statuses: Vec<&str> = rows.iter().map(|r| r.status.as_str()).collect();
    let durations: Vec<Option<i64>> = rows.iter().map(|r| r.duration_ms).collect();
    let retries: Vec<i32> = rows.iter().map(|r| r.retries).collect();
    sql.execute(
        "INSERT INTO failure.test_results
                (project_id, build_id, test_id, build_created_at, status, duration_ms, retry_count, created_at)
         SELECT $1, $2, r.test_id, $3, r.status, r.duration_ms, r.retries, $4
           FROM unnest($5::uuid[], $6::text[], $7::bigint[], $8::int[]) AS r(test_id, status, duration_ms, retries)
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
                retry_count = least(failure.test_results.retry_count::bigint + excluded.retry_count + 1, 2147483647)::int",
        &[
            &project_id,
            &build_id,
            &build_created_at,
            &now,
            &ids,
            &statuses,
            &durations,
            &retries,
        ],
    )
    .await?;

    let failing: Vec<(&ResultRow, &FailureRow)> = rows
        .iter()
        .filter_map(|r| r.failure.as_ref().map(|f| (r, f)))
        .collect();
    if failing.is_empty() {
        return Ok(());
    }
    let failure_ids: Vec<Uuid> = failing.iter().map(|_| Uuid::now_v7()).collect();
    let test_ids: Vec<Uuid> = failing.iter().map(|(r, _)| r.test_id).collect();
    let kinds: Vec<&str> = failing.iter().map(|(_, f)| f.kind).collect();
    let types: Vec<Option<&str>> = failing
        .iter()
        .map(|(_, f)| f.error_type.as_deref())
        .collect();
    let messages: Vec<Option<&str>> = failing.iter().map(|(_, f)| f.message.as_deref()).collect();
    let traces: Vec<Option<&str>> = failing
        .iter()
        .map(|(_, f)| f.stack_trace.as_deref())
        .collect();
    let outs: Vec<Option<&str>> = failing
        .iter()
        .map(|(_, f)| f.system_out.as_deref())
        .collect();
    let errs: Vec<Option<&str>> = failing
        .iter()
        .map(|(_, f)| f.system_err.as_deref())
        .collect();
    sql.execute(
        "INSERT INTO failure.failures
                (project_id, id, build_id, test_id, kind, error_type, message, stack_trace,
                 system_out, system_err, created_at)
         SELECT $1, f.id, $2, f.test_id, f.kind, f.error_type, f.message, f.stack_trace,
                f.system_out, f.system_err, $3
           FROM unnest($4::uuid[], $5::uuid[], $6::text[], $7::text[], $8::text[], $9::text[],
                       $10::text[], $11::text[])
                AS f(id, test_id, kind, error_type, message, stack_trace, system_out, system_err)
         ON CONFLICT ON CONSTRAINT failures_build_test_key DO UPDATE
            SET kind = excluded.kind, error_type = excluded.error_type,
                message = excluded.message, stack_trace = excluded.stack_trace,
                system_out = excluded.system_out, system_err = excluded.system_err",
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
        ],
    )
    .await?;
    Ok(())
}

/// Recounts the build's totals from its results (all uploads so far),
/// after adding `unlisted`, this upload's outcomes stated by suites that
/// list no test cases (kept apart, since they have no results to recount).
pub async fn refresh_build_totals(
    sql: &TenantTx,
    project_id: Uuid,
    build_id: Uuid,
    build_created_at: DateTime<Utc>,
    unlisted: &Counts,
) -> Result<Build, DbError> {
    let count = |value: u64| i64::try_from(value).unwrap_or(i64::MAX);
    let (tests, passed, failures, errors, skipped) = (
        count(unlisted.tests),
        count(unlisted.passed),
        count(unlisted.failures),
        count(unlisted.errors),
        count(unlisted.skipped),
    );
    let row = sql
        .query_one(
            &format!(
                "WITH totals AS (
                    SELECT count(*) AS tests_total,
                           count(*) FILTER (WHERE status = 'passed') AS passed,
                           count(*) FILTER (WHERE status = 'failed') AS failures,
                           count(*) FILTER (WHERE status = 'error') AS errors,
                           count(*) FILTER (WHERE status = 'skipped') AS skipped,
                           count(*) FILTER (WHERE status = 'flaky') AS flaky,
                           coalesce(sum(duration_ms), 0)::bigint AS duration_ms
                      FROM failure.test_results
                     WHERE project_id = $1 AND build_id = $2 AND build_created_at = $3)
                 UPDATE failure.builds b
                    SET unlisted_tests = b.unlisted_tests + $4,
                        unlisted_passed = b.unlisted_passed + $5,
                        unlisted_failures = b.unlisted_failures + $6,
                        unlisted_errors = b.unlisted_errors + $7,
                        unlisted_skipped = b.unlisted_skipped + $8,
                        tests_total = t.tests_total + b.unlisted_tests + $4,
                        passed = t.passed + b.unlisted_passed + $5,
                        failures = t.failures + b.unlisted_failures + $6,
                        errors = t.errors + b.unlisted_errors + $7,
                        skipped = t.skipped + b.unlisted_skipped + $8,
                        flaky = t.flaky, duration_ms = t.duration_ms, updated_at = now()
                   FROM totals t
                  WHERE b.project_id = $1 AND b.id = $2
                  RETURNING {}",
                BUILD_COLUMNS
                    .split(", ")
                    .map(|column| format!("b.{column}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            &[
                &project_id,
                &build_id,
                &build_created_at,
                &tests,
                &passed,
                &failures,
                &errors,
                &skipped,
            ],
        )
        .await?;
    Ok(Build::from_row(&row))
}

/// A test, the same in every build of its project.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TestIdentity {
    /// A hash of the project, the suite (or else the file), the class name
    /// and the name, shaped as a UUID: stable across builds.
    pub id: Uuid,
    pub suite: String,
    pub classname: String,
    pub name: String,
    pub file: Option<String>,
}

/// The build a failure or result belongs to.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BuildRef {
    pub id: Uuid,
    pub job_name: String,
    pub external_id: String,
    pub number: Option<i64>,
    pub branch: Option<String>,
    pub commit_sha: Option<String>,
}

/// A failing result of one test in one build, as listed.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FailureSummary {
    pub id: Uuid,
    #[schema(value_type = FailureKind)]
    pub kind: String,
    /// The failure's `type` (often an exception class).
    pub error_type: Option<String>,
    /// In a list, the message's first 1000 characters; in a failure's
    /// details, all of it (as capped at ingestion).
    pub message: Option<String>,
    pub created_at: DateTime<Utc>,
    pub build: BuildRef,
    pub test: TestIdentity,
}

/// A failure with its full (capped) message, stack trace and output.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FailureDetails {
    #[serde(flatten)]
    pub summary: FailureSummary,
    pub stack_trace: Option<String>,
    pub system_out: Option<String>,
    pub system_err: Option<String>,
}

#[derive(Debug, Default, Clone)]
pub struct FailureFilter {
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub build: Option<Uuid>,
    pub branch: Option<String>,
    pub job: Option<String>,
    /// Case-insensitive substring of the test name.
    pub test: Option<String>,
    pub error_type: Option<String>,
}

macro_rules! failure_select {
    () => {
        "SELECT f.id, f.kind, f.error_type, left(f.message, 1000) AS message, f.created_at,
                b.id AS build_id, b.job_name, b.external_id, b.number, b.branch, b.commit_sha,
                t.id AS test_id, t.suite, t.classname, t.name, t.file"
    };
}

const FAILURE_SELECT: &str = failure_select!();

/// The failures list, newest first with build and test, in one statement:
/// `$1` project, `$2`/`$3` since/until, `$4` build, `$5` branch, `$6` job,
/// `$7` test name ILIKE pattern, `$8` error type, `$9`/`$10` the cursor
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
    AND ($7::text IS NULL OR t.name ILIKE $7)
    AND ($8::text IS NULL OR f.error_type = $8)
    AND ($9::timestamptz IS NULL OR (f.created_at, f.id) < ($9, $10))
  ORDER BY f.created_at DESC, f.id DESC
  LIMIT $11"
);

fn failure_summary(row: &Row) -> FailureSummary {
    FailureSummary {
        id: row.get("id"),
        kind: row.get("kind"),
        error_type: row.get("error_type"),
        message: row.get("message"),
        created_at: row.get("created_at"),
        build: BuildRef {
            id: row.get("build_id"),
            job_name: row.get("job_name"),
            external_id: row.get("external_id"),
            number: row.get("number"),
            branch: row.get("branch"),
            commit_sha: row.get("commit_sha"),
        },
        test: TestIdentity {
            id: row.get("test_id"),
            suite: row.get("suite"),
            classname: row.get("classname"),
            name: row.get("name"),
            file: row.get("file"),
        },
    }
}

/// Failures newest first with their build and test, in one statement.
pub async fn list_failures(
    sql: &TenantTx,
    project_id: Uuid,
    filter: &FailureFilter,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<FailureSummary>, DbError> {
    let (after_at, after_id) = after.unzip();
    let test_pattern = filter.test.as_deref().map(like_pattern);
    let rows = sql
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
    Ok(rows.iter().map(failure_summary).collect())
}

/// `%text%` for ILIKE, with the wildcards in `text` taken literally.
fn like_pattern(text: &str) -> String {
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

pub async fn get_failure(
    sql: &TenantTx,
    project_id: Uuid,
    failure_id: Uuid,
) -> Result<Option<FailureDetails>, DbError> {
    let row = sql
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
    Ok(row.map(|row| {
        let mut summary = failure_summary(&row);
        summary.message = row.get("full_message");
        FailureDetails {
            summary,
            stack_trace: row.get("stack_trace"),
            system_out: row.get("system_out"),
            system_err: row.get("system_err"),
        }
    }))
}

/// One result of a test, in one build.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HistoryEntry {
    #[schema(value_type = CaseStatus)]
    pub status: String,
    pub duration_ms: Option<i64>,
    /// Attempts beyond the first: reruns, and repeats in later uploads
    /// of the build.
    pub retry_count: i32,
    pub recorded_at: DateTime<Utc>,
    pub build: BuildRef,
    /// The failure of this result, if it failed.
    pub failure_id: Option<Uuid>,
}

pub async fn get_test(
    sql: &TenantTx,
    project_id: Uuid,
    test_id: Uuid,
) -> Result<Option<TestIdentity>, DbError> {
    let row = sql
        .query_opt(
            "SELECT id, suite, classname, name, file FROM failure.tests
              WHERE project_id = $1 AND id = $2",
            &[&project_id, &test_id],
        )
        .await?;
    Ok(row.map(|row| TestIdentity {
        id: row.get("id"),
        suite: row.get("suite"),
        classname: row.get("classname"),
        name: row.get("name"),
        file: row.get("file"),
    }))
}

/// The last `limit` results of one test across builds, newest first.
pub async fn test_history(
    sql: &TenantTx,
    project_id: Uuid,
    test_id: Uuid,
    limit: i64,
) -> Result<Vec<HistoryEntry>, DbError> {
    let rows = sql
        .query(
            "SELECT r.status, r.duration_ms, r.retry_count, r.created_at,
                    b.id AS build_id, b.job_name, b.external_id, b.number, b.branch, b.commit_sha,
                    f.id AS failure_id
               FROM failure.test_results r
               JOIN failure.builds b ON b.project_id = r.project_id AND b.id = r.build_id
               LEFT JOIN failure.failures f
                      ON f.project_id = r.project_id AND f.build_id = r.build_id AND f.test_id = r.test_id
              WHERE r.project_id = $1 AND r.test_id = $2
              ORDER BY r.build_created_at DESC, r.build_id DESC
              LIMIT $3",
            &[&project_id, &test_id, &limit],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|row| HistoryEntry {
            status: row.get("status"),
            duration_ms: row.get("duration_ms"),
            retry_count: row.get("retry_count"),
            recorded_at: row.get("created_at"),
            build: BuildRef {
                id: row.get("build_id"),
                job_name: row.get("job_name"),
                external_id: row.get("external_id"),
                number: row.get("number"),
                branch: row.get("branch"),
                commit_sha: row.get("commit_sha"),
            },
            failure_id: row.get("failure_id"),
        })
        .collect())
}
