//! Durable delivery to Slack and webhook receivers (wiremock): retries
//! until the receiver recovers, each event once, across a restart;
//! Standard Webhooks signatures; redirects, oversized answers and dead
//! letters with a retry by hand.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use uuid::Uuid;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::helpers::{
    admin, build_completed, connect, deliveries, deliveries_path, relay_events, rule, spawn,
    spawn_on, wait_for_deliveries,
};

const SIGNING_KEY: [u8; 24] = *b"faultline-webhook-key-24";

fn signing_secret() -> String {
    format!("whsec_{}", STANDARD.encode(SIGNING_KEY))
}

async fn slack_down_for(attempts: u64) -> MockServer {
    let slack = MockServer::start().await;
    if attempts > 0 {
        Mock::given(method("POST"))
            .and(path("/services/T0/B0/secret"))
            .respond_with(ResponseTemplate::new(500).set_body_string("internal_error"))
            .up_to_n_times(attempts)
            .with_priority(1)
            .mount(&slack)
            .await;
    }
    Mock::given(method("POST"))
        .and(path("/services/T0/B0/secret"))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .with_priority(2)
        .mount(&slack)
        .await;
    slack
}

fn slack_connection(slack: &MockServer) -> Value {
    json!({"kind": "slack", "name": "alerts", "webhook_url": format!("{}/services/T0/B0/secret", slack.uri())})
}

/// How often each job's build appears in the requests Slack accepted
/// (those after the first `failed` ones).
fn accepted_per_job(received: &[Request], failed: usize, jobs: usize) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for request in &received[failed..] {
        let body: Value = serde_json::from_slice(&request.body).unwrap();
        let text = body["text"].as_str().unwrap();
        for job in 0..jobs {
            if text.starts_with(&format!("Build job-{job} #7 on main failed")) {
                *counts.entry(format!("job-{job}")).or_insert(0) += 1;
            }
        }
    }
    counts
}

#[tokio::test]
async fn slack_down_for_the_first_attempts_gets_every_event_once_it_recovers() {
    let app = spawn(&[]).await;
    let slack = slack_down_for(4).await;
    let project = Uuid::now_v7();
    let connection = connect(&app, project, slack_connection(&slack)).await;
    rule(&app, project, &connection, &["build.completed"]).await;
    let events: Vec<Value> = (0..5)
        .map(|i| build_completed(project, &format!("job-{i}"), "main"))
        .collect();
    relay_events(&app, project, &events).await;
    // A redelivery by the relay makes no second delivery.
    relay_events(&app, project, &events).await;

    let delivered = wait_for_deliveries(&app, project, 5, "delivered").await;
    let received = slack.received_requests().await.unwrap();
    assert_eq!(
        received.len(),
        4 + 5,
        "4 failed attempts, then each event once"
    );
    let counts = accepted_per_job(&received, 4, 5);
    assert_eq!(counts.len(), 5, "{counts:?}");
    assert!(counts.values().all(|n| *n == 1), "{counts:?}");
    let attempts: i64 = delivered
        .iter()
        .map(|d| d["attempts"].as_i64().unwrap())
        .sum();
    assert_eq!(attempts, 9);
    assert!(delivered.iter().all(|d| d["last_error"].is_null()));
    assert_eq!(
        app.metric("integration_deliveries_delivered_total").await,
        5.0
    );

    // Pages of two, newest first, follow each other without a gap.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let query = cursor.map_or(String::new(), |c| format!("&cursor={c}"));
        let page = app
            .get(
                &format!("{}?limit=2{query}", deliveries_path(project)),
                &admin(project),
            )
            .await
            .expect(200);
        seen.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d["id"].clone()),
        );
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    let newest_first: Vec<Value> = delivered.iter().map(|d| d["id"].clone()).collect();
    assert_eq!(seen, newest_first);
}

