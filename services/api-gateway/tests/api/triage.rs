//! Triage through the gateway, with the real project service answering
//! whether an assignee is a member of the project.

use reqwest::Method;
use serde_json::{Value, json};
use test_support::{Reply, TestApp};
use uuid::Uuid;

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
async fn an_assignee_must_be_a_member_as_the_project_service_knows_them() {
    let platform = helpers::spawn(&[]).await;
    let failure = TestApp::spawn(
        &failure_service::SPEC,
        failure_service::build,
        &[("service.project_url", platform.project.url(""))],
    )
    .await;
    let gateway = helpers::gateway(&[
        ("service.upstreams.auth.url", platform.auth.url("")),
        ("service.upstreams.project.url", platform.project.url("")),
        helpers::failure_upstream(&failure),
    ])
    .await;
    let owner = platform.sign_up_and_log_in("owner@example.com").await;
    let member = platform.sign_up_and_log_in("member@example.com").await;
    let outsider = platform.sign_up_and_log_in("outsider@example.com").await;
    platform.create_project(&owner, "shop").await;
    platform.add_member(&owner, "shop", &member, "viewer").await;
    let key = platform.create_api_key(&owner, "shop").await;

    let build = send(
        &gateway,
        Method::POST,
        "/api/v1/projects/shop/builds",
        &key,
        Some(json!({"job_name": "ci", "external_id": "1"})),
    )
    .await
    .expect(201);
    let upload = Reply::from_request(
        gateway
            .request(
                Method::POST,
                &format!(
                    "/api/v1/projects/shop/builds/{}/results",
                    build["id"].as_str().unwrap()
                ),
            )
            .bearer_auth(&key)
            .header("content-type", "application/xml")
            .body(JUNIT),
    )
    .await;
    assert_eq!(upload.status.as_u16(), 201, "{}", upload.text);
    let failures = send(
        &gateway,
        Method::GET,
        "/api/v1/projects/shop/failures",
        &owner.access_token,
        None,
    )
    .await
    .expect(200);
    let group = failures["items"][0]["group_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/api/v2/projects/shop/failures/{group}");

    let assigned = send(
        &gateway,
        Method::PATCH,
        &path,
        &owner.access_token,
        Some(json!({"status": "triaged", "assignee_id": member.id})),
    )
    .await
    .expect(200);
    assert_eq!(assigned["assignee_id"], member.id.as_str());
    for stranger in [outsider.id.clone(), Uuid::now_v7().to_string()] {
        let refused = send(
            &gateway,
            Method::PATCH,
            &path,
            &owner.access_token,
            Some(json!({"assignee_id": stranger})),
        )
        .await;
        refused.expect_problem(422, "group.assignee_not_member");
    }
    // A viewer reads but does not triage.
    let viewer = send(
        &gateway,
        Method::PATCH,
        &path,
        &member.access_token,
        Some(json!({"status": "open"})),
    )
    .await;
    assert_eq!(viewer.status.as_u16(), 403, "{}", viewer.text);
}
