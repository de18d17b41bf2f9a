//! Jira issues from failure groups, against a wiremock Jira and the real
//! failure service (its v2 groups, its internal link API, its outbox
//! relaying `group.regressed` here): idempotent per group unless forced,
//! a 429 with `Retry-After` waited out, a done issue resolving its group,
//! a regression commenting on the issue.

use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::Method;
use serde_json::{Value, json};
use tenant_core::{Role, TenantContext};
use test_support::{Reply, TestApp, contexts, eventually};
use uuid::Uuid;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::helpers::{admin, connect, spawn};

const DEADLINE: Duration = Duration::from_secs(30);

const FAILING: &str = r#"<testsuite name="checkout" tests="2" failures="1">
<testcase classname="com.acme.CartTest" name="totals"><failure message="expected 3 but was 4" type="java.lang.AssertionError">java.lang.AssertionError: expected 3 but was 4
	at com.acme.Cart.total(Cart.java:42)
	at com.acme.CartTest.totals(CartTest.java:17)</failure></testcase>
<testcase classname="com.acme.CartTest" name="empty"/>
</testsuite>"#;

/// The failure service relaying to the integration gateway, which reads
/// groups from it and syncs Jira every 100 ms.
pub async fn stack() -> (TestApp, TestApp) {
    let port = test_support::later_port();
    let failure = TestApp::spawn(
        &failure_service::SPEC,
        failure_service::build,
        &[
            (
                "service.integration_gateway_url",
                format!("http://127.0.0.1:{port}"),
            ),
            ("service.outbox_relay_interval_ms", "50".to_owned()),
            ("service.outbox_backoff_base_ms", "100".to_owned()),
            ("service.outbox_backoff_max_secs", "1".to_owned()),
        ],
    )
    .await;
    let integration = spawn(&[
        ("server.port", port.to_string()),
        ("service.failure_url", failure.url("")),
        ("service.jira_sync_interval_ms", "100".to_owned()),
        (
            "service.web_url",
            "https://faultline.example.com".to_owned(),
        ),
    ])
    .await;
    (failure, integration)
}

pub fn member(project: Uuid) -> TenantContext {
    contexts::user(project, Role::Member)
}

/// Uploads the failing report as a new build; the group's id.
pub async fn upload_failing_build(failure: &TestApp, project: Uuid, external_id: &str) -> String {
    let ctx = member(project);
    let build = failure
        .post(
            &format!("/v1/projects/{project}/builds"),
            &ctx,
            json!({"job_name": "ci", "external_id": external_id, "branch": "main"}),
        )
        .await
        .expect(201);
    let build = build["id"].as_str().unwrap();
    let reply = Reply::from_request(
        failure
            .request_as(
                Method::POST,
                &format!("/v1/projects/{project}/builds/{build}/results"),
                &ctx,
            )
            .header("content-type", "application/xml")
            .body(FAILING),
    )
    .await;
    assert!(reply.status.is_success(), "{}", reply.text);
    let groups = failure
        .get(&format!("/v2/projects/{project}/failures"), &ctx)
        .await
        .expect(200);
    groups["items"][0]["id"].as_str().unwrap().to_owned()
}

pub async fn group(failure: &TestApp, project: Uuid, id: &str) -> Value {
    failure
        .get(
            &format!("/v2/projects/{project}/failures/{id}"),
            &member(project),
        )
        .await
        .expect(200)
}

fn requests_to<'a>(received: &'a [Request], method_name: &str, at: &str) -> Vec<&'a Request> {
    received
        .iter()
        .filter(|r| r.method.as_str() == method_name && r.url.path() == at)
        .collect()
}

