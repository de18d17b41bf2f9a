//! Regroup jobs: the result, idempotency, a job taken over from a worker
//! that died, and one job never run by two workers at once.

use std::sync::Arc;
use std::time::Duration;

use failure_service::repository::regroup_jobs;
use serde_json::{Value, json};
use tenant_core::{Db, Role, TenantContext};
use test_support::{TestApp, TestDatabase, contexts};
use uuid::Uuid;

use crate::helpers::{self, Body, FailureApp};

/// A worker that never looks for jobs during a test.
const IDLE: &str = "600000";

async fn spawn_on(
    database: Option<Arc<TestDatabase>>,
    poll_ms: &str,
    batch: &str,
    lease: &str,
) -> TestApp {
    let database = match database {
        Some(database) => database,
        None => Arc::new(TestDatabase::create().await),
    };
    TestApp::spawn_on(
        &failure_service::SPEC,
        failure_service::build,
        Some(database),
        &[
            ("service.regroup_poll_interval_ms", poll_ms.to_owned()),
            ("service.regroup_batch_size", batch.to_owned()),
            ("service.regroup_lease_secs", lease.to_owned()),
        ],
    )
    .await
}

/// Uploads, one build each, failures without a trace whose messages
/// differ only by a long number: one group under the default settings.
async fn upload_quota_failures(app: &TestApp, ctx: &TenantContext, count: u32) {
    for n in 0..count {
        let build = app.create_build(ctx, &n.to_string()).await;
        let xml = format!(
            "<testsuite name=\"S\"><testcase classname=\"C\" name=\"t\">\
             <failure message=\"quota {} exceeded\"/></testcase></testsuite>",
            100_000 + n
        );
        app.upload(ctx, build, Body::xml(xml), None)
            .await
            .expect(201);
    }
}

/// The group of each failure, oldest first.
async fn groups_of_failures(app: &TestApp, ctx: &TenantContext) -> Vec<String> {
    let project = helpers::project_of(ctx);
    let body = app
        .get(&format!("/v1/projects/{project}/failures?limit=500"), ctx)
        .await
        .expect(200);
    let mut groups: Vec<String> = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["group_id"].as_str().unwrap().to_owned())
        .collect();
    groups.reverse();
    groups
}

async fn keep_numbers(app: &TestApp, admin: &TenantContext) {
    let path = format!(
        "/v1/projects/{}/settings/grouping",
        helpers::project_of(admin)
    );
    app.put(
        &path,
        admin,
        json!({"in_app_prefixes": [], "keep_numbers": true}),
    )
    .await
    .expect(200);
}

/// Requests a regroup job; `(status, job)`.
async fn request_regroup(app: &TestApp, admin: &TenantContext) -> (u16, Value) {
    let path = format!("/v2/projects/{}/regroup", helpers::project_of(admin));
    let reply = app.post(&path, admin, json!({})).await;
    let status = reply.status.as_u16();
    let location = reply.header("location").map(str::to_owned);
    let body = reply.body;
    assert_eq!(
        location,
        Some(format!("jobs/{}", body["id"].as_str().unwrap()))
    );
    (status, body)
}

async fn finished_job(app: &TestApp, ctx: &TenantContext, job: &Value) -> Value {
    let path = format!(
        "/v2/projects/{}/jobs/{}",
        helpers::project_of(ctx),
        job["id"].as_str().unwrap()
    );
    test_support::eventually(
        "the regroup job to finish",
        Duration::from_secs(20),
        || async {
            let body = app.get(&path, ctx).await.expect(200);
            (body["state"] == "succeeded" || body["state"] == "failed").then_some(body)
        },
    )
    .await
}

