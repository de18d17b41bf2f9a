//! Quarantine, end to end: a quarantined test's failures stay out of the
//! build verdict, CI reads the list as JSON or text, every change is
//! audited, and a project can quarantine tests as soon as they are flagged
//! flaky.

use reqwest::Method;
use serde_json::{Value, json};
use tenant_core::{Role, TenantContext};
use test_support::{Reply, contexts};
use uuid::Uuid;

use crate::flaky::{Fail, Pass, PassOnRerun, build, build_with, flagged, flaky_tests, test_id_of};
use crate::helpers::{self, project_of};

fn quarantine_path(ctx: &TenantContext, test: Uuid) -> String {
    format!("/v1/projects/{}/quarantine/{test}", project_of(ctx))
}

fn admin(ctx: &TenantContext) -> TenantContext {
    contexts::user(project_of(ctx), Role::Admin)
}

#[tokio::test]
async fn a_quarantined_test_fails_no_build_verdict_and_ci_reads_the_list_as_json_or_text() {
    let app = helpers::spawn().await;
    let ctx = helpers::uploader(Uuid::now_v7());
    let viewer = helpers::viewer(project_of(&ctx));
    let red = build_with(&app, &ctx, "1", None, &[("flaky", Fail), ("solid", Pass)]).await;
    let verdict = &build(&app, &ctx, red).await["verdict"];
    assert_eq!(
        verdict,
        &json!({"outcome": "failed", "failures_counted": 1, "quarantined_failures": 0})
    );

    let test = test_id_of(&ctx, "flaky");
    let put = |ctx: &TenantContext, body: Option<Value>| {
        let app = &app;
        let path = quarantine_path(ctx, test);
        let ctx = ctx.clone();
        async move { app.call(Method::PUT, &path, &ctx, body).await }
    };
    put(&viewer, None)
        .await
        .expect_problem(403, "context.role_too_low");
    let reply = put(
        &ctx,
        Some(json!({"reason": "times out on the shared runner"})),
    )
    .await;
    // Relative to the request's own path: the entry is where it was put.
    assert_eq!(reply.header("location"), Some(test.to_string().as_str()));
    let entry = reply.expect(201);
    assert_eq!(entry["test"]["name"], "flaky");
    assert_eq!(entry["automatic"], false);
    assert_eq!(entry["reason"], "times out on the shared runner");
    put(&ctx, None).await.expect(200);
    put(&ctx, Some(Value::Null)).await.expect(200);
    // The member's quarantine is published once, not again by the repeat.
    let published = app
        .database()
        .admin_client()
        .await
        .query(
            "SELECT payload FROM failure.outbox WHERE kind = 'test.quarantined'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(published.len(), 1);
    let payload: Value = published[0].try_get(0).unwrap();
    assert_eq!(payload["automatic"], false);
    assert_eq!(payload["test_id"], test.to_string().as_str());
    put(&ctx, Some(json!({"why": "unknown field"})))
        .await
        .expect_problem(422, "request.invalid_body");
    let unknown = quarantine_path(&ctx, Uuid::now_v7());
    app.call(Method::PUT, &unknown, &ctx, None)
        .await
        .expect_problem(404, "test.not_found");

    let verdict = &build(&app, &ctx, red).await["verdict"];
    assert_eq!(
        verdict,
        &json!({"outcome": "passed", "failures_counted": 0, "quarantined_failures": 1})
    );
    // Still run and recorded.
    assert_eq!(build(&app, &ctx, red).await["totals"]["failures"], 1);

    let list_path = format!("/v1/projects/{}/quarantine", project_of(&ctx));
    let list = app.get(&list_path, &viewer).await.expect(200);
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert_eq!(list["items"][0]["test"]["id"], test.to_string());
    let text = Reply::from_request(
        app.request_as(Method::GET, &list_path, &viewer)
            .header("accept", "text/plain"),
    )
    .await;
    assert_eq!(text.status, 200);
    assert!(
        text.header("content-type")
            .unwrap()
            .starts_with("text/plain")
    );
    assert_eq!(text.text, format!("{test}\n"));
    let text = app.get(&format!("{list_path}?format=text"), &viewer).await;
    assert_eq!(text.text, format!("{test}\n"));

    app.delete(&quarantine_path(&ctx, test), &viewer)
        .await
        .expect_problem(403, "context.role_too_low");
    let reply = app.delete(&quarantine_path(&ctx, test), &ctx).await;
    assert_eq!(reply.status, 204);
    assert_eq!(build(&app, &ctx, red).await["verdict"]["outcome"], "failed");
    let text = app.get(&format!("{list_path}?format=text"), &viewer).await;
    assert_eq!(text.text, "");

    let admin_db = app.database().admin_client().await;
    let audit = admin_db
        .query(
            "SELECT action, automatic, actor, reason FROM failure.quarantine_audit
              WHERE test_id = $1 ORDER BY created_at, action DESC",
            &[&test],
        )
        .await
        .unwrap();
    let audit: Vec<(String, bool, Option<Uuid>, Option<String>)> = audit
        .iter()
        .map(|row| {
            (
                row.try_get(0).unwrap(),
                row.try_get(1).unwrap(),
                row.try_get(2).unwrap(),
                row.try_get(3).unwrap(),
            )
        })
        .collect();
    let actor = Some(ctx.principal().id);
    assert_eq!(
        audit,
        [
            (
                "quarantined".to_owned(),
                false,
                actor,
                Some("times out on the shared runner".to_owned())
            ),
            ("released".to_owned(), false, actor, None),
        ]
    );
}

#[tokio::test]
async fn a_project_that_enables_auto_quarantine_has_tests_quarantined_when_flagged_flaky() {
    let app = helpers::spawn().await;
    let ctx = helpers::uploader(Uuid::now_v7());
    let viewer = helpers::viewer(project_of(&ctx));
    let settings_path = format!("/v1/projects/{}/settings/flaky-tests", project_of(&ctx));
    let defaults = app.get(&settings_path, &viewer).await.expect(200);
    assert_eq!(defaults["branch"], "main");
    assert_eq!(defaults["min_sample"], 10);
    assert_eq!(defaults["recovery_passes"], 10);
    assert_eq!(defaults["auto_quarantine"], false);

    app.put(&settings_path, &ctx, json!({"auto_quarantine": true}))
        .await
        .expect_problem(403, "context.role_too_low");
    app.put(&settings_path, &admin(&ctx), json!({"min_sample": 0}))
        .await
        .expect_problem(422, "request.invalid_body");
    // An integer written with a zero fraction is an integer.
    let saved = app
        .put(
            &settings_path,
            &admin(&ctx),
            json!({"auto_quarantine": true, "min_sample": 10.0}),
        )
        .await
        .expect(200);
    assert_eq!(saved["auto_quarantine"], true);
    assert_eq!(saved["min_sample"], 10);
    assert_eq!(
        saved["window_results"], 50,
        "an omitted field takes its default"
    );
    assert_eq!(app.get(&settings_path, &viewer).await.expect(200), saved);

    let red = build_with(
        &app,
        &ctx,
        "1",
        None,
        &[("sync", PassOnRerun), ("sort", Fail)],
    )
    .await;
    let item = flagged(&app, &ctx, "sync").await.expect("sync is flagged");
    assert_eq!(item["quarantined"], true);
    let list_path = format!("/v1/projects/{}/quarantine", project_of(&ctx));
    let list = app.get(&list_path, &viewer).await.expect(200);
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert_eq!(list["items"][0]["test"]["name"], "sync");
    assert_eq!(list["items"][0]["automatic"], true);
    assert!(list["items"][0]["quarantined_by"].is_null());
    assert_eq!(
        build(&app, &ctx, red).await["verdict"]["failures_counted"],
        1
    );

    let not_quarantined = flaky_tests(&app, &ctx, "?quarantined=false").await;
    assert!(not_quarantined["items"].as_array().unwrap().is_empty());

    let admin_db = app.database().admin_client().await;
    let row = admin_db
        .query_one(
            "SELECT action, automatic, actor FROM failure.quarantine_audit WHERE test_id = $1",
            &[&test_id_of(&ctx, "sync")],
        )
        .await
        .unwrap();
    let (action, automatic, actor): (String, bool, Option<Uuid>) = (
        row.try_get(0).unwrap(),
        row.try_get(1).unwrap(),
        row.try_get(2).unwrap(),
    );
    assert_eq!(
        (action.as_str(), automatic, actor),
        ("quarantined", true, None)
    );

    // Both changes are published in the upload's transaction.
    let events = admin_db
        .query(
            "SELECT kind, payload FROM failure.outbox
              WHERE kind IN ('test.flaky_detected', 'test.quarantined')
              ORDER BY kind",
            &[],
        )
        .await
        .unwrap();
    let events: Vec<(String, serde_json::Value)> = events
        .iter()
        .map(|row| (row.try_get(0).unwrap(), row.try_get(1).unwrap()))
        .collect();
    let test = test_id_of(&ctx, "sync").to_string();
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(events[0].0, "test.flaky_detected");
    assert_eq!(events[0].1["test_id"], test.as_str());
    assert_eq!(events[0].1["state"], "flaky");
    assert_eq!(events[1].0, "test.quarantined");
    assert_eq!(events[1].1["test_id"], test.as_str());
    assert_eq!(events[1].1["automatic"], true);
}
