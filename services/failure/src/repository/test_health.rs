//! `failure.test_health`: each test's health on the monitored branch, as
//! uploads update it, and the flaky-tests list.

use chrono::{DateTime, Utc};
use tenant_core::{DbError, TenantTx};
use tokio_postgres::Row;
use uuid::Uuid;

use crate::domain::TestIdentity;
use crate::domain::flakiness::{
    Evidence, FlakyTest, FlakyTestFilter, HealthState, Observation, TestHealth,
};

const HEALTH_COLUMNS: &str = "h.state, h.since, h.evidence_from, h.failure_rate, h.transitions, \
     h.same_commit_contradictions, h.retries_passed, h.window_results, h.first_seen_at, \
     h.last_seen_at";

fn evidence_from_row(row: &Row) -> Result<Evidence, tokio_postgres::Error> {
    Ok(Evidence {
        failure_rate: row.try_get("failure_rate")?,
        transitions: row.try_get("transitions")?,
        same_commit_contradictions: row.try_get("same_commit_contradictions")?,
        retries_passed: row.try_get("retries_passed")?,
        window_results: row.try_get("window_results")?,
        first_seen_at: row.try_get("first_seen_at")?,
        last_seen_at: row.try_get("last_seen_at")?,
    })
}

/// The tests of an upload whose health could change, with their stored
/// health: `failing` (tests that failed or passed on retry in it), and the
/// build's tests that already have a health row and are flagged or failed
/// since `recent_since` (a pass can recover them, or contradict an earlier
/// failure). A test that never failed has no row, and a pass cannot
/// change that: the other passing tests of a large upload are not read.
#[tracing::instrument(
    skip_all,
    fields(project_id = %project_id, failing = failing.len()),
    err(level = "warn")
)]
pub async fn health_candidates(
    tx: &TenantTx,
    project_id: Uuid,
    build: (Uuid, DateTime<Utc>),
    failing: &[Uuid],
    recent_since: DateTime<Utc>,
) -> Result<Vec<(Uuid, Option<TestHealth>)>, DbError> {
    let rows = tx
        .query(
            &format!(
                "WITH candidates AS (
                    SELECT unnest($2::uuid[]) AS test_id
                    UNION
                    SELECT h.test_id
                      FROM failure.test_health h
                      JOIN failure.test_results r
                        ON r.project_id = h.project_id AND r.build_id = $3
                       AND r.test_id = h.test_id AND r.build_created_at = $4
                     WHERE h.project_id = $1
                       AND (h.state <> 'healthy' OR h.last_seen_at >= $5))
                 SELECT c.test_id, h.test_id IS NOT NULL AS known, {HEALTH_COLUMNS}
                   FROM candidates c
                   LEFT JOIN failure.test_health h ON h.project_id = $1 AND h.test_id = c.test_id
                  ORDER BY c.test_id"
            ),
            &[&project_id, &failing, &build.0, &build.1, &recent_since],
        )
        .await?;
    rows.iter()
        .map(|row| {
            let test_id: Uuid = row.try_get("test_id")?;
            let known: bool = row.try_get("known")?;
            let health = if known {
                Some(TestHealth {
                    test_id,
                    state: row.try_get("state")?,
                    since: row.try_get("since")?,
                    evidence_from: row.try_get("evidence_from")?,
                    evidence: evidence_from_row(row)?,
                })
            } else {
                None
            };
            Ok((test_id, health))
        })
        .collect::<Result<_, tokio_postgres::Error>>()
        .map_err(DbError::from)
}

