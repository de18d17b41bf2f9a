//! The outbox: events written with the change they describe, delivered at
//! least once to the real integration gateway (started by the test on the
//! same database), and kept there once per id.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tenant_core::context::InternalTokenIssuer;
use tenant_core::outbox::{OutboxMetrics, OutboxRelay, RelaySettings};
use tenant_core::{Db, TenantContext};
use test_support::{TestApp, TestDatabase, eventually};
use tokio_postgres::Client;
use uuid::Uuid;

use crate::helpers::{self, Body, FailureApp, project_of};

const DEADLINE: Duration = Duration::from_secs(30);

/// Relay settings fast enough for a test, towards `port`.
fn relay_to(port: u16) -> Vec<(&'static str, String)> {
    vec![
        (
            "service.integration_gateway_url",
            format!("http://127.0.0.1:{port}"),
        ),
        ("service.outbox_relay_interval_ms", "50".to_owned()),
        ("service.outbox_backoff_base_ms", "100".to_owned()),
        ("service.outbox_backoff_max_secs", "1".to_owned()),
        ("service.outbox_batch_size", "10".to_owned()),
    ]
}

async fn failure_on(database: Option<Arc<TestDatabase>>, port: u16) -> TestApp {
    TestApp::spawn_on(
        &failure_service::SPEC,
        failure_service::build,
        database,
        &relay_to(port),
    )
    .await
}

async fn gateway_on(database: Option<Arc<TestDatabase>>, port: u16) -> TestApp {
    TestApp::spawn_on(
        &integration_gateway::SPEC,
        integration_gateway::build,
        database,
        &[("server.port", port.to_string())],
    )
    .await
}

/// A report whose tests `names` each fail with a problem of their own.
fn report_failing(names: &[&str]) -> String {
    let cases: String = names
        .iter()
        .map(|name| {
            format!(
                "<testcase classname=\"com.acme.T\" name=\"{name}\">\
                 <failure message=\"{name} broke\" type=\"com.acme.{name}Error\">\
                 com.acme.{name}Error: {name} broke\n\tat com.acme.{name}.run({name}.java:1)\n\
                 </failure></testcase>"
            )
        })
        .collect();
    format!("<testsuite name=\"S\">{cases}</testsuite>")
}

async fn upload_failing(app: &TestApp, ctx: &TenantContext, build: Uuid, names: &[&str]) {
    let reply = app
        .upload(ctx, build, Body::xml(report_failing(names)), None)
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
}

async fn finish(app: &TestApp, ctx: &TenantContext, build: Uuid, status: &str) -> Value {
    let path = format!("/v1/projects/{}/builds/{build}", project_of(ctx));
    app.patch(&path, ctx, json!({ "status": status }))
        .await
        .expect(200)
}

/// `(id, kind, payload)` of the outbox's events, oldest first, read as
/// the admin.
async fn outbox(app: &TestApp) -> Vec<(Uuid, String, Value)> {
    app.database()
        .admin_client()
        .await
        .query(
            "SELECT id, kind, payload FROM failure.outbox ORDER BY id",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| {
            (
                row.try_get(0).unwrap(),
                row.try_get(1).unwrap(),
                row.try_get(2).unwrap(),
            )
        })
        .collect()
}

/// Event ids in the integration gateway's inbox, sorted.
async fn inbox_ids(admin: &Client) -> Vec<Uuid> {
    admin
        .query(
            "SELECT event_id FROM integration.event_inbox ORDER BY event_id",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.try_get(0).unwrap())
        .collect()
}

async fn undelivered(admin: &Client) -> i64 {
    admin
        .query_one(
            "SELECT count(*) FROM failure.outbox WHERE delivered_at IS NULL",
            &[],
        )
        .await
        .unwrap()
        .try_get(0)
        .unwrap()
}

/// Waits until the inbox holds exactly `expected` (sorted) ids and the
/// outbox has marked every event delivered.
async fn wait_for_delivery(app: &TestApp, expected: &[Uuid]) {
    let admin = app.database().admin_client().await;
    eventually("every event in the inbox", DEADLINE, || async {
        (inbox_ids(&admin).await == expected).then_some(())
    })
    .await;
    eventually("the outbox marked delivered", DEADLINE, || async {
        (undelivered(&admin).await == 0).then_some(())
    })
    .await;
}