async fn db_of(app: &TestApp) -> Db {
    let settings: failure_service::Settings =
        test_support::settings(&failure_service::SPEC, Some(app.database()), &[]);
    Db::connect(
        settings.database.as_ref().unwrap(),
        "failure",
        "failure-tests",
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn regrouping_moves_recent_failures_to_the_groups_of_the_current_settings_and_twice_changes_nothing()
 {
    let app = spawn_on(None, "50", "2", "60").await;
    let project = Uuid::now_v7();
    let admin = contexts::user(project, Role::Admin);
    upload_quota_failures(&app, &admin, 3).await;
    let before = groups_of_failures(&app, &admin).await;
    assert!(before.iter().all(|g| *g == before[0]), "{before:?}");

    keep_numbers(&app, &admin).await;
    let (status, job) = request_regroup(&app, &admin).await;
    assert_eq!(status, 202);
    assert_eq!(job["kind"], "regroup");
    let done = finished_job(&app, &admin, &job).await;
    assert_eq!(done["state"], "succeeded", "{done}");
    assert_eq!(
        (
            done["total"].as_i64(),
            done["processed"].as_i64(),
            done["moved"].as_i64()
        ),
        (Some(3), Some(3), Some(3))
    );
    let after = groups_of_failures(&app, &admin).await;
    assert!(after.iter().all(|g| *g != before[0]));
    assert_eq!(
        after.iter().collect::<std::collections::HashSet<_>>().len(),
        3,
        "{after:?}"
    );

    let (status, again) = request_regroup(&app, &admin).await;
    assert_eq!(status, 202, "the first job is over: a new one");
    assert_ne!(again["id"], job["id"]);
    let done = finished_job(&app, &admin, &again).await;
    assert_eq!(done["moved"], 0, "{done}");
    assert_eq!(groups_of_failures(&app, &admin).await, after);

    // Viewers read jobs; only admins start them; other projects see none.
    let viewer = helpers::viewer(project);
    let path = format!(
        "/v2/projects/{project}/jobs/{}",
        job["id"].as_str().unwrap()
    );
    app.get(&path, &viewer).await.expect(200);
    app.post(
        &format!("/v2/projects/{project}/regroup"),
        &contexts::user(project, Role::Member),
        json!({}),
    )
    .await
    .expect_problem(403, "context.role_too_low");
    let other = contexts::user(Uuid::now_v7(), Role::Admin);
    let path = format!(
        "/v2/projects/{}/jobs/{}",
        helpers::project_of(&other),
        job["id"].as_str().unwrap()
    );
    app.get(&path, &other)
        .await
        .expect_problem(404, "job.not_found");
}

#[tokio::test]
async fn a_second_request_while_a_job_is_queued_answers_that_job() {
    let app = spawn_on(None, IDLE, "500", "60").await;
    let admin = contexts::user(Uuid::now_v7(), Role::Admin);
    let (first_status, first) = request_regroup(&app, &admin).await;
    let (second_status, second) = request_regroup(&app, &admin).await;
    assert_eq!((first_status, second_status), (202, 200));
    assert_eq!(first["id"], second["id"]);
    assert_eq!(second["state"], "queued");
    let path = format!("/v2/projects/{}/regroup", helpers::project_of(&admin));
    let reply = app
        .post(&path, &admin, json!({"since": "2999-01-01T00:00:00Z"}))
        .await;
    reply.expect_problem(422, "request.invalid_body");
}

#[tokio::test]
async fn a_job_claimed_by_a_worker_that_died_is_taken_over_and_resumes_after_its_last_batch() {
    let first = spawn_on(None, IDLE, "1", "60").await;
    let project = Uuid::now_v7();
    let admin = contexts::user(project, Role::Admin);
    upload_quota_failures(&first, &admin, 3).await;
    let before = groups_of_failures(&first, &admin).await;
    keep_numbers(&first, &admin).await;
    let (_, job) = request_regroup(&first, &admin).await;
    let job_id: Uuid = job["id"].as_str().unwrap().parse().unwrap();

    // A worker claimed the job, did its first batch and died: its lease
    // runs out two seconds from now.
    let admin_db = first.database().admin_client().await;
    admin_db
        .execute(
            "UPDATE failure.regroup_jobs j
                SET state = 'running', claimed_by = $2, attempts = 1,
                    lease_until = now() + interval '2 seconds', started_at = now(), total = 3,
                    processed = 1,
                    (cursor_created_at, cursor_id) = (
                        SELECT created_at, id FROM failure.failures
                         WHERE project_id = j.project_id ORDER BY created_at, id LIMIT 1)
              WHERE id = $1",
            &[&job_id, &Uuid::now_v7()],
        )
        .await
        .unwrap();
    let database = first.shared_database();
    first.stop().await;

    let second = spawn_on(database, "100", "1", "60").await;
    let done = finished_job(&second, &admin, &job).await;
    assert_eq!(done["state"], "succeeded", "{done}");
    assert_eq!(
        (done["processed"].as_i64(), done["moved"].as_i64()),
        (Some(3), Some(2))
    );
    let after = groups_of_failures(&second, &admin).await;
    assert_eq!(
        after[0], before[0],
        "the batch done before the takeover is not redone"
    );
    assert!(
        after[1] != before[1] && after[2] != before[2] && after[1] != after[2],
        "{after:?}"
    );
    let attempts: i32 = admin_db
        .query_one(
            "SELECT attempts FROM failure.regroup_jobs WHERE id = $1",
            &[&job_id],
        )
        .await
        .unwrap()
        .try_get(0)
        .unwrap();
    assert_eq!(attempts, 2);
}

#[tokio::test]
async fn a_claimed_job_is_not_claimed_or_renewed_by_another_worker_until_its_lease_expires() {
    let app = spawn_on(None, IDLE, "1", "60").await;
    let project = Uuid::now_v7();
    let admin = contexts::user(project, Role::Admin);
    let (_, job) = request_regroup(&app, &admin).await;
    let job_id: Uuid = job["id"].as_str().unwrap().parse().unwrap();
    let db = db_of(&app).await;
    let (one, two) = (Uuid::now_v7(), Uuid::now_v7());

    let tx = db.unscoped_tx().await.unwrap();
    let claimed = regroup_jobs::claim_job(&tx, one, 60.0)
        .await
        .unwrap()
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!((claimed.project_id, claimed.id), (project, job_id));

    let tx = db.unscoped_tx().await.unwrap();
    assert_eq!(regroup_jobs::claim_job(&tx, two, 60.0).await.unwrap(), None);
    tx.commit().await.unwrap();
    let tx = db.worker_tx(project).await.unwrap();
    assert_eq!(
        regroup_jobs::renew_lease(&tx, project, job_id, two, 60.0)
            .await
            .unwrap(),
        None
    );
    assert!(
        regroup_jobs::renew_lease(&tx, project, job_id, one, 0.001)
            .await
            .unwrap()
            .is_some()
    );
    tx.commit().await.unwrap();

    // Its lease gone, the job goes to the next worker, and the first one
    // can no longer renew it.
    let claimed =
        test_support::eventually("the lease to expire", Duration::from_secs(5), || async {
            let tx = db.unscoped_tx().await.unwrap();
            let claimed = regroup_jobs::claim_job(&tx, two, 60.0).await.unwrap();
            tx.commit().await.unwrap();
            claimed
        })
        .await;
    assert_eq!(claimed.id, job_id);
    let tx = db.worker_tx(project).await.unwrap();
    assert_eq!(
        regroup_jobs::renew_lease(&tx, project, job_id, one, 60.0)
            .await
            .unwrap(),
        None
    );
    tx.commit().await.unwrap();

    // Without the claim's opt-in, a transaction without a project sees no
    // job at all.
    let tx = db.unscoped_tx().await.unwrap();
    let visible: i64 = tx
        .query_one("SELECT count(*) FROM failure.regroup_jobs", &[])
        .await
        .unwrap()
        .try_get(0)
        .unwrap();
    assert_eq!(visible, 0);
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn two_running_workers_finish_a_job_once() {
    let first = spawn_on(None, "20", "1", "60").await;
    let second = spawn_on(first.shared_database(), "20", "1", "60").await;
    let project = Uuid::now_v7();
    let admin = contexts::user(project, Role::Admin);
    upload_quota_failures(&first, &admin, 8).await;
    keep_numbers(&first, &admin).await;
    let (_, job) = request_regroup(&second, &admin).await;
    let done = finished_job(&first, &admin, &job).await;
    assert_eq!(
        (
            done["total"].as_i64(),
            done["processed"].as_i64(),
            done["moved"].as_i64()
        ),
        (Some(8), Some(8), Some(8)),
        "{done}"
    );
    let attempts: i32 = first
        .database()
        .admin_client()
        .await
        .query_one("SELECT attempts FROM failure.regroup_jobs", &[])
        .await
        .unwrap()
        .try_get(0)
        .unwrap();
    assert_eq!(attempts, 1, "claimed once");
}

#[tokio::test]
async fn a_job_whose_workers_kept_dying_is_marked_failed_instead_of_run_again() {
    let app = spawn_on(None, "50", "1", "60").await;
    let admin = contexts::user(Uuid::now_v7(), Role::Admin);
    upload_quota_failures(&app, &admin, 1).await;
    let admin_db = app.database().admin_client().await;
    // Queued behind the worker's back, as if claimed five times already.
    let job_id = Uuid::now_v7();
    admin_db
        .execute(
            "INSERT INTO failure.regroup_jobs
                    (project_id, id, state, since, requested_by, created_at, claimed_by,
                     lease_until, attempts)
             VALUES ($1, $2, 'running', now() - interval '1 day', $3, now(), $3,
                     now() - interval '1 second', 5)",
            &[&helpers::project_of(&admin), &job_id, &Uuid::now_v7()],
        )
        .await
        .unwrap();
    let done = finished_job(&app, &admin, &json!({"id": job_id})).await;
    assert_eq!(done["state"], "failed", "{done}");
    assert_eq!(done["error"], "stopped after 5 attempts");
    assert_eq!(done["processed"], 0);
}

#[tokio::test]
async fn a_regroup_job_reanalyses_groups_under_rules_added_since_and_keeps_user_labels() {
    let app = spawn_on(None, "50", "500", "60").await;
    let project = Uuid::now_v7();
    let admin = contexts::user(project, Role::Admin);
    upload_quota_failures(&app, &admin, 2).await;
    let build = app.create_build(&admin, "other").await;
    let xml = "<testsuite name=\"S\"><testcase classname=\"C\" name=\"u\">\
               <failure message=\"the cart total is wrong\"/></testcase></testsuite>";
    app.upload(&admin, build, Body::xml(xml.to_owned()), None)
        .await
        .expect(201);
    let list = format!("/v2/projects/{project}/failures");
    let label_of = |groups: &Value, needle: &str| -> (Value, Value, String) {
        let group = groups["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["template"].as_str().unwrap_or_default().contains(needle))
            .unwrap_or_else(|| panic!("no group for {needle} in {groups:#}"))
            .clone();
        (
            group["label"].clone(),
            group["label_source"].clone(),
            group["id"].as_str().unwrap().to_owned(),
        )
    };
    let before = app.get(&list, &admin).await.expect(200);
    let (label, _, quota) = label_of(&before, "quota");
    assert_eq!(label, "to_investigate", "{before:#}");
    let (_, _, cart) = label_of(&before, "cart total");
    app.put(
        &format!("{list}/{cart}/label"),
        &admin,
        json!({"label": "product_bug"}),
    )
    .await
    .expect(200);

    // A rule added after the failures were stored labels nothing by itself.
    let rule = json!({"name": "quotas", "field": "message", "pattern": "quota|cart", "label": "no_defect"});
    app.post(
        &format!("/v1/projects/{project}/classification-rules"),
        &admin,
        rule,
    )
    .await
    .expect(201);
    let unchanged = app.get(&list, &admin).await.expect(200);
    assert_eq!(label_of(&unchanged, "quota").0, "to_investigate");

    let (_, job) = request_regroup(&app, &admin).await;
    assert_eq!(finished_job(&app, &admin, &job).await["state"], "succeeded");
    let after = app.get(&list, &admin).await.expect(200);
    let (label, source, id) = label_of(&after, "quota");
    assert_eq!(
        (label, source, id),
        (json!("no_defect"), json!("rule"), quota)
    );
    let (label, source, _) = label_of(&after, "cart total");
    assert_eq!(
        (label, source),
        (json!("product_bug"), json!("user")),
        "a member's label stays"
    );
}
