//! The rollups equal a from-scratch computation, whatever the history and
//! however its events arrive: random sequences of builds (some left
//! running), uploads, labels and triage, with the events delivered late
//! (after later changes), in random order and repeatedly. After the last
//! delivery the incremental rollups are compared with
//! `rollups::rebuild_project` run on the same data, and every per-test
//! rollup (split by branch and job or not, by day or week, with its
//! duration histogram) with the same figures computed here straight from
//! the failure service's results.
//!
//! The failure service's relay to analytics points nowhere here; the test
//! reads the events from its analytics queue and delivers them itself.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use tenant_core::Db;
use tenant_core::outbox::OutboxEvent;
use uuid::Uuid;

use crate::helpers::{Case, Outcome, Platform, Project, Relay, case, rollups_snapshot};

const TESTS: [&str; 4] = ["alpha", "beta", "gamma", "delta"];
const EXCEPTIONS: [&str; 3] = [
    "java.lang.IllegalStateException",
    "java.io.IOException",
    "java.net.SocketTimeoutException",
];
const LABELS: [&str; 3] = ["product_bug", "automation_bug", "infrastructure"];
const STATUSES: [&str; 4] = ["triaged", "resolved", "muted", "open"];

#[derive(Debug, Clone)]
enum Op {
    /// A build of job `job`/branch `branch` with these cases, finished
    /// (`Some(passed)`) or left running.
    Build {
        job: usize,
        branch: usize,
        cases: Vec<(usize, u8, u16)>,
        finish: Option<bool>,
    },
    /// Finishes the `n`th build still running.
    Finish(usize),
    /// Labels the `n`th group.
    Label(usize, usize),
    /// Moves the `n`th group to a status.
    Triage(usize, usize),
    /// Delivers the picked pending events in this order, and redelivers
    /// the picked delivered ones.
    Deliver(Vec<usize>),
}

fn op() -> impl Strategy<Value = Op> {
    let cases = prop::collection::vec((0..TESTS.len(), 0_u8..5, 0_u16..2000), 1..5);
    prop_oneof![
        3 => (0..2_usize, 0..2_usize, cases, prop::option::weighted(0.8, any::<bool>()))
            .prop_map(|(job, branch, cases, finish)| Op::Build { job, branch, cases, finish }),
        1 => (0..3_usize).prop_map(Op::Finish),
        1 => (0..3_usize, 0..LABELS.len()).prop_map(|(g, l)| Op::Label(g, l)),
        1 => (0..3_usize, 0..STATUSES.len()).prop_map(|(g, s)| Op::Triage(g, s)),
        2 => prop::collection::vec(0..50_usize, 0..6).prop_map(Op::Deliver),
    ]
}

fn cases_of(picks: &[(usize, u8, u16)]) -> Vec<Case> {
    let mut seen = std::collections::HashSet::new();
    picks
        .iter()
        .filter(|(test, _, _)| seen.insert(*test))
        .map(|&(test, outcome, millis)| {
            let exception = EXCEPTIONS[usize::from(outcome) % EXCEPTIONS.len()].to_owned();
            let outcome = match outcome {
                0 | 1 => Outcome::Pass,
                2 => Outcome::Fail(exception),
                3 => Outcome::Skip,
                _ => Outcome::Flaky(exception),
            };
            case(TESTS[test], outcome, u64::from(millis))
        })
        .collect()
}

/// One history and its deliveries in a fresh project.
struct Run<'a> {
    platform: &'a Platform,
    project: Project,
    admin: tokio_postgres::Client,
    running: Vec<Uuid>,
    delivered: Vec<OutboxEvent>,
}

