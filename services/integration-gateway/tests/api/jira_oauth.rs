//! Members' own Jira accounts through OAuth 2.0 (3LO) with PKCE, against a
//! wiremock Atlassian whose token endpoint checks the S256 challenge:
//! bad states refused, a wrong verifier refused, rotating refresh tokens
//! under concurrent use, `invalid_grant` → `needs_reauth`, and a
//! disconnect that purges one member's tokens and synced issues only.

use std::collections::HashMap;

use aws_lc_rs::digest::{SHA256, digest};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::Url;
use serde_json::{Value, json};
use tenant_core::context::PrincipalKind;
use tenant_core::{Role, TenantContext};
use test_support::{TestApp, contexts};
use uuid::Uuid;
use wiremock::matchers::{body_partial_json, method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::helpers::spawn;

/// Atlassian's token endpoint for authorization codes: tokens only for a
/// verifier whose S256 challenge is one the test saw in an authorisation
/// URL, `invalid_grant` otherwise.
struct PkceTokenEndpoint {
    challenges: Vec<String>,
    expires_in: i64,
}

impl Respond for PkceTokenEndpoint {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        let verifier = body["code_verifier"].as_str().unwrap_or_default();
        let challenge = URL_SAFE_NO_PAD.encode(digest(&SHA256, verifier.as_bytes()).as_ref());
        if verifier.is_empty()
            || !self.challenges.contains(&challenge)
            || body["client_id"] != "faultline-app"
        {
            return ResponseTemplate::new(400).set_body_json(
                json!({"error": "invalid_grant", "error_description": "bad verifier"}),
            );
        }
        let code = body["code"].as_str().unwrap_or_default();
        ResponseTemplate::new(200).set_body_json(json!({
            "access_token": format!("access-{code}"),
            "refresh_token": format!("refresh-{code}"),
            "expires_in": self.expires_in,
            "scope": "read:jira-work write:jira-work offline_access",
        }))
    }
}

async fn atlassian() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/oauth/token/accessible-resources"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!([{"id": "cloud-1", "url": server.uri(), "name": "acme", "scopes": []}]),
        ))
        .mount(&server)
        .await;
    server
}

async fn app_for(atlassian: &MockServer) -> TestApp {
    spawn(&[
        ("service.jira_oauth_client_id", "faultline-app".to_owned()),
        (
            "service.jira_oauth_client_secret",
            "app-secret-0123456789".to_owned(),
        ),
        (
            "service.jira_oauth_token_url",
            format!("{}/oauth/token", atlassian.uri()),
        ),
        ("service.jira_api_url", atlassian.uri()),
    ])
    .await
}

fn member(project: Uuid, user: Uuid) -> TenantContext {
    contexts::in_project(user, PrincipalKind::User, project, Role::Member)
}

fn jira(project: Uuid, rest: &str) -> String {
    format!("/v1/projects/{project}/integrations/jira{rest}")
}

/// Starts a flow as `ctx`: its state and challenge.
async fn start(app: &TestApp, project: Uuid, ctx: &TenantContext) -> (String, String) {
    let started = app
        .post(&jira(project, "/oauth/start"), ctx, json!({}))
        .await
        .expect(200);
    let url = Url::parse(started["authorize_url"].as_str().unwrap()).unwrap();
    let query: HashMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(query["code_challenge_method"], "S256");
    assert_eq!(query["client_id"], "faultline-app");
    assert_eq!(query["state"], started["state"].as_str().unwrap());
    (query["state"].clone(), query["code_challenge"].clone())
}

async fn mount_token_endpoint(server: &MockServer, challenges: Vec<String>, expires_in: i64) {
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .and(body_partial_json(
            json!({"grant_type": "authorization_code"}),
        ))
        .respond_with(PkceTokenEndpoint {
            challenges,
            expires_in,
        })
        .mount(server)
        .await;
}

#[tokio::test]
async fn tampered_reused_expired_or_other_members_states_and_wrong_verifiers_are_refused() {
    let server = atlassian().await;
    let app = app_for(&server).await;
    let project = Uuid::now_v7();
    let (alice, bob) = (
        member(project, Uuid::now_v7()),
        member(project, Uuid::now_v7()),
    );
    let me = app.get(&jira(project, "/me"), &alice).await.expect(200);
    assert_eq!(me["status"], "not_connected");

    let (state, challenge) = start(&app, project, &alice).await;
    let (expired, expired_challenge) = start(&app, project, &alice).await;
    let (swapped, _) = start(&app, project, &alice).await;
    let (donor, _) = start(&app, project, &alice).await;
    // The token endpoint knows the challenges of `state` and `expired`
    // only: a verifier of any other flow does not match.
    mount_token_endpoint(&server, vec![challenge, expired_challenge], 3600).await;
    let callback = |state: &str| json!({"code": "code-1", "state": state});

    app.post(
        &jira(project, "/oauth/callback"),
        &alice,
        callback(&format!("{state}x")),
    )
    .await
    .expect_problem(400, "oauth.invalid_state");
    app.post(&jira(project, "/oauth/callback"), &bob, callback(&state))
        .await
        .expect_problem(400, "oauth.invalid_state");
    let connected = app
        .post(&jira(project, "/oauth/callback"), &alice, callback(&state))
        .await
        .expect(200);
    assert_eq!(connected["status"], "connected");
    assert_eq!(connected["site_url"], server.uri());
    app.post(&jira(project, "/oauth/callback"), &alice, callback(&state))
        .await
        .expect_problem(400, "oauth.invalid_state");

    let client = app.database().admin_client().await;
    client
        .execute(
            "UPDATE integration.oauth_states SET expires_at = now() - interval '1 second'
              WHERE state_hash = sha256($1::text::bytea)",
            &[&expired],
        )
        .await
        .unwrap();
    app.post(
        &jira(project, "/oauth/callback"),
        &alice,
        callback(&expired),
    )
    .await
    .expect_problem(400, "oauth.invalid_state");

    // A flow completed with another flow's verifier: Atlassian refuses it.
    client
        .execute(
            "UPDATE integration.oauth_states AS target SET verifier_sealed = source.verifier_sealed
               FROM integration.oauth_states AS source
              WHERE target.state_hash = sha256($1::text::bytea)
                AND source.state_hash = sha256($2::text::bytea)",
            &[&swapped, &donor],
        )
        .await
        .unwrap();
    app.post(
        &jira(project, "/oauth/callback"),
        &alice,
        callback(&swapped),
    )
    .await
    .expect_problem(400, "oauth.exchange_failed");
    let token_posts: Vec<Value> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == "/oauth/token")
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect();
    assert_eq!(
        token_posts.len(),
        2,
        "refused states never reach the token endpoint"
    );
    assert!(
        token_posts
            .iter()
            .all(|p| p["client_secret"] == "app-secret-0123456789")
    );
    assert_eq!(
        app.get(&jira(project, "/me"), &bob).await.expect(200)["status"],
        "not_connected",
        "another member sees their own state, not alice's connection"
    );

    let sealed: Vec<u8> = client
        .query_one(
            "SELECT access_token_sealed FROM integration.user_jira_connections",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(!String::from_utf8_lossy(&sealed).contains("access-code-1"));
}