#[tokio::test]
async fn no_event_is_lost_or_repeated_across_a_restart_in_the_middle() {
    let first = spawn(&[]).await;
    let database = first.shared_database().unwrap();
    let slack = slack_down_for(6).await;
    let project = Uuid::now_v7();
    let connection = connect(&first, project, slack_connection(&slack)).await;
    rule(&first, project, &connection, &["build.completed"]).await;
    let events: Vec<Value> = (0..6)
        .map(|i| build_completed(project, &format!("job-{i}"), "main"))
        .collect();
    relay_events(&first, project, &events).await;
    test_support::eventually("a few failed attempts", Duration::from_secs(10), || async {
        (slack.received_requests().await.unwrap().len() >= 3).then_some(())
    })
    .await;
    first.stop().await;

    let second = spawn_on(database, &[]).await;
    wait_for_deliveries(&second, project, 6, "delivered").await;
    let received = slack.received_requests().await.unwrap();
    let counts = accepted_per_job(&received, 6, 6);
    assert_eq!(counts.len(), 6, "{counts:?}");
    assert!(counts.values().all(|n| *n == 1), "{counts:?}");
    assert_eq!(received.len(), 6 + 6);
}

#[tokio::test]
async fn webhooks_carry_a_standard_webhooks_signature_that_verifies() {
    let app = spawn(&[]).await;
    let receiver = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hooks/faultline"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&receiver)
        .await;
    let project = Uuid::now_v7();
    let connection = connect(
        &app,
        project,
        json!({"kind": "webhook", "name": "hook", "url": format!("{}/hooks/faultline", receiver.uri()), "signing_secret": signing_secret()}),
    )
    .await;
    rule(&app, project, &connection, &["gate.failed"]).await;
    let gate = json!({
        "id": Uuid::now_v7(), "project_id": project, "kind": "gate.failed",
        "occurred_at": "2026-11-26T10:00:00Z",
        "payload": {
            "build_id": Uuid::now_v7(), "job_name": "ci", "branch": "main", "commit_sha": "abc123",
            "url": "https://ci.example.com/1", "evaluated_at": "2026-11-26T10:00:01Z",
            "failed_rules": [{"kind": "max_failures", "summary": "3 failures, at most 0 allowed"}],
        },
    });
    relay_events(&app, project, std::slice::from_ref(&gate)).await;
    wait_for_deliveries(&app, project, 1, "delivered").await;

    let received = receiver.received_requests().await.unwrap();
    assert_eq!(received.len(), 1);
    let request = &received[0];
    let header = |name: &str| {
        request
            .headers
            .get(name)
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned()
    };
    let id = header("webhook-id");
    assert_eq!(id, gate["id"].as_str().unwrap());
    let timestamp = header("webhook-timestamp");
    let signed = [
        id.as_bytes(),
        b".",
        timestamp.as_bytes(),
        b".",
        &request.body,
    ]
    .concat();
    let key = hmac::Key::new(hmac::HMAC_SHA256, &SIGNING_KEY);
    let expected = format!("v1,{}", STANDARD.encode(hmac::sign(&key, &signed).as_ref()));
    assert_eq!(header("webhook-signature"), expected);
    let age = chrono::Utc::now().timestamp() - timestamp.parse::<i64>().unwrap();
    assert!((0..60).contains(&age));

    let body: Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(body["type"], "gate.failed");
    assert_eq!(body["data"], gate["payload"]);
}

#[tokio::test]
async fn rules_filter_by_event_and_branch() {
    let app = spawn(&[]).await;
    let slack = slack_down_for(0).await;
    let project = Uuid::now_v7();
    let connection = connect(&app, project, slack_connection(&slack)).await;
    crate::helpers::rule_with(
        &app,
        project,
        &connection,
        json!({"events": ["build.completed"], "branch_filter": "release/*"}),
    )
    .await;
    let kept = build_completed(project, "job-0", "release/2.1");
    let other_branch = build_completed(project, "job-1", "feature/x");
    let mut other_kind = build_completed(project, "job-2", "release/2.1");
    other_kind["kind"] = json!("test.quarantined");
    relay_events(&app, project, &[kept.clone(), other_branch, other_kind]).await;
    let delivered = wait_for_deliveries(&app, project, 1, "delivered").await;
    assert_eq!(delivered[0]["event_id"], kept["id"]);
    assert_eq!(delivered[0]["event_kind"], "build.completed");
}