/// The window of each of `tests` (a test and the instant its evidence
/// starts after), in one statement: its latest `limit` results on
/// `branch` since `since`, skipped results and infrastructure outages
/// left out, newest first.
#[tracing::instrument(skip_all, fields(project_id = %project_id, tests = tests.len()), err(level = "warn"))]
pub async fn recent_results(
    tx: &TenantTx,
    project_id: Uuid,
    tests: &[(Uuid, Option<DateTime<Utc>>)],
    branch: &str,
    since: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<(Uuid, Observation)>, DbError> {
    let ids: Vec<Uuid> = tests.iter().map(|(id, _)| *id).collect();
    let evidence_from: Vec<Option<DateTime<Utc>>> = tests.iter().map(|(_, at)| *at).collect();
    let rows = tx
        .query(
            "SELECT c.test_id, w.created_at, w.status, w.commit_sha
               FROM unnest($2::uuid[], $3::timestamptz[]) AS c(test_id, evidence_from)
              CROSS JOIN LATERAL (
                    SELECT r.created_at, r.status, b.commit_sha
                      FROM failure.test_results r
                      JOIN failure.builds b ON b.project_id = r.project_id AND b.id = r.build_id
                     WHERE r.project_id = $1 AND r.test_id = c.test_id
                       AND r.build_created_at >= $5
                       AND r.status <> 'skipped'
                       AND (c.evidence_from IS NULL OR r.created_at > c.evidence_from)
                       AND b.branch = $4 AND NOT b.infrastructure_outage
                     ORDER BY r.build_created_at DESC, r.build_id DESC
                     LIMIT $6
                   ) w",
            &[&project_id, &ids, &evidence_from, &branch, &since, &limit],
        )
        .await?;
    rows.iter()
        .map(|row| {
            Ok((
                row.try_get("test_id")?,
                Observation {
                    recorded_at: row.try_get("created_at")?,
                    commit_sha: row.try_get("commit_sha")?,
                    status: row.try_get("status")?,
                },
            ))
        })
        .collect::<Result<_, tokio_postgres::Error>>()
        .map_err(DbError::from)
}

/// Writes the tests' health in one statement (sorted by test, so
/// concurrent uploads lock rows in one order).
#[tracing::instrument(skip_all, fields(project_id = %project_id, tests = health.len()), err(level = "warn"))]
pub async fn upsert_health(
    tx: &TenantTx,
    project_id: Uuid,
    now: DateTime<Utc>,
    health: &[TestHealth],
) -> Result<(), DbError> {
    if health.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = health.iter().map(|h| h.test_id).collect();
    let states: Vec<&str> = health.iter().map(|h| h.state.as_str()).collect();
    let since: Vec<DateTime<Utc>> = health.iter().map(|h| h.since).collect();
    let evidence_from: Vec<Option<DateTime<Utc>>> =
        health.iter().map(|h| h.evidence_from).collect();
    let rates: Vec<f64> = health.iter().map(|h| h.evidence.failure_rate).collect();
    let transitions: Vec<i32> = health.iter().map(|h| h.evidence.transitions).collect();
    let contradictions: Vec<i32> = health
        .iter()
        .map(|h| h.evidence.same_commit_contradictions)
        .collect();
    let retries: Vec<i32> = health.iter().map(|h| h.evidence.retries_passed).collect();
    let windows: Vec<i32> = health.iter().map(|h| h.evidence.window_results).collect();
    let first: Vec<Option<DateTime<Utc>>> =
        health.iter().map(|h| h.evidence.first_seen_at).collect();
    let last: Vec<Option<DateTime<Utc>>> = health.iter().map(|h| h.evidence.last_seen_at).collect();
    tx.execute(
        "INSERT INTO failure.test_health
                (project_id, test_id, state, since, evidence_from, failure_rate, transitions,
                 same_commit_contradictions, retries_passed, window_results, first_seen_at,
                 last_seen_at, updated_at)
         SELECT $1, h.test_id, h.state, h.since, h.evidence_from, h.failure_rate, h.transitions,
                h.contradictions, h.retries, h.window_results, h.first_seen_at, h.last_seen_at, $2
           FROM unnest($3::uuid[], $4::text[], $5::timestamptz[], $6::timestamptz[],
                       $7::float8[], $8::int[], $9::int[], $10::int[], $11::int[],
                       $12::timestamptz[], $13::timestamptz[])
                AS h(test_id, state, since, evidence_from, failure_rate, transitions,
                     contradictions, retries, window_results, first_seen_at, last_seen_at)
          ORDER BY h.test_id
         ON CONFLICT ON CONSTRAINT test_health_pkey DO UPDATE
            SET state = excluded.state, since = excluded.since,
                evidence_from = excluded.evidence_from, failure_rate = excluded.failure_rate,
                transitions = excluded.transitions,
                same_commit_contradictions = excluded.same_commit_contradictions,
                retries_passed = excluded.retries_passed,
                window_results = excluded.window_results,
                first_seen_at = excluded.first_seen_at, last_seen_at = excluded.last_seen_at,
                updated_at = excluded.updated_at",
        &[
            &project_id,
            &now,
            &ids,
            &states,
            &since,
            &evidence_from,
            &rates,
            &transitions,
            &contradictions,
            &retries,
            &windows,
            &first,
            &last,
        ],
    )
    .await?;
    Ok(())
}

/// The position of a flagged test in the ranking: broken first, then by
/// failure rate in millionths (highest first; an integer, so a cursor
/// carries it exactly), then by test id.
pub type FlakyRank = (i32, i64, Uuid);

/// Flagged tests, ranked, after the cursor, with whether each is
/// quarantined.
#[tracing::instrument(skip_all, fields(project_id = %project_id), err(level = "warn"))]
pub async fn list_flagged(
    tx: &TenantTx,
    project_id: Uuid,
    filter: &FlakyTestFilter,
    after: Option<FlakyRank>,
    limit: i64,
) -> Result<Vec<(FlakyRank, FlakyTest)>, DbError> {
    let (after_rank, after_rate, after_id) = match after {
        Some((rank, rate, id)) => (Some(rank), Some(rate), Some(id)),
        None => (None, None, None),
    };
    let rows = tx
        .query(
            &format!(
                "SELECT * FROM (
                    SELECT CASE h.state WHEN 'broken' THEN 0 ELSE 1 END AS rank,
                           round(h.failure_rate * 1000000)::bigint AS rate_key, h.test_id,
                           {HEALTH_COLUMNS}, t.suite, t.classname, t.name, t.file,
                           q.test_id IS NOT NULL AS quarantined
                      FROM failure.test_health h
                      JOIN failure.tests t ON t.project_id = h.project_id AND t.id = h.test_id
                      LEFT JOIN failure.quarantined_tests q
                             ON q.project_id = h.project_id AND q.test_id = h.test_id
                     WHERE h.project_id = $1 AND h.state <> 'healthy'
                       AND ($2::text IS NULL OR h.state = $2)
                       AND ($3::boolean IS NULL OR (q.test_id IS NOT NULL) = $3)
                 ) f
                 WHERE $4::int IS NULL OR (f.rank, -f.rate_key, f.test_id) > ($4, -$5::bigint, $6)
                 ORDER BY f.rank, f.rate_key DESC, f.test_id
                 LIMIT $7"
            ),
            &[
                &project_id,
                &filter.state.map(HealthState::as_str),
                &filter.quarantined,
                &after_rank,
                &after_rate,
                &after_id,
                &limit,
            ],
        )
        .await?;
    rows.iter()
        .map(|row| {
            let test_id: Uuid = row.try_get("test_id")?;
            let evidence = evidence_from_row(row)?;
            let rank = (row.try_get("rank")?, row.try_get("rate_key")?, test_id);
            Ok((
                rank,
                FlakyTest {
                    test: TestIdentity {
                        id: test_id,
                        suite: row.try_get("suite")?,
                        classname: row.try_get("classname")?,
                        name: row.try_get("name")?,
                        file: row.try_get("file")?,
                    },
                    state: row.try_get("state")?,
                    since: row.try_get("since")?,
                    quarantined: row.try_get("quarantined")?,
                    evidence,
                },
            ))
        })
        .collect::<Result<_, tokio_postgres::Error>>()
        .map_err(DbError::from)
}

/// The project's tests the monitor judges flaky, for classification: a
/// failure of one of them is labelled `flaky` (over the rules). Read once
/// per upload, from the flagged-tests index.
#[tracing::instrument(skip_all, fields(project_id = %project_id), err(level = "warn"))]
pub async fn flaky_test_ids(tx: &TenantTx, project_id: Uuid) -> Result<Vec<Uuid>, DbError> {
    let rows = tx
        .query(
            "SELECT test_id FROM failure.test_health
              WHERE project_id = $1 AND state = 'flaky'",
            &[&project_id],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|row| row.try_get("test_id"))
        .collect::<Result<_, tokio_postgres::Error>>()?)
}
