//! The service as tests start it: on its own database, with a master key
//! of the suite's, loopback and plain http allowed for the wiremock
//! receivers, and quick retries; and the contexts tests call it with.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use tenant_core::context::{Principal, PrincipalKind, ProjectAccess};
use tenant_core::{Role, TenantContext};
use test_support::{TestApp, TestDatabase, contexts};
use uuid::Uuid;

pub const EVENTS: &str = "/internal/v1/events";

/// A master key of the suite: 32 distinct bytes.
pub fn master_key(seed: u8) -> String {
    let bytes: Vec<u8> = (0_u8..32)
        .map(|i| i.wrapping_mul(29).wrapping_add(seed))
        .collect();
    STANDARD.encode(bytes)
}

/// The setting that configures master key `id` (`k1` or `k2`).
fn key_setting(id: &str) -> &'static str {
    if id == "k1" {
        "service.master_keys.k1"
    } else {
        "service.master_keys.k2"
    }
}

/// Settings with exactly the master keys `keys` (ids `k1`, `k2`, each made
/// from its seed), `current` wrapping new data keys.
pub fn with_master_keys(
    current: &'static str,
    keys: &[(&'static str, u8)],
) -> Vec<(&'static str, String)> {
    let mut settings = vec![("service.master_key_id", current.to_owned())];
    for (id, seed) in keys {
        settings.push((key_setting(id), master_key(*seed)));
    }
    settings.extend(common_settings());
    settings
}

/// Settings every test service gets: master key `k1`, mock receivers
/// reachable, retries within tens of milliseconds.
pub fn test_settings() -> Vec<(&'static str, String)> {
    with_master_keys("k1", &[("k1", 1)])
}

fn common_settings() -> Vec<(&'static str, String)> {
    vec![
        ("service.allow_http", "true".to_owned()),
        ("service.allow_loopback", "true".to_owned()),
        ("service.delivery_poll_interval_ms", "50".to_owned()),
        ("service.delivery_backoff_base_ms", "20".to_owned()),
        ("service.delivery_backoff_max_secs", "1".to_owned()),
        ("service.breaker_failure_threshold", "1000".to_owned()),
        ("service.outbound_timeout_ms", "3000".to_owned()),
    ]
}

/// `test_settings` with `extra` last.
fn with(extra: &[(&'static str, String)]) -> Vec<(&'static str, String)> {
    let mut settings = test_settings();
    settings.extend(extra.iter().cloned());
    settings
}

pub async fn spawn(extra: &[(&'static str, String)]) -> TestApp {
    TestApp::spawn(
        &integration_gateway::SPEC,
        integration_gateway::build,
        &with(extra),
    )
    .await
}

pub async fn spawn_on(database: Arc<TestDatabase>, extra: &[(&'static str, String)]) -> TestApp {
    spawn_with(database, &with(extra)).await
}

/// The service on `database` with exactly `settings`.
pub async fn spawn_with(
    database: Arc<TestDatabase>,
    settings: &[(&'static str, String)],
) -> TestApp {
    TestApp::spawn_on(
        &integration_gateway::SPEC,
        integration_gateway::build,
        Some(database),
        settings,
    )
    .await
}

pub fn admin(project: Uuid) -> TenantContext {
    contexts::user(project, Role::Admin)
}

/// A relaying service, acting in `project_id`.
pub fn relay(project_id: Uuid) -> TenantContext {
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

pub fn connections_path(project: Uuid) -> String {
    format!("/v1/projects/{project}/integrations/connections")
}

pub fn rules_path(project: Uuid) -> String {
    format!("/v1/projects/{project}/integrations/rules")
}

pub fn deliveries_path(project: Uuid) -> String {
    format!("/v1/projects/{project}/integrations/deliveries")
}

/// Creates a connection and returns its id.
pub async fn connect(app: &TestApp, project: Uuid, body: Value) -> String {
    let created = app
        .post(&connections_path(project), &admin(project), body)
        .await
        .expect(201);
    created["id"].as_str().unwrap().to_owned()
}

/// Sends `events` of `connection` through a new rule.
pub async fn rule(app: &TestApp, project: Uuid, connection: &str, events: &[&str]) {
    app.post(
        &rules_path(project),
        &admin(project),
        json!({"connection_id": connection, "events": events}),
    )
    .await
    .expect(201);
}

/// A `build.completed` event of `job` on `branch`.
pub fn build_completed(project: Uuid, job: &str, branch: &str) -> Value {
    json!({
        "id": Uuid::now_v7(),
        "project_id": project,
        "kind": "build.completed",
        "occurred_at": "2026-11-26T10:00:00Z",
        "payload": {
            "build_id": Uuid::now_v7(), "job_name": job, "number": 7, "branch": branch,
            "status": "failed", "url": "https://ci.example.com/7",
            "counts": {"tests": 10, "passed": 8, "failures": 2, "errors": 0, "skipped": 0, "flaky": 1},
        },
    })
}

/// Relays `events` to the inbox.
pub async fn relay_events(app: &TestApp, project: Uuid, events: &[Value]) {
    app.post(
        EVENTS,
        &relay(project),
        json!({"source": "failure-service", "events": events}),
    )
    .await
    .expect(200);
}

/// The project's deliveries, newest first.
pub async fn deliveries(app: &TestApp, project: Uuid) -> Vec<Value> {
    app.get(
        &format!("{}?limit=200", deliveries_path(project)),
        &admin(project),
    )
    .await
    .expect(200)["items"]
        .as_array()
        .unwrap()
        .clone()
}

/// Waits until the project has `count` deliveries, all with `status`.
pub async fn wait_for_deliveries(
    app: &TestApp,
    project: Uuid,
    count: usize,
    status: &str,
) -> Vec<Value> {
    test_support::eventually(
        &format!("{count} deliveries {status}"),
        Duration::from_secs(20),
        || async {
            let items = deliveries(app, project).await;
            (items.len() == count && items.iter().all(|d| d["status"] == status)).then_some(items)
        },
    )
    .await
}

/// A rule of `connection` with the other fields of `body`.
pub async fn rule_with(app: &TestApp, project: Uuid, connection: &str, mut body: Value) {
    body["connection_id"] = json!(connection);
    app.post(&rules_path(project), &admin(project), body)
        .await
        .expect(201);
}