#[tokio::test]
async fn a_redirect_to_loopback_is_not_followed_and_dead_letters_can_be_retried_by_hand() {
    let app = spawn(&[("service.delivery_max_attempts", "2".to_owned())]).await;
    let internal = MockServer::start().await;
    let receiver = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hook"))
        .respond_with(
            ResponseTemplate::new(307)
                .insert_header("location", format!("{}/admin", internal.uri())),
        )
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&receiver)
        .await;
    let project = Uuid::now_v7();
    let connection = connect(
        &app,
        project,
        json!({"kind": "webhook", "name": "hook", "url": format!("{}/hook", receiver.uri()), "signing_secret": signing_secret()}),
    )
    .await;
    rule(&app, project, &connection, &["build.completed"]).await;
    relay_events(&app, project, &[build_completed(project, "job-0", "main")]).await;
    let dead = wait_for_deliveries(&app, project, 1, "dead").await;
    assert_eq!(dead[0]["attempts"], 2);
    assert!(
        dead[0]["last_error"].as_str().unwrap().contains("redirect"),
        "{}",
        dead[0]
    );
    assert!(internal.received_requests().await.unwrap().is_empty());
    let dead_only = app
        .get(
            &format!("{}?status=dead", deliveries_path(project)),
            &admin(project),
        )
        .await
        .expect(200);
    assert_eq!(dead_only["items"].as_array().unwrap().len(), 1);

    Mock::given(method("POST"))
        .and(path("/hook"))
        .respond_with(ResponseTemplate::new(200))
        .with_priority(2)
        .mount(&receiver)
        .await;
    let id = dead[0]["id"].as_str().unwrap();
    let retried = app
        .post(
            &format!("{}/{id}/retry", deliveries_path(project)),
            &admin(project),
            json!({}),
        )
        .await
        .expect(202);
    assert_eq!(retried["status"], "pending");
    let delivered = wait_for_deliveries(&app, project, 1, "delivered").await;
    assert_eq!(delivered[0]["attempts"], 1);
    app.post(
        &format!("{}/{id}/retry", deliveries_path(project)),
        &admin(project),
        json!({}),
    )
    .await
    .expect_problem(409, "delivery.already_delivered");
}

#[tokio::test]
async fn an_oversized_answer_fails_the_delivery_and_a_client_error_dead_letters_it() {
    let app = spawn(&[("service.max_response_bytes", "1024".to_owned())]).await;
    let receiver = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/big"))
        .respond_with(ResponseTemplate::new(200).set_body_string("x".repeat(64 * 1024)))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&receiver)
        .await;
    Mock::given(method("POST"))
        .and(path("/big"))
        .respond_with(ResponseTemplate::new(410).set_body_string("gone"))
        .with_priority(2)
        .mount(&receiver)
        .await;
    let project = Uuid::now_v7();
    let connection = connect(
        &app,
        project,
        json!({"kind": "webhook", "name": "hook", "url": format!("{}/big", receiver.uri()), "signing_secret": signing_secret()}),
    )
    .await;
    rule(&app, project, &connection, &["build.completed"]).await;
    relay_events(&app, project, &[build_completed(project, "job-0", "main")]).await;
    let dead = wait_for_deliveries(&app, project, 1, "dead").await;
    assert_eq!(dead[0]["attempts"], 2, "{}", dead[0]);
    assert_eq!(dead[0]["last_status"], 410);
    assert_eq!(receiver.received_requests().await.unwrap().len(), 2);
    // The service itself is fine.
    assert_eq!(deliveries(&app, project).await.len(), 1);
}

#[tokio::test]
async fn a_receiver_that_cannot_be_reached_leaves_an_error_without_the_secret_url() {
    let app = spawn(&[("service.delivery_max_attempts", "1".to_owned())]).await;
    let project = Uuid::now_v7();
    // Nothing listens on port 9.
    let connection = connect(
        &app,
        project,
        json!({"kind": "slack", "name": "alerts", "webhook_url": "http://127.0.0.1:9/services/T0/B0/topsecret"}),
    )
    .await;
    rule(&app, project, &connection, &["build.completed"]).await;
    relay_events(&app, project, &[build_completed(project, "job-0", "main")]).await;
    let dead = wait_for_deliveries(&app, project, 1, "dead").await;
    let error = dead[0]["last_error"].as_str().unwrap();
    assert!(!error.contains("topsecret"), "{error}");
    assert!(!error.is_empty());
}