#[tokio::test]
async fn a_jira_issue_is_filed_once_per_group_and_follows_the_group_until_it_regresses() {
    let (failure, integration) = stack().await;
    let jira = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/rest/api/3/issue"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "1")
                .set_body_json(json!({"errorMessages": ["Rate limit exceeded"]})),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&jira)
        .await;
    Mock::given(method("POST"))
        .and(path("/rest/api/3/issue"))
        .respond_with(ResponseTemplate::new(201).set_body_json(
            json!({"id": "10001", "key": "WEB-1", "self": format!("{}/rest/api/3/issue/10001", jira.uri())}),
        ))
        .with_priority(2)
        .mount(&jira)
        .await;
    Mock::given(method("GET"))
        .and(path("/rest/api/3/issue/WEB-1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "key": "WEB-1",
            "fields": {"status": {"name": "Done", "statusCategory": {"key": "done", "name": "Done"}}},
        })))
        .mount(&jira)
        .await;
    Mock::given(method("POST"))
        .and(path("/rest/api/3/issue/WEB-1/comment"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": "20001"})))
        .mount(&jira)
        .await;

    let project = Uuid::now_v7();
    let group_id = upload_failing_build(&failure, project, "1").await;
    let connection = connect(
        &integration,
        project,
        json!({"kind": "jira", "name": "jira", "site_url": jira.uri(), "email": "bot@acme.com", "api_token": "jira-api-token-0123456789", "project_key": "WEB"}),
    )
    .await;
    let issues = format!("/v1/projects/{project}/integrations/jira/issues");
    let create = json!({"group_id": group_id, "connection_id": connection});

    let started = Instant::now();
    let created = integration
        .post(&issues, &member(project), create.clone())
        .await
        .expect(201);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "the 429's Retry-After was not waited out"
    );
    assert_eq!(created["issue_key"], "WEB-1");
    assert_eq!(created["issue_url"], format!("{}/browse/WEB-1", jira.uri()));

    let received = jira.received_requests().await.unwrap();
    let posts = requests_to(&received, "POST", "/rest/api/3/issue");
    assert_eq!(posts.len(), 2, "a 429, then the create");
    let sent: Value = serde_json::from_slice(&posts[1].body).unwrap();
    let expected_auth = format!(
        "Basic {}",
        STANDARD.encode("bot@acme.com:jira-api-token-0123456789")
    );
    assert_eq!(
        posts[1]
            .headers
            .get("authorization")
            .unwrap()
            .to_str()
            .unwrap(),
        expected_auth
    );
    assert_eq!(sent["fields"]["project"]["key"], "WEB");
    let summary = sent["fields"]["summary"].as_str().unwrap();
    assert!(summary.contains("AssertionError"), "{summary}");
    let description = &sent["fields"]["description"];
    assert_eq!(description["type"], "doc");
    let text = description.to_string();
    assert!(text.contains("Cart.java:42"), "{text}");
    assert!(
        text.contains("CartTest › totals") || text.contains("totals"),
        "{text}"
    );
    assert!(text.contains(&format!(
        "https://faultline.example.com/projects/{project}/failures/{group_id}"
    )));

    // Idempotent per group: the same issue, no second create.
    let again = integration
        .post(&issues, &member(project), create.clone())
        .await
        .expect(200);
    assert_eq!(again["issue_key"], "WEB-1");
    let received = jira.received_requests().await.unwrap();
    assert_eq!(requests_to(&received, "POST", "/rest/api/3/issue").len(), 2);

    // The link on the v2 group, and the done issue resolving the group.
    let resolved = eventually("the group resolved by the sync", DEADLINE, || async {
        let shown = group(&failure, project, &group_id).await;
        (shown["status"] == "resolved").then_some(shown)
    })
    .await;
    let links = resolved["issue_links"].as_array().unwrap();
    assert_eq!(links.len(), 1, "{resolved}");
    assert_eq!(links[0]["provider"], "jira");
    assert_eq!(links[0]["key"], "WEB-1");
    assert_eq!(links[0]["status"], "Done");

    // The failure comes back: the group regresses, the issue gets a comment.
    assert_eq!(upload_failing_build(&failure, project, "2").await, group_id);
    let comment = eventually("a comment on WEB-1", DEADLINE, || async {
        let received = jira.received_requests().await.unwrap();
        requests_to(&received, "POST", "/rest/api/3/issue/WEB-1/comment")
            .first()
            .map(|r| serde_json::from_slice::<Value>(&r.body).unwrap())
    })
    .await;
    assert_eq!(comment["body"]["type"], "doc");
    assert!(comment["body"].to_string().contains("regressed"));

    // Forced: a new issue is filed.
    let forced = json!({"group_id": group_id, "connection_id": connection, "force": true});
    integration
        .post(&issues, &member(project), forced)
        .await
        .expect(201);
    let received = jira.received_requests().await.unwrap();
    assert_eq!(requests_to(&received, "POST", "/rest/api/3/issue").len(), 3);
}

#[tokio::test]
async fn filing_an_issue_needs_a_jira_connection_and_a_group_of_the_project() {
    let (failure, integration) = stack().await;
    let project = Uuid::now_v7();
    let group_id = upload_failing_build(&failure, project, "1").await;
    let slack = connect(
        &integration,
        project,
        json!({"kind": "slack", "name": "alerts", "webhook_url": "http://127.0.0.1:9/x"}),
    )
    .await;
    let jira = connect(
        &integration,
        project,
        json!({"kind": "jira", "name": "jira", "site_url": "http://127.0.0.1:9", "email": "bot@acme.com", "api_token": "t0123456789", "project_key": "WEB"}),
    )
    .await;
    let issues = format!("/v1/projects/{project}/integrations/jira/issues");
    integration
        .post(
            &issues,
            &member(project),
            json!({"group_id": group_id, "connection_id": slack}),
        )
        .await
        .expect_problem(422, "request.invalid_body");
    integration
        .post(
            &issues,
            &member(project),
            json!({"group_id": Uuid::now_v7(), "connection_id": jira}),
        )
        .await
        .expect_problem(404, "failure_group.not_found");
    integration
        .post(
            &issues,
            &contexts::user(project, Role::Viewer),
            json!({"group_id": group_id, "connection_id": jira}),
        )
        .await
        .expect_problem(403, "context.role_too_low");
    // Jira cannot be reached: a 502, and nothing recorded.
    integration
        .post(
            &issues,
            &admin(project),
            json!({"group_id": group_id, "connection_id": jira}),
        )
        .await
        .expect_problem(502, "jira.failed");
    // Jira refusing the credentials: a 502 (a 5xx body carries no
    // internals), nothing recorded.
    let refusing = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/rest/api/3/issue"))
        .respond_with(
            ResponseTemplate::new(401).set_body_json(json!({"errorMessages": ["Unauthorized"]})),
        )
        .mount(&refusing)
        .await;
    let unauthorised = connect(
        &integration,
        project,
        json!({"kind": "jira", "name": "jira-401", "site_url": refusing.uri(), "email": "bot@acme.com", "api_token": "t0123456789", "project_key": "WEB"}),
    )
    .await;
    let reply = integration
        .post(
            &issues,
            &admin(project),
            json!({"group_id": group_id, "connection_id": unauthorised}),
        )
        .await;
    reply.expect_problem(502, "jira.failed");
    assert!(!reply.text.contains("t0123456789"));
    assert_eq!(integration.count_rows("integration.issue_links").await, 0);
}