impl Run<'_> {
    /// The project's events the test has not delivered yet, oldest first.
    async fn pending(&self) -> Vec<OutboxEvent> {
        let project = self.project.id;
        let rows = self
            .admin
            .query(
                "SELECT id, kind, occurred_at, payload FROM failure.outbox_analytics
                  WHERE project_id = $1 ORDER BY id",
                &[&project],
            )
            .await
            .unwrap();
        rows.iter()
            .map(|row| OutboxEvent {
                id: row.get("id"),
                project_id: project,
                kind: row.get("kind"),
                occurred_at: row.get("occurred_at"),
                payload: row.get("payload"),
            })
            .filter(|event| self.delivered.iter().all(|d| d.id != event.id))
            .collect()
    }

    async fn send(&mut self, events: Vec<OutboxEvent>) {
        if events.is_empty() {
            return;
        }
        self.platform
            .deliver(self.project.id, &events)
            .await
            .expect(200);
        for event in events {
            if self.delivered.iter().all(|d| d.id != event.id) {
                self.delivered.push(event);
            }
        }
    }

    async fn apply(&mut self, op: Op) {
        let platform = self.platform;
        match op {
            Op::Build {
                job,
                branch,
                cases,
                finish,
            } => {
                let build = platform
                    .create_build(
                        &self.project,
                        ["ci", "nightly"][job],
                        ["main", "dev"][branch],
                    )
                    .await;
                platform
                    .upload(&self.project, build, &cases_of(&cases))
                    .await;
                match finish {
                    Some(passed) => {
                        platform
                            .finish(
                                &self.project,
                                build,
                                if passed { "passed" } else { "failed" },
                            )
                            .await;
                    }
                    None => self.running.push(build),
                }
            }
            Op::Finish(n) if !self.running.is_empty() => {
                let build = self.running.remove(n % self.running.len());
                platform.finish(&self.project, build, "failed").await;
            }
            Op::Label(n, label) => {
                if let Some(group) = self.group(n).await {
                    platform.label(&self.project, group, LABELS[label]).await;
                }
            }
            Op::Triage(n, status) => {
                if let Some(group) = self.group(n).await {
                    platform
                        .set_status(&self.project, group, STATUSES[status])
                        .await;
                }
            }
            Op::Deliver(picks) => {
                let pending = self.pending().await;
                let mut batch = Vec::new();
                for pick in picks {
                    if pick % 3 == 0 && !self.delivered.is_empty() {
                        batch.push(self.delivered[pick % self.delivered.len()].clone());
                    } else if !pending.is_empty() {
                        batch.push(pending[pick % pending.len()].clone());
                    }
                }
                self.send(batch).await;
            }
            Op::Finish(_) => {}
        }
    }

    async fn group(&self, n: usize) -> Option<Uuid> {
        let groups = self.platform.groups(&self.project).await;
        let group = groups.get(n % groups.len().max(1))?;
        group["id"].as_str()?.parse().ok()
    }
}

async fn check(platform: &Platform, db: &Db, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let project = platform.new_project().await;
    let project_id = project.id;
    let mut run = Run {
        platform,
        project,
        admin: platform.analytics.database().admin_client().await,
        running: Vec::new(),
        delivered: Vec::new(),
    };
    for op in ops {
        run.apply(op).await;
    }
    // Whatever is still pending arrives last, newest first, with the
    // first delivered events once more.
    let mut rest = run.pending().await;
    rest.reverse();
    rest.extend(run.delivered.iter().take(2).cloned());
    run.send(rest).await;
    let incremental = rollups_snapshot(&run.admin, project_id).await;

    let tx = db.worker_tx(project_id).await.unwrap();
    analytics_service::repository::rollups::rebuild_project(&tx, project_id)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let from_scratch = rollups_snapshot(&run.admin, project_id).await;
    prop_assert_eq!(incremental, from_scratch);
    for (table, key) in TEST_ROLLUPS {
        let (kept, expected) =
            test_rollups_against_results(&run.admin, project_id, table, key).await;
        prop_assert_eq!(kept, expected, "{}", table);
    }
    Ok(())
}