#[tokio::test]
async fn consecutive_failures_open_the_connections_circuit_and_hold_its_deliveries_back() {
    let app = spawn(&[
        ("service.breaker_failure_threshold", "2".to_owned()),
        ("service.breaker_open_secs", "600".to_owned()),
    ])
    .await;
    let slack = slack_down_for(1000).await;
    let project = Uuid::now_v7();
    let connection = connect(&app, project, slack_connection(&slack)).await;
    rule(&app, project, &connection, &["build.completed"]).await;
    let events: Vec<Value> = (0..3)
        .map(|i| build_completed(project, &format!("job-{i}"), "main"))
        .collect();
    relay_events(&app, project, &events).await;

    let connection_path = format!("{}/{connection}", crate::helpers::connections_path(project));
    let open_until =
        test_support::eventually("the circuit open", Duration::from_secs(20), || async {
            let shown = app.get(&connection_path, &admin(project)).await.expect(200);
            shown["circuit_open_until"]
                .as_str()
                .map(|t| t.parse::<chrono::DateTime<chrono::Utc>>().unwrap())
        })
        .await;
    assert!(open_until > chrono::Utc::now() + chrono::Duration::seconds(500));
    // Every delivery waits for the circuit, none counted another attempt.
    let held = test_support::eventually(
        "every delivery held back",
        Duration::from_secs(20),
        || async {
            let items = deliveries(&app, project).await;
            items
                .iter()
                .all(|d| {
                    d["next_attempt_at"].as_str().is_some_and(|t| {
                        t.parse::<chrono::DateTime<chrono::Utc>>().unwrap() >= open_until
                    })
                })
                .then_some(items)
        },
    )
    .await;
    let attempts: i64 = held.iter().map(|d| d["attempts"].as_i64().unwrap()).sum();
    assert_eq!(attempts, 2);
    assert!(held.iter().all(|d| d["status"] == "pending"));
    assert_eq!(slack.received_requests().await.unwrap().len(), 2);
}

#[tokio::test]
async fn a_receivers_retry_after_sets_the_next_attempt() {
    let app = spawn(&[("service.delivery_backoff_max_secs", "120".to_owned())]).await;
    let slack = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/services/T0/B0/secret"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "60"))
        .mount(&slack)
        .await;
    let project = Uuid::now_v7();
    let connection = connect(&app, project, slack_connection(&slack)).await;
    rule(&app, project, &connection, &["build.completed"]).await;
    relay_events(&app, project, &[build_completed(project, "job-0", "main")]).await;
    let waiting = test_support::eventually(
        "a rate-limited attempt",
        Duration::from_secs(20),
        || async {
            let items = deliveries(&app, project).await;
            (items[0]["attempts"] == 1).then(|| items[0].clone())
        },
    )
    .await;
    assert_eq!(waiting["last_status"], 429);
    let next: chrono::DateTime<chrono::Utc> = waiting["next_attempt_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        next > chrono::Utc::now() + chrono::Duration::seconds(50),
        "{waiting}"
    );
}

#[tokio::test]
async fn a_slow_receiver_times_the_attempt_out_and_an_unauthorised_one_dead_letters_it() {
    let app = spawn(&[("service.outbound_timeout_ms", "300".to_owned())]).await;
    let receiver = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/slow"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(3)))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&receiver)
        .await;
    Mock::given(method("POST"))
        .and(path("/slow"))
        .respond_with(ResponseTemplate::new(401).set_body_string("invalid_token"))
        .with_priority(2)
        .mount(&receiver)
        .await;
    let project = Uuid::now_v7();
    let connection = connect(
        &app,
        project,
        json!({"kind": "slack", "name": "alerts", "webhook_url": format!("{}/slow", receiver.uri())}),
    )
    .await;
    rule(&app, project, &connection, &["build.completed"]).await;
    relay_events(&app, project, &[build_completed(project, "job-0", "main")]).await;
    let dead = wait_for_deliveries(&app, project, 1, "dead").await;
    assert_eq!(dead[0]["attempts"], 2, "a timeout, then a 401: {}", dead[0]);
    assert_eq!(dead[0]["last_status"], 401);
    assert!(
        app.metric("integration_delivery_failed_attempts_total")
            .await
            >= 2.0,
        "both attempts counted"
    );
}
