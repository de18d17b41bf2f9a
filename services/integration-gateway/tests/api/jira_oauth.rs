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

/// The token endpoint for authorization codes (only `code` when given).
async fn mount_token_endpoint(
    server: &MockServer,
    challenges: Vec<String>,
    expires_in: i64,
    code: Option<&str>,
) {
    let grant = match code {
        Some(code) => json!({"grant_type": "authorization_code", "code": code}),
        None => json!({"grant_type": "authorization_code"}),
    };
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .and(body_partial_json(grant))
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
    mount_token_endpoint(&server, vec![challenge, expired_challenge], 3600, None).await;
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

/// Connects `ctx`'s member with authorisation code `code`.
async fn connect_member(
    app: &TestApp,
    server: &MockServer,
    project: Uuid,
    ctx: &TenantContext,
    code: &str,
    expires_in: i64,
) {
    let (state, challenge) = start(app, project, ctx).await;
    mount_token_endpoint(server, vec![challenge], expires_in, Some(code)).await;
    app.post(
        &jira(project, "/oauth/callback"),
        ctx,
        json!({"code": code, "state": state}),
    )
    .await
    .expect(200);
}

async fn mount_search(server: &MockServer, bearer: &str, keys: &[&str]) {
    let issues: Vec<Value> = keys
        .iter()
        .map(|key| json!({"key": key, "fields": {"summary": format!("about {key}"), "status": {"name": "To Do"}}}))
        .collect();
    Mock::given(method("GET"))
        .and(path("/ex/jira/cloud-1/rest/api/3/search"))
        .and(wiremock::matchers::header(
            "authorization",
            format!("Bearer {bearer}").as_str(),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"issues": issues})))
        .mount(server)
        .await;
}

fn refreshes(received: &[Request]) -> Vec<Value> {
    received
        .iter()
        .filter(|r| r.url.path() == "/oauth/token")
        .map(|r| serde_json::from_slice::<Value>(&r.body).unwrap())
        .filter(|b| b["grant_type"] == "refresh_token")
        .collect()
}

#[tokio::test]
async fn two_concurrent_refreshes_rotate_the_token_once_and_invalid_grant_needs_reauth() {
    let server = atlassian().await;
    let app = app_for(&server).await;
    let project = Uuid::now_v7();
    let alice = member(project, Uuid::now_v7());
    // The first access token is expired at once: the next use refreshes.
    connect_member(&app, &server, project, &alice, "c1", 0).await;
    // Rotation: refresh-c1 works once, then it is spent.
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .and(body_partial_json(
            json!({"grant_type": "refresh_token", "refresh_token": "refresh-c1"}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"access_token": "access-2", "refresh_token": "refresh-2", "expires_in": 3600}),
        ))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .and(body_partial_json(json!({"grant_type": "refresh_token"})))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({"error": "invalid_grant", "error_description": "Unknown or invalid refresh token."})))
        .with_priority(2)
        .mount(&server)
        .await;
    mount_search(&server, "access-2", &["WEB-1", "WEB-2"]).await;

    let sync = jira(project, "/me/sync");
    let (a, b) = tokio::join!(
        app.post(&sync, &alice, json!({})),
        app.post(&sync, &alice, json!({}))
    );
    for reply in [a, b] {
        let synced = reply.expect(200);
        assert_eq!(synced["items"].as_array().unwrap().len(), 2, "{synced}");
    }
    let received = server.received_requests().await.unwrap();
    assert_eq!(
        refreshes(&received).len(),
        1,
        "one refresh for two concurrent uses"
    );
    assert_eq!(
        app.get(&jira(project, "/me"), &alice).await.expect(200)["status"],
        "connected"
    );

    // The stored refresh token is the rotated one: once the access token
    // expires, it is what is sent, and Jira's invalid_grant needs reauth.
    app.database()
        .admin_client()
        .await
        .execute(
            "UPDATE integration.user_jira_connections SET access_expires_at = now()",
            &[],
        )
        .await
        .unwrap();
    app.post(&sync, &alice, json!({}))
        .await
        .expect_problem(409, "jira.needs_reauth");
    let received = server.received_requests().await.unwrap();
    let sent = refreshes(&received);
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[1]["refresh_token"], "refresh-2");
    assert_eq!(
        app.get(&jira(project, "/me"), &alice).await.expect(200)["status"],
        "needs_reauth"
    );
    app.post(&sync, &alice, json!({}))
        .await
        .expect_problem(409, "jira.needs_reauth");
}

#[tokio::test]
async fn disconnecting_purges_one_members_tokens_and_synced_issues_and_leaves_others_alone() {
    let server = atlassian().await;
    let app = app_for(&server).await;
    let project = Uuid::now_v7();
    let (alice, bob) = (
        member(project, Uuid::now_v7()),
        member(project, Uuid::now_v7()),
    );
    connect_member(&app, &server, project, &alice, "ca", 3600).await;
    connect_member(&app, &server, project, &bob, "cb", 3600).await;
    mount_search(&server, "access-ca", &["WEB-1"]).await;
    mount_search(&server, "access-cb", &["WEB-7", "WEB-8"]).await;
    app.post(&jira(project, "/me/sync"), &alice, json!({}))
        .await
        .expect(200);
    app.post(&jira(project, "/me/sync"), &bob, json!({}))
        .await
        .expect(200);
    let carol = member(project, Uuid::now_v7());
    let nothing = app
        .get(&jira(project, "/me/issues"), &carol)
        .await
        .expect(200);
    assert_eq!(nothing, json!({"status": "not_connected", "items": []}));
    app.post(&jira(project, "/me/sync"), &carol, json!({}))
        .await
        .expect_problem(409, "jira.not_connected");

    app.delete(&jira(project, "/me"), &alice).await.expect(204);
    assert_eq!(
        app.get(&jira(project, "/me"), &alice).await.expect(200)["status"],
        "not_connected"
    );
    let mine = app
        .get(&jira(project, "/me/issues"), &alice)
        .await
        .expect(200);
    assert_eq!(mine, json!({"status": "not_connected", "items": []}));
    let theirs = app
        .get(&jira(project, "/me/issues"), &bob)
        .await
        .expect(200);
    assert_eq!(theirs["status"], "connected");
    let keys: Vec<&str> = theirs["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["issue_key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["WEB-7", "WEB-8"]);
    assert_eq!(app.count_rows("integration.user_jira_connections").await, 1);
    assert_eq!(app.count_rows("integration.user_jira_issues").await, 2);
}