fn sorted_ids(events: &[(Uuid, String, Value)]) -> Vec<Uuid> {
    let mut ids: Vec<Uuid> = events.iter().map(|(id, _, _)| *id).collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn every_event_reaches_the_gateway_once_although_it_is_not_listening_at_first() {
    let port = test_support::later_port();
    let failure = failure_on(Some(Arc::new(TestDatabase::create().await)), port).await;
    let ctx = helpers::uploader(Uuid::now_v7());
    let build = failure.create_build(&ctx, "1").await;
    upload_failing(&failure, &ctx, build, &["alpha", "beta"]).await;
    finish(&failure, &ctx, build, "failed").await;
    let events = outbox(&failure).await;
    assert_eq!(events.len(), 3, "{events:?}");

    let failed = failure
        .wait_for_metric("outbox_failed_attempts_total", DEADLINE, |n| n >= 3.0)
        .await;
    assert!(failed >= 3.0);
    assert_eq!(failure.metric("outbox_delivered_total").await, 0.0);
    failure
        .wait_for_metric("outbox_pending", DEADLINE, |n| n == 3.0)
        .await;
    let admin = failure.database().admin_client().await;
    assert_eq!(undelivered(&admin).await, 3);
    assert!(inbox_ids(&admin).await.is_empty());

    let gateway = gateway_on(failure.shared_database(), port).await;
    wait_for_delivery(&gateway, &sorted_ids(&events)).await;
    assert_eq!(failure.metric("outbox_delivered_total").await, 3.0);
    assert!(failure.metric("outbox_failed_attempts_total").await >= failed);
    failure
        .wait_for_metric("outbox_pending", DEADLINE, |n| n == 0.0)
        .await;
    let attempts: i32 = admin
        .query_one("SELECT min(attempts) FROM failure.outbox", &[])
        .await
        .unwrap()
        .try_get(0)
        .unwrap();
    assert!(attempts >= 2, "each event failed before it was delivered");
}

#[tokio::test]
async fn events_published_while_the_gateway_is_down_are_delivered_by_a_restarted_service() {
    let port = test_support::later_port();
    let first = failure_on(Some(Arc::new(TestDatabase::create().await)), port).await;
    let database = first.shared_database();
    let ctx = helpers::uploader(Uuid::now_v7());
    let build = first.create_build(&ctx, "1").await;
    upload_failing(&first, &ctx, build, &["alpha", "beta", "gamma"]).await;
    finish(&first, &ctx, build, "failed").await;
    let events = outbox(&first).await;
    assert_eq!(events.len(), 4);
    first.stop().await;

    let gateway = gateway_on(database.clone(), port).await;
    let second = failure_on(database, port).await;
    wait_for_delivery(&gateway, &sorted_ids(&events)).await;
    assert_eq!(second.metric("outbox_delivered_total").await, 4.0);

    // A relay that stopped after the gateway committed but before it
    // marked the events delivered sends them again: the inbox keeps one
    // row per event.
    second
        .database()
        .admin_client()
        .await
        .execute("UPDATE failure.outbox SET delivered_at = NULL", &[])
        .await
        .unwrap();
    second
        .wait_for_metric("outbox_delivered_total", DEADLINE, |n| n == 8.0)
        .await;
    wait_for_delivery(&gateway, &sorted_ids(&events)).await;
    assert_eq!(gateway.count_rows("integration.event_inbox").await, 4);
}

#[tokio::test]
async fn two_relays_at_once_deliver_each_event_once() {
    let port = test_support::later_port();
    let one = failure_on(Some(Arc::new(TestDatabase::create().await)), port).await;
    let gateway = gateway_on(one.shared_database(), port).await;
    let other = failure_on(one.shared_database(), port).await;
    let names: Vec<String> = (0..60).map(|n| format!("t{n}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let projects = [Uuid::now_v7(), Uuid::now_v7()];
    for project in projects {
        let ctx = helpers::uploader(project);
        let build = one.create_build(&ctx, "1").await;
        upload_failing(&one, &ctx, build, &names).await;
    }
    let events = outbox(&one).await;
    assert_eq!(events.len(), 120);
    wait_for_delivery(&gateway, &sorted_ids(&events)).await;
    let delivered =
        one.metric("outbox_delivered_total").await + other.metric("outbox_delivered_total").await;
    assert_eq!(delivered, 120.0, "an event was sent by both relays");
    assert_eq!(one.metric("outbox_failed_attempts_total").await, 0.0);
    assert_eq!(other.metric("outbox_failed_attempts_total").await, 0.0);
}

#[tokio::test]
async fn group_created_is_published_only_for_groups_an_upload_inserted() {
    let app = helpers::spawn().await;
    let ctx = helpers::uploader(Uuid::now_v7());
    let first = app.create_build(&ctx, "1").await;
    upload_failing(&app, &ctx, first, &["alpha", "beta"]).await;
    let second = app.create_build(&ctx, "2").await;
    upload_failing(&app, &ctx, second, &["alpha", "gamma"]).await;
    upload_failing(&app, &ctx, second, &["alpha", "gamma"]).await;

    let events = outbox(&app).await;
    let created: Vec<&Value> = events
        .iter()
        .filter(|(_, kind, _)| kind == "group.created")
        .map(|(_, _, payload)| payload)
        .collect();
    assert_eq!(events.len(), created.len(), "{events:?}");
    let messages: Vec<&str> = created
        .iter()
        .map(|p| p["message"].as_str().unwrap())
        .collect();
    assert_eq!(messages.len(), 3, "{messages:?}");
    for name in ["alpha", "beta", "gamma"] {
        assert_eq!(
            messages
                .iter()
                .filter(|m| **m == format!("{name} broke"))
                .count(),
            1,
            "{name}: {messages:?}"
        );
    }
    let groups: Vec<String> = app
        .database()
        .admin_client()
        .await
        .query("SELECT id::text FROM failure.failure_groups", &[])
        .await
        .unwrap()
        .iter()
        .map(|row| row.try_get(0).unwrap())
        .collect();
    for payload in &created {
        assert!(groups.contains(&payload["group_id"].as_str().unwrap().to_owned()));
    }
    let gamma = created
        .iter()
        .find(|p| p["message"] == "gamma broke")
        .unwrap();
    assert_eq!(gamma["build_id"], second.to_string());
}

#[tokio::test]
async fn a_finished_build_publishes_build_completed_once_with_its_counts_and_new_groups() {
    let app = helpers::spawn().await;
    let ctx = helpers::uploader(Uuid::now_v7());
    let first = app.create_build(&ctx, "1").await;
    upload_failing(&app, &ctx, first, &["alpha"]).await;
    let build = app.create_build(&ctx, "2").await;
    upload_failing(&app, &ctx, build, &["alpha", "beta"]).await;
    let passing = "<testsuite name=\"S\"><testcase classname=\"com.acme.T\" name=\"alpha\"/>\
                   <testcase classname=\"com.acme.T\" name=\"ok\"/></testsuite>";
    let reply = app.upload(&ctx, build, Body::xml(passing), None).await;
    assert_eq!(reply.status, 201, "{}", reply.text);

    let finished = finish(&app, &ctx, build, "failed").await;
    finish(&app, &ctx, build, "failed").await;
    let completed: Vec<Value> = outbox(&app)
        .await
        .into_iter()
        .filter(|(_, kind, _)| kind == "build.completed")
        .map(|(_, _, payload)| payload)
        .collect();
    assert_eq!(
        completed.len(),
        1,
        "a second PATCH is not a second completion"
    );
    let event = &completed[0];
    assert_eq!(event["build_id"], build.to_string());
    assert_eq!(event["status"], "failed");
    assert_eq!(event["job_name"], "ci");
    assert_eq!(event["finished_at"], finished["finished_at"]);
    assert_eq!(
        event["counts"],
        json!({"tests": 3, "passed": 1, "failures": 1, "errors": 0, "skipped": 0, "flaky": 1})
    );
    assert_eq!(event["flaky"], 1);
    let beta: String = app
        .database()
        .admin_client()
        .await
        .query_one(
            "SELECT id::text FROM failure.failure_groups WHERE message = 'beta broke'",
            &[],
        )
        .await
        .unwrap()
        .try_get(0)
        .unwrap();
    assert_eq!(event["new_groups"], 1, "alpha was first seen in build 1");
    assert_eq!(event["new_group_ids"], json!([beta]));

    // Running again and finishing again is a new completion.
    finish(&app, &ctx, build, "running").await;
    finish(&app, &ctx, build, "passed").await;
    let kinds: Vec<String> = outbox(&app).await.into_iter().map(|(_, k, _)| k).collect();
    assert_eq!(kinds.iter().filter(|k| *k == "build.completed").count(), 2);
}

#[tokio::test]
async fn an_upload_that_fails_publishes_nothing() {
    let app = helpers::spawn().await;
    let ctx = helpers::uploader(Uuid::now_v7());
    let build = app.create_build(&ctx, "1").await;
    let report = report_failing(&["alpha", "beta"]);
    let broken = &report[..report.len() - 30];
    let reply = app
        .upload(&ctx, build, Body::xml(broken.to_owned()), None)
        .await;
    assert!(reply.status.is_client_error(), "{}", reply.text);
    assert_eq!(app.count_rows("failure.failure_groups").await, 0);
    assert_eq!(app.count_rows("failure.outbox").await, 0);
}

#[tokio::test]
async fn the_runtime_role_sees_which_projects_wait_but_no_event_outside_its_project() {
    let app = helpers::spawn().await;
    let ctx = helpers::uploader(Uuid::now_v7());
    let build = app.create_build(&ctx, "1").await;
    upload_failing(&app, &ctx, build, &["alpha", "beta"]).await;
    let runtime = app.database().connect_as("failure_app").await.unwrap();
    let count = |sql: &'static str| {
        let runtime = &runtime;
        async move {
            runtime
                .query_one(sql, &[])
                .await
                .unwrap()
                .try_get::<_, i64>(0)
                .unwrap()
        }
    };
    assert_eq!(count("SELECT count(*) FROM failure.outbox").await, 0);
    let waiting = runtime
        .query_one(
            "SELECT project_id, pending FROM failure.outbox_projects",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(waiting.try_get::<_, Uuid>(0).unwrap(), project_of(&ctx));
    assert_eq!(waiting.try_get::<_, i64>(1).unwrap(), 2);
    let refused = runtime
        .execute("DELETE FROM failure.outbox_projects", &[])
        .await;
    assert!(refused.is_err(), "the view is read only");
    runtime
        .batch_execute(&format!("SET app.project_id = '{}'", Uuid::now_v7()))
        .await
        .unwrap();
    assert_eq!(count("SELECT count(*) FROM failure.outbox").await, 0);
    assert_eq!(
        runtime
            .execute("UPDATE failure.outbox SET delivered_at = now()", &[])
            .await
            .unwrap(),
        0,
        "another project's events cannot be changed"
    );
    runtime
        .batch_execute(&format!("SET app.project_id = '{}'", project_of(&ctx)))
        .await
        .unwrap();
    assert_eq!(count("SELECT count(*) FROM failure.outbox").await, 2);
}

#[tokio::test]
async fn delivered_events_past_the_retention_are_pruned_and_waiting_ones_kept() {
    let port = test_support::later_port();
    let failure = failure_on(Some(Arc::new(TestDatabase::create().await)), port).await;
    let ctx = helpers::uploader(Uuid::now_v7());
    let build = failure.create_build(&ctx, "1").await;
    upload_failing(&failure, &ctx, build, &["alpha", "beta"]).await;

    let settings: failure_service::Settings = test_support::settings(
        &failure_service::SPEC,
        Some(failure.database()),
        &relay_to(port),
    );
    let db = Db::connect(
        settings.database.as_ref().unwrap(),
        "failure",
        "failure-tests",
    )
    .await
    .unwrap();
    let relay_settings = RelaySettings {
        retention: Duration::ZERO,
        ..settings.service.outbox_relay()
    };
    let relay = OutboxRelay::new(
        db,
        InternalTokenIssuer::new(&settings.internal_token).unwrap(),
        "failure-service",
        Uuid::now_v7(),
        relay_settings,
        OutboxMetrics::default(),
    )
    .unwrap();
    assert_eq!(
        relay.prune_once().await.unwrap(),
        0,
        "nothing delivered yet"
    );
    assert_eq!(failure.count_rows("failure.outbox").await, 2);

    let gateway = gateway_on(failure.shared_database(), port).await;
    let events = outbox(&failure).await;
    wait_for_delivery(&gateway, &sorted_ids(&events)).await;
    assert_eq!(relay.prune_once().await.unwrap(), 2);
    assert_eq!(failure.count_rows("failure.outbox").await, 0);
    assert_eq!(gateway.count_rows("integration.event_inbox").await, 2);
}
