//! The inbox (`POST /internal/v1/events`): each event kept once, for
//! services only, and events that are repeated, late or out of order
//! change no rollup.

use serde_json::json;
use tenant_core::outbox::OutboxEvent;
use test_support::contexts;
use uuid::Uuid;

use crate::helpers::{
    Outcome, Stack, case, deliver, fail, kept_events, member, pass, project_of, rollups_snapshot,
};

#[tokio::test]
async fn events_reach_analytics_while_the_integration_gateway_is_down() {
    let stack = Stack::start().await;
    let ctx = member(Uuid::now_v7());
    stack
        .build(&ctx, "ci", "main", &[pass("a", 5)], "passed")
        .await;
    stack.wait_for_builds(&ctx, 1).await;
    let admin = stack.analytics.database().admin_client().await;
    let undelivered: i64 = admin
        .query_one(
            "SELECT count(*) FROM failure.outbox WHERE delivered_at IS NULL",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(
        undelivered > 0,
        "the integration gateway's queue waits on its own"
    );
    let kept = kept_events(&admin, project_of(&ctx)).await;
    assert!(kept.iter().any(|e| e.kind == "build.completed"), "{kept:?}");
}

#[tokio::test]
async fn a_redelivered_batch_is_kept_once_and_reported_as_duplicates() {
    let stack = Stack::start().await;
    let project = Uuid::now_v7();
    let event = OutboxEvent::new(
        project,
        "build.completed",
        json!({"build_id": Uuid::now_v7()}),
    );
    let first = deliver(&stack.analytics, project, std::slice::from_ref(&event))
        .await
        .expect(200);
    assert_eq!(first["accepted"], json!([event.id]));
    let again = deliver(&stack.analytics, project, &[event.clone(), event.clone()])
        .await
        .expect(200);
    assert_eq!(again["accepted"], json!([]));
    assert_eq!(again["duplicates"], json!([event.id]));
    let admin = stack.analytics.database().admin_client().await;
    let kept: Vec<(Uuid, String)> = kept_events(&admin, project)
        .await
        .into_iter()
        .map(|e| (e.id, e.kind))
        .collect();
    assert_eq!(kept, vec![(event.id, event.kind)]);
}

#[tokio::test]
async fn only_services_deliver_and_only_their_context_projects_events() {
    let stack = Stack::start().await;
    let project = Uuid::now_v7();
    let event = OutboxEvent::new(project, "build.completed", json!({}));
    let batch = json!({"source": "failure-service", "events": [event]});
    stack
        .analytics
        .post(
            "/internal/v1/events",
            &contexts::user(project, tenant_core::Role::Owner),
            batch.clone(),
        )
        .await
        .expect_problem(403, "context.service_required");
    deliver(&stack.analytics, Uuid::now_v7(), &[event])
        .await
        .expect_problem(400, "project.context_mismatch");
}

#[tokio::test]
async fn repeated_late_and_out_of_order_events_change_no_rollup() {
    let stack = Stack::start().await;
    let ctx = member(Uuid::now_v7());
    let project = project_of(&ctx);
    stack
        .build(
            &ctx,
            "ci",
            "main",
            &[pass("a", 5), fail("b", "java.lang.IllegalStateException")],
            "failed",
        )
        .await;
    stack
        .build(
            &ctx,
            "ci",
            "main",
            &[
                pass("a", 7),
                case("b", Outcome::Flaky("java.io.IOException".into()), 9),
            ],
            "passed",
        )
        .await;
    stack.wait_for_builds(&ctx, 2).await;
    stack.wait_for_delivery().await;
    let admin = stack.analytics.database().admin_client().await;
    let before = rollups_snapshot(&admin, project).await;
    assert!(before.len() > 7, "{before:?}");

    let mut events = kept_events(&admin, project).await;
    events.reverse();
    let replay = deliver(&stack.analytics, project, &events)
        .await
        .expect(200);
    assert_eq!(replay["accepted"], json!([]), "every id is kept already");
    // The same events under new ids, newest first: applied again, late and
    // out of order, they still describe the same state.
    let late: Vec<OutboxEvent> = events
        .iter()
        .map(|e| OutboxEvent::new(project, &e.kind, e.payload.clone()))
        .collect();
    let accepted = deliver(&stack.analytics, project, &late).await.expect(200);
    assert_eq!(accepted["accepted"].as_array().unwrap().len(), late.len());
    assert_eq!(rollups_snapshot(&admin, project).await, before);
}

#[tokio::test]
async fn a_completed_build_has_its_gate_judged_and_gate_failed_published_without_anyone_asking() {
    let stack = Stack::start().await;
    let ctx = member(Uuid::now_v7());
    let project = project_of(&ctx);
    let admin_ctx = contexts::user(project, tenant_core::Role::Admin);
    stack
        .analytics
        .post(
            &format!("/v1/projects/{project}/quality-gate-rules"),
            &admin_ctx,
            json!({"name": "green main", "kind": "max_failures", "branch_pattern": "main", "threshold": 0}),
        )
        .await
        .expect(201);
    let build = stack
        .build(
            &ctx,
            "ci",
            "main",
            &[pass("a", 5), fail("b", "Boom")],
            "failed",
        )
        .await;
    stack.wait_for_delivery().await;

    // The event's delivery judged the gate: it is stored and its
    // gate.failed waits in the outbox, though nobody asked for the gate.
    let admin = stack.analytics.database().admin_client().await;
    let stored: Vec<String> = admin
        .query(
            "SELECT status FROM analytics.quality_gate_evaluations WHERE project_id = $1 AND build_id = $2",
            &[&project, &build],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(stored, ["failed"]);
    let published: i64 = admin
        .query_one(
            "SELECT count(*) FROM analytics.outbox WHERE project_id = $1 AND kind = 'gate.failed' AND payload->>'build_id' = $2",
            &[&project, &build.to_string()],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(published, 1);
    let gate = stack
        .analytics
        .get(
            &format!("/v1/projects/{project}/builds/{build}/quality-gate"),
            &ctx,
        )
        .await
        .expect(200);
    assert_eq!(gate["status"], "failed", "{gate}");
}