/// The per-test rollups and the key each groups the results by: a day or
/// an ISO week (its Monday), split by branch and job or not.
const TEST_ROLLUPS: [(&str, &str); 4] = [
    ("test_daily_rollups", "day::text, branch, job_name"),
    ("test_weekly_rollups", "week::text, branch, job_name"),
    ("test_daily_totals", "day::text"),
    ("test_weekly_totals", "week::text"),
];

/// `table`'s rows of `project_id` and the same computed here straight
/// from the failure service's results (counts, and the histogram of the
/// durations of the runs not skipped by `analytics.duration_bucket`), as
/// sorted text: the two are equal when the rollup is right.
async fn test_rollups_against_results(
    admin: &tokio_postgres::Client,
    project_id: Uuid,
    table: &str,
    key: &str,
) -> (Vec<String>, Vec<String>) {
    let columns = format!(
        "concat_ws(' ', {key}, test_id, runs, failures, flaky, skipped,
                   duration_buckets::text, duration_counts::text) AS r"
    );
    let text = |rows: Vec<tokio_postgres::Row>| -> Vec<String> {
        rows.iter().map(|row| row.get::<_, String>("r")).collect()
    };
    let kept = admin
        .query(
            &format!("SELECT {columns} FROM analytics.{table} WHERE project_id = $1 ORDER BY r"),
            &[&project_id],
        )
        .await
        .unwrap();
    let expected = admin
        .query(
            &format!(
                "WITH results AS (
                      SELECT (b.created_at AT TIME ZONE 'UTC')::date AS day,
                             date_trunc('week', b.created_at AT TIME ZONE 'UTC')::date AS week,
                             coalesce(b.branch, '') AS branch, b.job_name,
                             r.test_id, r.status, r.duration_ms
                        FROM failure.analytics_test_results r
                        JOIN failure.analytics_builds b
                          ON b.project_id = r.project_id AND b.id = r.build_id
                         AND b.created_at = r.build_created_at
                       WHERE r.project_id = $1 AND b.status <> 'running'),
                  counts AS (
                      SELECT {key}, test_id,
                             count(*) FILTER (WHERE status <> 'skipped') AS runs,
                             count(*) FILTER (WHERE status IN ('failed', 'error')) AS failures,
                             count(*) FILTER (WHERE status = 'flaky') AS flaky,
                             count(*) FILTER (WHERE status = 'skipped') AS skipped
                        FROM results GROUP BY {key}, test_id),
                  buckets AS (
                      SELECT {key}, test_id, analytics.duration_bucket(duration_ms) AS bucket,
                             count(*) AS n
                        FROM results
                       WHERE status <> 'skipped' AND duration_ms IS NOT NULL
                       GROUP BY {key}, test_id, analytics.duration_bucket(duration_ms)),
                  histograms AS (
                      SELECT {key}, test_id, array_agg(bucket ORDER BY bucket) AS duration_buckets,
                             array_agg(n ORDER BY bucket) AS duration_counts
                        FROM buckets GROUP BY {key}, test_id)
                 SELECT {columns}
                   FROM (SELECT c.*, coalesce(h.duration_buckets, '{{}}') AS duration_buckets,
                                coalesce(h.duration_counts, '{{}}') AS duration_counts
                           FROM counts c NATURAL LEFT JOIN histograms h) t
                  ORDER BY r"
            ),
            &[&project_id],
        )
        .await
        .unwrap();
    (text(kept), text(expected))
}

#[test]
fn rollups_equal_a_from_scratch_computation_whatever_the_event_order() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (platform, db) = runtime.block_on(async {
        // The relay to analytics points nowhere: the test delivers.
        let platform = Platform::start(Relay::Nowhere).await;
        let db = platform.analytics_db().await;
        (platform, db)
    });
    let mut runner = TestRunner::new(Config {
        cases: 48,
        max_shrink_iters: 20,
        failure_persistence: None,
        ..Config::default()
    });
    let outcome = runner.run(&prop::collection::vec(op(), 1..16), |ops| {
        runtime.block_on(check(&platform, &db, ops))
    });
    if let Err(error) = outcome {
        panic!("{error}");
    }
}
