//! GitHub, against a wiremock GitHub: an issue opened once per failure
//! group (the real failure service provides the group and shows the
//! link), and one Faultline comment per pull request, created once and
//! then updated in place as builds and quality gates report.

use serde_json::{Value, json};
use uuid::Uuid;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::helpers::{connect, relay_events, rule_with, spawn, wait_for_deliveries};
use crate::jira::{group, member, stack, upload_failing_build};

const TOKEN: &str = "github_pat_0123456789abcdefghij";

fn github_connection() -> Value {
    json!({"kind": "github", "name": "web", "token": TOKEN, "owner": "acme", "repo": "web"})
}

fn requests<'a>(received: &'a [Request], verb: &str, at: &str) -> Vec<&'a Request> {
    received
        .iter()
        .filter(|r| r.method.as_str() == verb && r.url.path() == at)
        .collect()
}

#[tokio::test]
async fn a_github_issue_is_opened_once_per_group_and_shown_on_it() {
    let (failure, _) = stack().await;
    let github = MockServer::start().await;
    let integration = spawn(&[
        ("service.failure_url", failure.url("")),
        ("service.github_api_url", github.uri()),
    ])
    .await;
    Mock::given(method("POST"))
        .and(path("/repos/acme/web/issues"))
        .respond_with(ResponseTemplate::new(201).set_body_json(
            json!({"number": 7, "html_url": "https://github.com/acme/web/issues/7", "state": "open"}),
        ))
        .mount(&github)
        .await;
    let project = Uuid::now_v7();
    let group_id = upload_failing_build(&failure, project, "1").await;
    let connection = connect(&integration, project, github_connection()).await;
    let issues = format!("/v1/projects/{project}/integrations/github/issues");
    let body = json!({"group_id": group_id, "connection_id": connection});
    let opened = integration
        .post(&issues, &member(project), body.clone())
        .await
        .expect(201);
    assert_eq!(opened["issue_key"], "acme/web#7");
    assert_eq!(opened["issue_url"], "https://github.com/acme/web/issues/7");
    let again = integration
        .post(&issues, &member(project), body)
        .await
        .expect(200);
    assert_eq!(again["issue_key"], "acme/web#7");

    let received = github.received_requests().await.unwrap();
    let posts = requests(&received, "POST", "/repos/acme/web/issues");
    assert_eq!(posts.len(), 1);
    let header = |name: &str| {
        posts[0]
            .headers
            .get(name)
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(header("authorization"), format!("Bearer {TOKEN}"));
    assert_eq!(header("accept"), "application/vnd.github+json");
    assert!(!header("user-agent").is_empty());
    let sent: Value = serde_json::from_slice(&posts[0].body).unwrap();
    assert!(sent["title"].as_str().unwrap().contains("AssertionError"));
    assert!(sent["body"].as_str().unwrap().contains("Cart.java:42"));

    let shown = group(&failure, project, &group_id).await;
    assert_eq!(shown["issue_links"][0]["provider"], "github");
    assert_eq!(shown["issue_links"][0]["key"], "acme/web#7");
}

#[tokio::test]
async fn a_pull_request_gets_one_comment_that_builds_and_gates_keep_up_to_date() {
    let github = MockServer::start().await;
    let app = spawn(&[("service.github_api_url", github.uri())]).await;
    Mock::given(method("GET"))
        .and(path("/repos/acme/web/commits/abc123/pulls"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"number": 12, "state": "open"},
            {"number": 3, "state": "closed"},
        ])))
        .mount(&github)
        .await;
    Mock::given(method("GET"))
        .and(path("/repos/acme/web/issues/12/comments"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"id": 1, "body": "LGTM"},
        ])))
        .mount(&github)
        .await;
    Mock::given(method("POST"))
        .and(path("/repos/acme/web/issues/12/comments"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": 555})))
        .mount(&github)
        .await;
    Mock::given(method("PATCH"))
        .and(path("/repos/acme/web/issues/comments/555"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": 555})))
        .mount(&github)
        .await;
    let project = Uuid::now_v7();
    let connection = connect(&app, project, github_connection()).await;
    rule_with(
        &app,
        project,
        &connection,
        json!({"events": ["build.completed", "gate.failed"]}),
    )
    .await;
    let build = |failures: i64| {
        json!({
            "id": Uuid::now_v7(), "project_id": project, "kind": "build.completed",
            "occurred_at": "2026-11-26T10:00:00Z",
            "payload": {"build_id": Uuid::now_v7(), "job_name": "ci", "number": 7, "branch": "feature/x",
                        "commit_sha": "abc123", "status": "failed", "url": "https://ci.example.com/7",
                        "counts": {"tests": 10, "failures": failures, "errors": 0, "flaky": 1}, "new_groups": 1},
        })
    };
    let gate = json!({
        "id": Uuid::now_v7(), "project_id": project, "kind": "gate.failed",
        "occurred_at": "2026-11-26T10:00:01Z",
        "payload": {"build_id": Uuid::now_v7(), "job_name": "ci", "branch": "feature/x", "commit_sha": "abc123",
                    "url": "https://ci.example.com/7", "evaluated_at": "2026-11-26T10:00:01Z",
                    "failed_rules": [{"kind": "max_failures", "summary": "2 failures, at most 0 allowed"}]},
    });

    relay_events(&app, project, &[build(2)]).await;
    wait_for_deliveries(&app, project, 1, "delivered").await;
    relay_events(&app, project, &[gate]).await;
    wait_for_deliveries(&app, project, 2, "delivered").await;
    relay_events(&app, project, &[build(5)]).await;
    wait_for_deliveries(&app, project, 3, "delivered").await;

    let received = github.received_requests().await.unwrap();
    let created = requests(&received, "POST", "/repos/acme/web/issues/12/comments");
    assert_eq!(created.len(), 1, "one comment, created once");
    assert!(requests(&received, "POST", "/repos/acme/web/issues/3/comments").is_empty());
    let updates = requests(&received, "PATCH", "/repos/acme/web/issues/comments/555");
    assert_eq!(updates.len(), 2);
    let latest: Value = serde_json::from_slice(&updates[1].body).unwrap();
    let latest = latest["body"].as_str().unwrap();
    assert!(
        latest.contains("<!-- faultline:pull-request-comment -->"),
        "{latest}"
    );
    assert!(latest.contains("| ci | [failed](https://ci.example.com/7) | 5 | 1 | 1 | ❌ 2 failures, at most 0 allowed |"), "{latest}");
}
