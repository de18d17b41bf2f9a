//! The quality gate as a CI pipeline calls it: through the gateway with the
//! project's API key, by the project's slug, against the real failure and
//! analytics services sharing the platform's database.

use reqwest::Method;
use serde_json::{Value, json};
use test_support::{Reply, TestApp};

use crate::helpers::{self, JUNIT};

async fn send(
    gateway: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> Reply {
    let mut request = gateway.request(method, path).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    Reply::from_request(request).await
}

#[tokio::test]
async fn a_pipeline_asks_for_the_gate_with_its_api_key_until_it_is_no_longer_pending() {
    let platform = helpers::spawn(&[]).await;
    let discard = (
        "service.integration_gateway_url",
        "http://127.0.0.1:9".to_owned(),
    );
    let failure = TestApp::spawn_on(
        &failure_service::SPEC,
        failure_service::build,
        Some(platform.database.clone()),
        std::slice::from_ref(&discard),
    )
    .await;
    let analytics = TestApp::spawn_on(
        &analytics_service::SPEC,
        analytics_service::build,
        Some(platform.database.clone()),
        &[discard],
    )
    .await;
    let gateway = helpers::gateway(&[
        ("service.upstreams.auth.url", platform.auth.url("")),
        ("service.upstreams.project.url", platform.project.url("")),
        helpers::failure_upstream(&failure),
        ("service.upstreams.analytics.url", analytics.url("")),
    ])
    .await;
    let owner = platform.sign_up_and_log_in("owner@example.com").await;
    platform.create_project(&owner, "shop").await;
    let key = platform.create_api_key(&owner, "shop").await;

    // Admins write rules; a CI key (at most member) may not.
    let rule = json!({"name": "no failures", "kind": "max_failures", "threshold": 0, "branch_pattern": "*"});
    let rules = "/api/v1/projects/shop/quality-gate-rules";
    send(&gateway, Method::POST, rules, &key, Some(rule.clone()))
        .await
        .expect_problem(403, "gateway.role_too_low");
    send(
        &gateway,
        Method::POST,
        rules,
        &owner.access_token,
        Some(rule),
    )
    .await
    .expect(201);

    let build = send(
        &gateway,
        Method::POST,
        "/api/v1/projects/shop/builds",
        &key,
        Some(json!({"job_name": "ci", "external_id": "1", "branch": "main"})),
    )
    .await
    .expect(201);
    let build = build["id"].as_str().unwrap();
    let upload = Reply::from_request(
        gateway
            .request(
                Method::POST,
                &format!("/api/v1/projects/shop/builds/{build}/results"),
            )
            .bearer_auth(&key)
            .header("content-type", "application/xml")
            .body(JUNIT),
    )
    .await;
    assert_eq!(upload.status.as_u16(), 201, "{}", upload.text);
    let gate_path = format!("/api/v1/projects/shop/builds/{build}/quality-gate");
    let gate = send(&gateway, Method::GET, &gate_path, &key, None)
        .await
        .expect(200);
    assert_eq!(gate["status"], "pending", "{gate}");

    send(
        &gateway,
        Method::PATCH,
        &format!("/api/v1/projects/shop/builds/{build}"),
        &key,
        Some(json!({"status": "failed"})),
    )
    .await
    .expect(200);
    let gate = send(&gateway, Method::GET, &gate_path, &key, None)
        .await
        .expect(200);
    assert_eq!(gate["status"], "failed", "{gate}");
    assert_eq!(gate["rules"][0]["kind"], "max_failures");
    assert_eq!(gate["rules"][0]["actual"], 1);
    assert_eq!(gate["rules"][0]["summary"], "1 failure, at most 0 allowed");

    let comparison = send(
        &gateway,
        Method::GET,
        &format!("/api/v1/projects/shop/builds/{build}/comparison"),
        &key,
        None,
    )
    .await
    .expect(200);
    assert_eq!(comparison["counts"]["newly_failing"], 1, "{comparison}");
}
