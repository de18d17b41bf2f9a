//! Connections: admins create and delete them, everyone in the project
//! reads them; secrets are sealed, write-only and shown as
//! `{configured, last_four}` at most; URLs are checked against SSRF.

use serde_json::{Value, json};
use tenant_core::Role;
use test_support::contexts;
use uuid::Uuid;

use crate::helpers::{admin, connect, connections_path, rules_path, spawn};

const SLACK_URL_PATH: &str = "/services/T000/B000/XXXXsecretpathXXXX";
const SIGNING_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn slack(name: &str, url: &str) -> Value {
    json!({"kind": "slack", "name": name, "webhook_url": url})
}

#[tokio::test]
async fn a_slack_connection_is_stored_sealed_and_shown_without_its_secret() {
    let app = spawn(&[]).await;
    let project = Uuid::now_v7();
    let url = format!("http://127.0.0.1:9{SLACK_URL_PATH}");
    let created = app
        .post(
            &connections_path(project),
            &admin(project),
            slack("alerts", &url),
        )
        .await;
    assert!(!created.text.contains("secretpath"), "{}", created.text);
    let created = created.expect(201);
    assert_eq!(created["kind"], "slack");
    assert_eq!(created["status"], "active");
    assert_eq!(
        created["secrets"]["webhook_url"],
        json!({"configured": true, "last_four": "XXXX"})
    );
    assert_eq!(created["settings"], json!({"mode": "webhook"}));

    let viewer = contexts::user(project, Role::Viewer);
    let listed = app.get(&connections_path(project), &viewer).await;
    assert!(!listed.text.contains("secretpath"));
    assert_eq!(listed.expect(200)["items"][0]["id"], created["id"]);

    let client = app.database().admin_client().await;
    let sealed: Vec<u8> = client
        .query_one("SELECT sealed FROM integration.connection_secrets", &[])
        .await
        .unwrap()
        .get(0);
    assert!(!String::from_utf8_lossy(&sealed).contains("secretpath"));
    let key: String = client
        .query_one("SELECT master_key_id FROM integration.project_keys", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(key, "k1");
}

#[tokio::test]
async fn only_admins_manage_connections_and_other_projects_see_none() {
    let app = spawn(&[]).await;
    let project = Uuid::now_v7();
    let member = contexts::user(project, Role::Member);
    app.post(
        &connections_path(project),
        &member,
        slack("alerts", "http://127.0.0.1:9/x"),
    )
    .await
    .expect_problem(403, "context.role_too_low");
    let id = connect(&app, project, slack("alerts", "http://127.0.0.1:9/x")).await;
    app.post(
        &connections_path(project),
        &admin(project),
        slack("alerts", "http://127.0.0.1:9/y"),
    )
    .await
    .expect_problem(409, "connection.name_taken");
    let path = format!("{}/{id}", connections_path(project));
    app.delete(&path, &member)
        .await
        .expect_problem(403, "context.role_too_low");

    let other = Uuid::now_v7();
    let theirs = app
        .get(&connections_path(other), &admin(other))
        .await
        .expect(200);
    assert_eq!(theirs["items"], json!([]));
    app.get(&format!("{}/{id}", connections_path(other)), &admin(other))
        .await
        .expect_problem(404, "connection.not_found");

    app.delete(&path, &admin(project)).await.expect(204);
    app.get(&path, &admin(project))
        .await
        .expect_problem(404, "connection.not_found");
    assert_eq!(app.count_rows("integration.connection_secrets").await, 0);
}

#[tokio::test]
async fn invalid_connections_are_refused_with_the_field_at_fault() {
    let app = spawn(&[]).await;
    let project = Uuid::now_v7();
    for (body, field) in [
        (json!({"kind": "slack", "name": "x"}), "webhook_url"),
        (
            json!({"kind": "webhook", "name": "x", "url": "http://127.0.0.1:9/", "signing_secret": "plain"}),
            "signing_secret",
        ),
        (
            json!({"kind": "github", "name": "x", "token": "github_pat_0123456789", "owner": "a b", "repo": "r"}),
            "owner",
        ),
        (
            json!({"kind": "jira", "name": "x", "site_url": "https://example.atlassian.net", "email": "nobody", "api_token": "t", "project_key": "ABC"}),
            "email",
        ),
    ] {
        let reply = app
            .post(&connections_path(project), &admin(project), body)
            .await;
        reply.expect_problem(422, "request.invalid_body");
        let reply = reply.expect(422);
        assert_eq!(reply["errors"][0]["field"], field);
    }
    app.post(
        &connections_path(project),
        &admin(project),
        json!({"kind": "pager", "name": "x"}),
    )
    .await
    .expect(422);
    assert_eq!(app.count_rows("integration.connections").await, 0);
}

#[tokio::test]
async fn with_production_settings_internal_targets_are_refused() {
    let app = spawn(&[
        ("service.allow_http", "false".to_owned()),
        ("service.allow_loopback", "false".to_owned()),
    ])
    .await;
    let project = Uuid::now_v7();
    for url in [
        "https://127.0.0.1/hook",
        "https://[::1]/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://10.0.0.1/hook",
        "https://100.64.0.1/hook",
        "https://localhost/hook",
        "file:///etc/passwd",
        "http://93.184.215.14/hook",
    ] {
        let webhook = json!({"kind": "webhook", "name": "hook", "url": url, "signing_secret": SIGNING_SECRET});
        app.post(&connections_path(project), &admin(project), webhook)
            .await
            .expect_problem(422, "connection.url_refused");
        app.post(&connections_path(project), &admin(project), slack("s", url))
            .await
            .expect_problem(422, "connection.url_refused");
    }
    assert_eq!(app.count_rows("integration.connections").await, 0);
}

#[tokio::test]
async fn rules_name_known_events_and_a_notification_connection_of_the_project() {
    let app = spawn(&[]).await;
    let project = Uuid::now_v7();
    let slack_id = connect(&app, project, slack("alerts", "http://127.0.0.1:9/x")).await;
    let github = connect(
        &app,
        project,
        json!({"kind": "github", "name": "repo", "token": "github_pat_0123456789abcdef", "owner": "acme", "repo": "web"}),
    )
    .await;
    let ctx = admin(project);
    let created = app
        .post(
            &rules_path(project),
            &ctx,
            json!({"connection_id": slack_id, "events": ["gate.failed", "build.completed"], "branch_filter": "main", "labels": ["product_bug"]}),
        )
        .await
        .expect(201);
    assert_eq!(created["events"], json!(["build.completed", "gate.failed"]));
    for (body, status, code) in [
        (
            json!({"connection_id": slack_id, "events": ["group.deleted"]}),
            422,
            "request.invalid_body",
        ),
        (
            json!({"connection_id": slack_id, "events": []}),
            422,
            "request.invalid_body",
        ),
        (
            json!({"connection_id": slack_id, "events": ["gate.failed"], "labels": ["bad"]}),
            422,
            "request.invalid_body",
        ),
        (
            json!({"connection_id": github, "events": ["group.created"]}),
            422,
            "request.invalid_body",
        ),
        (
            json!({"connection_id": Uuid::now_v7(), "events": ["gate.failed"]}),
            404,
            "connection.not_found",
        ),
    ] {
        app.post(&rules_path(project), &ctx, body)
            .await
            .expect_problem(status, code);
    }
    let listed = app
        .get(&rules_path(project), &contexts::user(project, Role::Viewer))
        .await
        .expect(200);
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    let rule = created["id"].as_str().unwrap();
    app.delete(&format!("{}/{rule}", rules_path(project)), &ctx)
        .await
        .expect(204);
    app.delete(&format!("{}/{rule}", rules_path(project)), &ctx)
        .await
        .expect_problem(404, "notification_rule.not_found");
}
