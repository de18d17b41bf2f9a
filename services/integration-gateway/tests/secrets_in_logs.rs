//! Third-party credentials never reach the logs or an answer: webhook URLs
//! (a Slack webhook URL is itself a secret), signing secrets, tokens and
//! the master key. A test binary of its own: it installs the process-wide
//! log subscriber, at debug level to be strict, so it sees exactly this
//! service's logs, failed deliveries and retries included.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::disallowed_methods,
    reason = "tests fail loudly at the first broken expectation"
)]

#[path = "api/helpers.rs"]
#[allow(dead_code, reason = "this binary uses part of the shared helpers")]
mod helpers;

use std::io::Write;
use std::sync::{Arc, Mutex};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;
use uuid::Uuid;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use helpers::{
    admin, build_completed, connect, connections_path, deliveries_path, master_key, relay_events,
    rule, spawn, wait_for_deliveries,
};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

const SLACK_PATH: &str = "/services/T0SECRET/B0SECRET/slackpathsecret0123456789";
const GITHUB_TOKEN: &str = "github_pat_11SECRETSECRETSECRETSECRET0123456789";
const JIRA_TOKEN: &str = "ATATTjiratokensecret0123456789abcdef";
const SIGNING_KEY: [u8; 32] = *b"signing-key-secret-0123456789abc";

#[tokio::test]
async fn no_credential_appears_in_logs_or_answers_even_when_deliveries_fail() {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .json()
        .with_env_filter("debug")
        .with_writer(move || writer.clone())
        .init();

    let app = spawn(&[]).await;
    let project = Uuid::now_v7();
    // Slack and the webhook receiver each fail twice, then take the
    // message: deliveries are retried and keep their last error between.
    let slack = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(SLACK_PATH))
        .respond_with(ResponseTemplate::new(500).set_body_string("upstream broke"))
        .up_to_n_times(2)
        .mount(&slack)
        .await;
    Mock::given(method("POST"))
        .and(path(SLACK_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .mount(&slack)
        .await;
    let receiver = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(2)
        .mount(&receiver)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&receiver)
        .await;
    let signing_secret = format!("whsec_{}", STANDARD.encode(SIGNING_KEY));

    let slack_connection = connect(
        &app,
        project,
        json!({"kind": "slack", "name": "alerts", "webhook_url": format!("{}{SLACK_PATH}", slack.uri())}),
    )
    .await;
    let webhook = connect(
        &app,
        project,
        json!({"kind": "webhook", "name": "hooks", "url": format!("{}/hook", receiver.uri()), "signing_secret": signing_secret}),
    )
    .await;
    connect(
        &app,
        project,
        json!({"kind": "github", "name": "repo", "token": GITHUB_TOKEN, "owner": "acme", "repo": "shop"}),
    )
    .await;
    connect(
        &app,
        project,
        json!({"kind": "jira", "name": "jira", "site_url": receiver.uri(), "email": "bot@example.com", "api_token": JIRA_TOKEN, "project_key": "SHOP"}),
    )
    .await;
    rule(&app, project, &slack_connection, &["build.completed"]).await;
    rule(&app, project, &webhook, &["build.completed"]).await;
    relay_events(&app, project, &[build_completed(project, "ci", "main")]).await;
    test_support::eventually(
        "slack to take the message after two failures",
        std::time::Duration::from_secs(20),
        || async { (slack.received_requests().await.unwrap().len() >= 3).then_some(()) },
    )
    .await;
    test_support::eventually(
        "the webhook receiver to be tried twice",
        std::time::Duration::from_secs(20),
        || async { (receiver.received_requests().await.unwrap().len() >= 2).then_some(()) },
    )
    .await;
    // The failed attempts' errors as the API shows them.
    let failed_attempts = app
        .get(&deliveries_path(project), &admin(project))
        .await
        .text;

    let mut answers = vec![
        failed_attempts,
        app.get(&connections_path(project), &admin(project))
            .await
            .text,
    ];
    let delivered = wait_for_deliveries(&app, project, 2, "delivered").await;
    answers.push(serde_json::to_string(&delivered).unwrap_or_default());

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("deliver"),
        "the deliveries were logged, so the search below means something"
    );
    let secrets = [
        SLACK_PATH.to_owned(),
        "slackpathsecret".to_owned(),
        signing_secret.clone(),
        STANDARD.encode(SIGNING_KEY),
        GITHUB_TOKEN.to_owned(),
        JIRA_TOKEN.to_owned(),
        master_key(1),
    ];
    for secret in &secrets {
        assert!(
            !logs.contains(secret.as_str()),
            "a log line holds `{secret}`"
        );
        for answer in &answers {
            assert!(
                !answer.contains(secret.as_str()),
                "an answer holds `{secret}`: {answer}"
            );
        }
    }
}
