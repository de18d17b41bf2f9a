//! The inbox (`POST /internal/v1/events`): each event kept once, for
//! services only, and events that are repeated, late or out of order
//! change no rollup.

use serde_json::json;
use tenant_core::outbox::OutboxEvent;
use test_support::contexts;
use uuid::Uuid;

use crate::helpers::{Platform, Relay, count, fail, flaky, kept_events, pass, rollups_snapshot};

#[tokio::test]
async fn events_reach_analytics_while_the_integration_gateway_is_down() {
    let platform = Platform::start(Relay::ToAnalytics).await;
    let project = platform.new_project().await;
    platform
        .build(&project, "ci", "main", &[pass("a")], "passed")
        .await;
    platform.wait_for_builds(&project, 1).await;
    let admin = platform.analytics.database().admin_client().await;
    let undelivered = count(
        &admin,
        "SELECT count(*) FROM failure.outbox WHERE delivered_at IS NULL",
    )
    .await;
    assert!(
        undelivered > 0,
        "the integration gateway's queue waits on its own"
    );
    let kept = kept_events(&admin, project.id).await;
    assert!(kept.iter().any(|e| e.kind == "build.completed"), "{kept:?}");
}

#[tokio::test]
async fn a_redelivered_batch_is_kept_once_and_reported_as_duplicates() {
    let platform = Platform::start(Relay::ToAnalytics).await;
    let project = Uuid::now_v7();
    let event = OutboxEvent::new(
        project,
        "build.completed",
        json!({"build_id": Uuid::now_v7()}),
    );
    let first = platform
        .deliver(project, std::slice::from_ref(&event))
        .await
        .expect(200);
    assert_eq!(first["accepted"], json!([event.id]));
    let again = platform
        .deliver(project, &[event.clone(), event.clone()])
        .await
        .expect(200);
    assert_eq!(again["accepted"], json!([]));
    assert_eq!(again["duplicates"], json!([event.id]));
    let admin = platform.analytics.database().admin_client().await;
    let kept: Vec<(Uuid, String)> = kept_events(&admin, project)
        .await
        .into_iter()
        .map(|e| (e.id, e.kind))
        .collect();
    assert_eq!(kept, vec![(event.id, event.kind)]);
}

#[tokio::test]
async fn only_services_deliver_and_only_their_context_projects_events() {
    let platform = Platform::start(Relay::ToAnalytics).await;
    let project = Uuid::now_v7();
    let event = OutboxEvent::new(project, "build.completed", json!({}));
    let batch = json!({"source": "failure-service", "events": [event]});
    platform
        .analytics
        .post(
            "/internal/v1/events",
            &contexts::user(project, tenant_core::Role::Owner),
            batch.clone(),
        )
        .await
        .expect_problem(403, "context.service_required");
    platform
        .deliver(Uuid::now_v7(), &[event])
        .await
        .expect_problem(400, "project.context_mismatch");
}

#[tokio::test]
async fn repeated_late_and_out_of_order_events_change_no_rollup() {
    let platform = Platform::start(Relay::ToAnalytics).await;
    let project = platform.new_project().await;
    platform
        .build(
            &project,
            "ci",
            "main",
            &[pass("a"), fail("b", "java.lang.IllegalStateException")],
            "failed",
        )
        .await;
    platform
        .build(
            &project,
            "ci",
            "main",
            &[
                pass("a").taking(7),
                flaky("b", "java.io.IOException").taking(9),
            ],
            "passed",
        )
        .await;
    platform.wait_for_builds(&project, 2).await;
    platform.wait_for_delivery().await;
    let admin = platform.analytics.database().admin_client().await;
    let before = rollups_snapshot(&admin, project.id).await;
    assert!(before.len() > 7, "{before:?}");

    let mut events = kept_events(&admin, project.id).await;
    events.reverse();
    let replay = platform.deliver(project.id, &events).await.expect(200);
    assert_eq!(replay["accepted"], json!([]), "every id is kept already");
    // The same events under new ids, newest first: applied again, late and
    // out of order, they still describe the same state.
    let late: Vec<OutboxEvent> = events
        .iter()
        .map(|e| OutboxEvent::new(project.id, &e.kind, e.payload.clone()))
        .collect();
    let accepted = platform.deliver(project.id, &late).await.expect(200);
    assert_eq!(accepted["accepted"].as_array().unwrap().len(), late.len());
    assert_eq!(rollups_snapshot(&admin, project.id).await, before);
}

#[tokio::test]
async fn a_completed_build_has_its_gate_judged_and_gate_failed_published_without_anyone_asking() {
    let platform = Platform::start(Relay::ToAnalytics).await;
    let project = platform.new_project().await;
    platform
        .rule(&project, "green main", "max_failures", Some(0.0), "main")
        .await;
    let build = platform
        .build(
            &project,
            "ci",
            "main",
            &[pass("a"), fail("b", "Boom")],
            "failed",
        )
        .await;
    platform.wait_for_delivery().await;

    // The event's delivery judged the gate: it is stored and its
    // gate.failed waits in the outbox, though nobody asked for the gate.
    let admin = platform.analytics.database().admin_client().await;
    let stored: Vec<String> = admin
        .query(
            "SELECT status FROM analytics.quality_gate_evaluations WHERE project_id = $1 AND build_id = $2",
            &[&project.id, &build],
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
            &[&project.id, &build.to_string()],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(published, 1);
    let gate = platform.gate(&project, build).await.expect(200);
    assert_eq!(gate["status"], "failed", "{gate}");
}
