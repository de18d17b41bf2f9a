//! The gateway in front of real auth and project services on one fresh
//! database, plus helpers to sign in and create projects through it.

#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "each test binary uses part of this module; helpers fail the test loudly"
)]

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use test_support::{RunningService, TestDatabase};

pub const PASSWORD: &str = "a long and unusual passphrase";

pub struct Platform {
    gateway_overrides: Vec<(&'static str, String)>,
    pub database: TestDatabase,
    pub auth: RunningService,
    pub project: RunningService,
    pub gateway: RunningService,
    pub http: reqwest::Client,
}

/// Starts auth, project and the gateway; `gateway_extra` overrides gateway settings.
pub async fn spawn(gateway_extra: &[(&'static str, String)]) -> Platform {
    spawn_with(&[], gateway_extra).await
}

pub async fn spawn_with(
    auth_extra: &[(&'static str, String)],
    gateway_extra: &[(&'static str, String)],
) -> Platform {
    let database = TestDatabase::create().await;
    let auth_settings = test_support::settings(&auth_service::SPEC, Some(&database), auth_extra);
    let auth = RunningService::spawn(auth_service::build(auth_settings).await.unwrap());
    let project_settings = test_support::settings(
        &project_service::SPEC,
        Some(&database),
        &[
            ("service.auth_url", auth.url("")),
            ("service.key_creator_relay_interval_ms", "100".to_owned()),
        ],
    );
    let project = RunningService::spawn(project_service::build(project_settings).await.unwrap());
    let mut overrides = vec![
        ("service.upstreams.auth.url", auth.url("")),
        ("service.upstreams.project.url", project.url("")),
        ("service.poll_interval_ms", "100".to_owned()),
        // Every test signs its users up from one address; the tests of the
        // anonymous limits set their own.
        ("service.anonymous_rate_per_minute", "100000".to_owned()),
        ("service.anonymous_burst", "10000".to_owned()),
        (
            "service.anonymous_global_rate_per_minute",
            "100000".to_owned(),
        ),
        ("service.anonymous_global_burst", "10000".to_owned()),
    ];
    overrides.extend(gateway_extra.iter().cloned());
    let gateway_settings = test_support::settings(&api_gateway::SPEC, None, &overrides);
    let gateway = RunningService::spawn(api_gateway::build(gateway_settings).await.unwrap());
    Platform {
        gateway_overrides: overrides,
        database,
        auth,
        project,
        gateway,
        http: test_support::http_client(),
    }
}

#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
    pub email: String,
    pub access_token: String,
    pub refresh_token: String,
}

impl Platform {
    /// Another gateway replica with the same settings.
    pub async fn another_gateway(&self) -> RunningService {
        let settings = test_support::settings(&api_gateway::SPEC, None, &self.gateway_overrides);
        RunningService::spawn(api_gateway::build(settings).await.unwrap())
    }

    pub fn url(&self, path: &str) -> String {
        self.gateway.url(path)
    }

    pub async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> reqwest::Response {
        let mut request = self.http.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.unwrap()
    }

    pub async fn sign_up_and_log_in(&self, email: &str) -> User {
        let created = self
            .send(
                Method::POST,
                "/api/v1/auth/signup",
                None,
                Some(json!({ "email": email, "password": PASSWORD, "display_name": "Someone" })),
            )
            .await;
        assert_eq!(
            created.status(),
            StatusCode::CREATED,
            "{}",
            created.text().await.unwrap()
        );
        let created: Value = created.json().await.unwrap();
        let tokens = self
            .send(
                Method::POST,
                "/api/v1/auth/login",
                None,
                Some(json!({ "email": email, "password": PASSWORD })),
            )
            .await;
        assert_eq!(tokens.status(), StatusCode::OK);
        let tokens: Value = tokens.json().await.unwrap();
        User {
            id: created["id"].as_str().unwrap().to_owned(),
            email: email.to_owned(),
            access_token: tokens["access_token"].as_str().unwrap().to_owned(),
            refresh_token: tokens["refresh_token"].as_str().unwrap().to_owned(),
        }
    }

    pub async fn create_project(&self, owner: &User, slug: &str) -> Value {
        let response = self
            .send(
                Method::POST,
                "/api/v1/projects",
                Some(&owner.access_token),
                Some(json!({ "name": slug, "slug": slug })),
            )
            .await;
        assert_eq!(
            response.status(),
            StatusCode::CREATED,
            "{}",
            response.text().await.unwrap()
        );
        response.json().await.unwrap()
    }

    pub async fn add_member(&self, owner: &User, slug: &str, member: &User, role: &str) {
        let response = self
            .send(
                Method::POST,
                &format!("/api/v1/projects/{slug}/members"),
                Some(&owner.access_token),
                Some(json!({ "email": member.email, "role": role })),
            )
            .await;
        assert!(
            response.status().is_success(),
            "{}",
            response.text().await.unwrap()
        );
    }

    pub async fn metric(&self, name: &str) -> f64 {
        let (value, _) = test_support::metric(&self.http, &self.gateway, name).await;
        value.unwrap_or(0.0)
    }

    /// Waits for the gateway's feeds to pick a change up.
    pub async fn settle(&self) {
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
}

pub async fn problem(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    assert_eq!(
        response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap()),
        Some("application/problem+json"),
        "status {status}"
    );
    (status, response.json().await.unwrap())
}

/// A failure service for the gateway's `failure` upstream, on its own
/// database (the platform runs auth and project only). Pass
/// [`FailureBackend::upstream_override`] to [`spawn`].
pub struct FailureBackend {
    pub service: RunningService,
    _database: TestDatabase,
}

impl FailureBackend {
    pub async fn spawn() -> Self {
        let database = TestDatabase::create().await;
        let settings = test_support::settings(&failure_service::SPEC, Some(&database), &[]);
        let service = RunningService::spawn(failure_service::build(settings).await.unwrap());
        Self {
            service,
            _database: database,
        }
    }

    pub fn upstream_override(&self) -> (&'static str, String) {
        ("service.upstreams.failure.url", self.service.url(""))
    }
}

/// A small JUnit report: two tests, one failing.
pub const JUNIT: &str = r#"<testsuite name="s" tests="2" failures="1">
<testcase classname="c" name="passes"/>
<testcase classname="c" name="fails"><failure message="boom">trace</failure></testcase>
</testsuite>"#;

impl Platform {
    /// A member API key of `slug`, created by its admin `owner`.
    pub async fn create_api_key(&self, owner: &User, slug: &str) -> String {
        let response = self
            .send(
                Method::POST,
                &format!("/api/v1/projects/{slug}/api-keys"),
                Some(&owner.access_token),
                Some(json!({
                    "name": "ci",
                    "role": "member",
                    "expires_at": (chrono::Utc::now() + chrono::Duration::days(1)).to_rfc3339(),
                })),
            )
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let body: Value = response.json().await.unwrap();
        body["key"].as_str().unwrap().to_owned()
    }

    /// Creates a build of `slug` with `key`, as CI does, and returns its id.
    pub async fn create_build(&self, key: &str, slug: &str) -> String {
        let response = self
            .send(
                Method::POST,
                &format!("/api/v1/projects/{slug}/builds"),
                Some(key),
                Some(json!({ "job_name": "ci", "external_id": uuid::Uuid::now_v7(), "branch": "main" })),
            )
            .await;
        assert!(
            response.status().is_success(),
            "{}",
            response.text().await.unwrap()
        );
        let body: Value = response.json().await.unwrap();
        body["id"].as_str().unwrap().to_owned()
    }

    /// Uploads [`JUNIT`] to a build of `slug` with `key`.
    pub async fn upload_results(&self, key: &str, slug: &str, build: &str) -> reqwest::Response {
        self.http
            .post(self.url(&format!("/api/v1/projects/{slug}/builds/{build}/results")))
            .bearer_auth(key)
            .header("content-type", "application/xml")
            .body(JUNIT)
            .send()
            .await
            .unwrap()
    }
}

/// A response header's value; the test fails when it is missing.
pub fn header<'a>(response: &'a reqwest::Response, name: &str) -> &'a str {
    response
        .headers()
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_str()
        .unwrap()
}
