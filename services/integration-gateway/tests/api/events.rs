//! `POST /internal/v1/events`: other services' outbox relays deliver
//! batches here; each event is kept once per id, and only a service may
//! deliver, for the project of its context.

use reqwest::Method;
use serde_json::{Value, json};
use tenant_core::context::{Principal, PrincipalKind, ProjectAccess};
use tenant_core::{Role, TenantContext};
use test_support::{TestApp, contexts};
use uuid::Uuid;

const EVENTS: &str = "/internal/v1/events";

async fn spawn() -> TestApp {
    crate::helpers::spawn(&[]).await
}

/// A relaying service, acting in `project_id`.
fn relay(project_id: Uuid) -> TenantContext {
    TenantContext::new(
        Principal {
            id: Uuid::now_v7(),
            kind: PrincipalKind::Service,
        },
        Some(ProjectAccess {
            project_id,
            role: Role::Member,
        }),
        "test",
    )
}

fn event(project_id: Uuid, kind: &str) -> Value {
    json!({
        "id": Uuid::now_v7(),
        "project_id": project_id,
        "kind": kind,
        "occurred_at": "2026-01-02T03:04:05Z",
        "payload": {"build_id": Uuid::now_v7(), "counts": {"tests": 3}},
    })
}

fn batch(events: &[Value]) -> Value {
    json!({"source": "failure-service", "events": events})
}

fn ids(events: &[Value]) -> Vec<Value> {
    events.iter().map(|e| e["id"].clone()).collect()
}

#[tokio::test]
async fn a_batch_is_stored_once_and_a_redelivery_is_reported_as_duplicates() {
    let app = spawn().await;
    let project = Uuid::now_v7();
    let events = [
        event(project, "group.created"),
        event(project, "build.completed"),
    ];
    let receipt = app
        .post(EVENTS, &relay(project), batch(&events))
        .await
        .expect(200);
    assert_eq!(receipt["accepted"], json!(ids(&events)));
    assert_eq!(receipt["duplicates"], json!([]));

    let later = event(project, "test.quarantined");
    let again = [events[1].clone(), later.clone()];
    let receipt = app
        .post(EVENTS, &relay(project), batch(&again))
        .await
        .expect(200);
    assert_eq!(receipt["accepted"], json!([later["id"]]));
    assert_eq!(receipt["duplicates"], json!([events[1]["id"]]));
    assert_eq!(app.count_rows("integration.event_inbox").await, 3);

    let stored = app
        .database()
        .admin_client()
        .await
        .query_one(
            "SELECT project_id, source, kind, occurred_at::text, payload
               FROM integration.event_inbox WHERE event_id = $1",
            &[&events[1]["id"].as_str().unwrap().parse::<Uuid>().unwrap()],
        )
        .await
        .unwrap();
    assert_eq!(stored.get::<_, Uuid>(0), project);
    assert_eq!(stored.get::<_, String>(1), "failure-service");
    assert_eq!(stored.get::<_, String>(2), "build.completed");
    assert_eq!(stored.get::<_, String>(3), "2026-01-02 03:04:05+00");
    assert_eq!(stored.get::<_, Value>(4), events[1]["payload"]);
}

#[tokio::test]
async fn the_same_event_twice_in_one_batch_is_stored_once() {
    let app = spawn().await;
    let project = Uuid::now_v7();
    let one = event(project, "group.created");
    let receipt = app
        .post(EVENTS, &relay(project), batch(&[one.clone(), one.clone()]))
        .await
        .expect(200);
    assert_eq!(receipt["accepted"], json!([one["id"]]));
    assert_eq!(receipt["duplicates"], json!([]));
    assert_eq!(app.count_rows("integration.event_inbox").await, 1);
}

#[tokio::test]
async fn only_a_service_in_a_project_may_deliver() {
    let app = spawn().await;
    let project = Uuid::now_v7();
    let body = batch(&[event(project, "group.created")]);
    app.post(EVENTS, &contexts::user(project, Role::Owner), body.clone())
        .await
        .expect_problem(403, "context.service_required");
    app.post(
        EVENTS,
        &contexts::api_key(project, Role::Member),
        body.clone(),
    )
    .await
    .expect_problem(403, "context.service_required");
    app.post(EVENTS, &contexts::service(), body.clone())
        .await
        .expect_problem(400, "context.project_required");
    let unsigned =
        test_support::Reply::from_request(app.request(Method::POST, EVENTS).json(&body)).await;
    assert_eq!(unsigned.status, 401, "{}", unsigned.text);
    assert_eq!(app.count_rows("integration.event_inbox").await, 0);
}

#[tokio::test]
async fn a_batch_with_another_projects_event_or_a_bad_kind_stores_nothing() {
    let app = spawn().await;
    let project = Uuid::now_v7();
    let mixed = [
        event(project, "group.created"),
        event(Uuid::now_v7(), "group.created"),
    ];
    app.post(EVENTS, &relay(project), batch(&mixed))
        .await
        .expect_problem(400, "project.context_mismatch");
    let bad_kind = [event(project, "group.created"), event(project, "Created")];
    app.post(EVENTS, &relay(project), batch(&bad_kind))
        .await
        .expect_problem(422, "events.invalid_batch");
    app.post(EVENTS, &relay(project), batch(&[]))
        .await
        .expect_problem(422, "events.invalid_batch");
    app.post(
        EVENTS,
        &relay(project),
        json!({"events": [event(project, "a.b")]}),
    )
    .await
    .expect_problem(422, "request.invalid_body");
    assert_eq!(app.count_rows("integration.event_inbox").await, 0);
}

#[tokio::test]
async fn a_project_sees_only_its_own_events() {
    let app = spawn().await;
    let (mine, theirs) = (Uuid::now_v7(), Uuid::now_v7());
    for project in [mine, theirs] {
        app.post(
            EVENTS,
            &relay(project),
            batch(&[event(project, "group.created")]),
        )
        .await
        .expect(200);
    }
    let runtime = app.database().connect_as("integration_app").await.unwrap();
    let visible = || async {
        runtime
            .query_one("SELECT count(*) FROM integration.event_inbox", &[])
            .await
            .unwrap()
            .get::<_, i64>(0)
    };
    assert_eq!(visible().await, 0, "no project set");
    runtime
        .batch_execute(&format!("SET app.project_id = '{mine}'"))
        .await
        .unwrap();
    assert_eq!(visible().await, 1, "its own project");
}
