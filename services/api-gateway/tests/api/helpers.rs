//! The gateway in front of real auth and project services on one fresh
//! database, each a [`TestApp`], and what tests do through it: sign up and
//! in, create projects, members, API keys and builds, and wait until the
//! gateway has seen a change.

use std::sync::Arc;
use std::time::Duration;

use auth_service::crypto::{MasterKeys, Sealed};
use auth_service::settings::{DEV_MASTER_KEY, DEV_MASTER_KEY_ID};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::{Value, json};
use test_support::{Reply, TestApp, TestDatabase};
use uuid::Uuid;

pub const PASSWORD: &str = "a long and unusual passphrase";

/// How long a test waits for the gateway to see a change before it fails.
pub const CHANGE_SEEN_WITHIN: Duration = Duration::from_secs(10);

/// auth, project and the gateway on one database.
#[derive(Debug)]
pub struct Platform {
    pub database: Arc<TestDatabase>,
    pub auth: TestApp,
    pub project: TestApp,
    pub gateway: TestApp,
    pub http: reqwest::Client,
    gateway_overrides: Vec<(&'static str, String)>,
}

#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
    pub email: String,
    pub access_token: String,
    pub refresh_token: String,
}

/// Starts auth, project and the gateway; `gateway_extra` overrides gateway settings.
pub async fn spawn(gateway_extra: &[(&'static str, String)]) -> Platform {
    spawn_with(&[], gateway_extra).await
}

/// [`spawn`], with `auth_extra` overriding the auth service's settings.
pub async fn spawn_with(
    auth_extra: &[(&'static str, String)],
    gateway_extra: &[(&'static str, String)],
) -> Platform {
    let database = Arc::new(TestDatabase::create().await);
    let auth = TestApp::spawn_on(
        &auth_service::SPEC,
        auth_service::build,
        Some(database.clone()),
        auth_extra,
    )
    .await;
    let project = TestApp::spawn_on(
        &project_service::SPEC,
        project_service::build,
        Some(database.clone()),
        &[
            ("service.auth_url", auth.url("")),
            ("service.key_creator_relay_interval_ms", "100".to_owned()),
        ],
    )
    .await;
    let mut gateway_overrides = vec![
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
    gateway_overrides.extend(gateway_extra.iter().cloned());
    let gateway = gateway(&gateway_overrides).await;
    Platform {
        database,
        auth,
        project,
        gateway,
        http: test_support::http_client(),
        gateway_overrides,
    }
}

/// A gateway with exactly `overrides` on the test settings.
pub async fn gateway(overrides: &[(&'static str, String)]) -> TestApp {
    TestApp::spawn(&api_gateway::SPEC, api_gateway::build, overrides).await
}

impl Platform {
    /// Another gateway replica with the same settings.
    pub async fn another_gateway(&self) -> TestApp {
        gateway(&self.gateway_overrides).await
    }

    pub fn url(&self, path: &str) -> String {
        self.gateway.url(path)
    }

    /// A request to the gateway, for what a test adds itself.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.http.request(method, self.url(path))
    }

    /// Sends `body` (JSON, when given) through the gateway with `token`.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut request = self.request(method, path);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        Reply::from_request(request).await
    }

    pub async fn sign_up_and_log_in(&self, email: &str) -> User {
        let created = self
            .send(
                Method::POST,
                "/api/v1/auth/signup",
                None,
                Some(json!({ "email": email, "password": PASSWORD, "display_name": "Someone" })),
            )
            .await
            .expect(201);
        let tokens = self
            .send(
                Method::POST,
                "/api/v1/auth/login",
                None,
                Some(json!({ "email": email, "password": PASSWORD })),
            )
            .await
            .expect(200);
        User {
            id: created["id"].as_str().unwrap().to_owned(),
            email: email.to_owned(),
            access_token: tokens["access_token"].as_str().unwrap().to_owned(),
            refresh_token: tokens["refresh_token"].as_str().unwrap().to_owned(),
        }
    }

    pub async fn create_project(&self, owner: &User, slug: &str) -> Value {
        self.send(
            Method::POST,
            "/api/v1/projects",
            Some(&owner.access_token),
            Some(json!({ "name": slug, "slug": slug })),
        )
        .await
        .expect(201)
    }

    pub async fn add_member(&self, owner: &User, slug: &str, member: &User, role: &str) {
        let added = self
            .send(
                Method::POST,
                &format!("/api/v1/projects/{slug}/members"),
                Some(&owner.access_token),
                Some(json!({ "email": member.email, "role": role })),
            )
            .await;
        assert!(added.status.is_success(), "{}", added.text);
    }

    /// An API key of `slug` with `role`, created by its admin `by`: the
    /// created key (`id`, `key`, ...).
    pub async fn create_api_key_as(&self, by: &User, slug: &str, role: &str) -> Value {
        self.send(
            Method::POST,
            &format!("/api/v1/projects/{slug}/api-keys"),
            Some(&by.access_token),
            Some(api_key_request(role)),
        )
        .await
        .expect(201)
    }

    /// A member API key of `slug`, created by its admin `owner`.
    pub async fn create_api_key(&self, owner: &User, slug: &str) -> String {
        let created = self.create_api_key_as(owner, slug, "member").await;
        created["key"].as_str().unwrap().to_owned()
    }

    /// Creates a build of `slug` with `key`, as CI does, and returns its id.
    pub async fn create_build(&self, key: &str, slug: &str) -> String {
        let created = self
            .send(
                Method::POST,
                &format!("/api/v1/projects/{slug}/builds"),
                Some(key),
                Some(json!({ "job_name": "ci", "external_id": Uuid::now_v7(), "branch": "main" })),
            )
            .await;
        assert!(created.status.is_success(), "{}", created.text);
        created.body["id"].as_str().unwrap().to_owned()
    }

    /// Uploads [`JUNIT`] to a build of `slug` with `key`.
    pub async fn upload_results(&self, key: &str, slug: &str, build: &str) -> Reply {
        Reply::from_request(
            self.request(
                Method::POST,
                &format!("/api/v1/projects/{slug}/builds/{build}/results"),
            )
            .bearer_auth(key)
            .header("content-type", "application/xml")
            .body(JUNIT),
        )
        .await
    }

    /// The gateway's metric `name`.
    pub async fn metric(&self, name: &str) -> f64 {
        self.gateway.metric(name).await
    }

    /// A feed counter from the platform's database, read as the admin.
    async fn counter(&self, sql: &str) -> i64 {
        self.database
            .admin_client()
            .await
            .query_one(sql, &[])
            .await
            .unwrap_or_else(|error| panic!("{sql}: {error}"))
            .try_get(0)
            .unwrap_or_else(|error| panic!("{sql}: {error}"))
    }

    /// The newest sequence of the project service's access change feed.
    pub async fn access_feed_latest(&self) -> i64 {
        self.counter("SELECT last_seq FROM project.access_change_counter")
            .await
    }

    /// The newest sequence of the auth service's revocation feed.
    pub async fn revocation_feed_latest(&self) -> i64 {
        self.counter("SELECT last_seq FROM auth.revocation_counter")
            .await
    }

    /// Waits until the gateway has applied every access change made so far.
    pub async fn wait_for_access_feed(&self) {
        let latest = self.access_feed_latest().await;
        wait_for_feed(
            &self.gateway,
            "gateway_access_feed_position",
            latest,
            CHANGE_SEEN_WITHIN,
        )
        .await;
    }

    /// Waits until the gateway has applied every revocation made so far.
    pub async fn wait_for_revocation_feed(&self) {
        let latest = self.revocation_feed_latest().await;
        wait_for_feed(
            &self.gateway,
            "gateway_revocation_feed_position",
            latest,
            CHANGE_SEEN_WITHIN,
        )
        .await;
    }

    /// The auth service's active signing key, recovered from the database:
    /// its kid, the key to sign with, and the public key.
    pub async fn signing_key(&self) -> (String, EncodingKey, Vec<u8>) {
        let row = self
            .database
            .admin_client()
            .await
            .query_one(
                "SELECT kid, private_key_ciphertext, nonce, master_key_id, public_key
                   FROM auth.signing_keys WHERE state = 'active'",
                &[],
            )
            .await
            .unwrap();
        let kid: String = row.try_get(0).unwrap();
        let key: [u8; 32] = STANDARD.decode(DEV_MASTER_KEY).unwrap().try_into().unwrap();
        let master =
            MasterKeys::new(DEV_MASTER_KEY_ID, vec![(DEV_MASTER_KEY_ID.to_owned(), key)]).unwrap();
        let pkcs8 = master
            .open(
                &Sealed {
                    ciphertext: row.try_get(1).unwrap(),
                    nonce: row.try_get(2).unwrap(),
                    master_key_id: row.try_get(3).unwrap(),
                },
                kid.as_bytes(),
            )
            .unwrap();
        (
            kid,
            EncodingKey::from_ed_der(&pkcs8),
            row.try_get(4).unwrap(),
        )
    }

    /// `n` new sessions of `user`, with an access token each, signed with
    /// the auth service's key (signing in 1,500 times would spend minutes
    /// hashing passwords).
    pub async fn sessions_of(&self, user: &User, n: usize) -> Vec<(Uuid, String)> {
        let ids: Vec<Uuid> = (0..n).map(|_| Uuid::now_v7()).collect();
        let user_id: Uuid = user.id.parse().unwrap();
        self.database
            .admin_client()
            .await
            .execute(
                "INSERT INTO auth.sessions (id, user_id, client_ip)
                 SELECT id, $2, '192.0.2.1' FROM unnest($1::uuid[]) AS id",
                &[&ids, &user_id],
            )
            .await
            .unwrap();
        let (kid, key, _) = self.signing_key().await;
        let claims = token_claims(&user.access_token);
        ids.into_iter()
            .map(|session_id| {
                let mut claims = claims.clone();
                let now = chrono::Utc::now().timestamp();
                claims["sid"] = json!(session_id);
                claims["jti"] = json!(Uuid::now_v7());
                claims["iat"] = json!(now);
                claims["nbf"] = json!(now);
                claims["exp"] = json!(now + 900);
                (session_id, sign(eddsa_header(&kid), &claims, &key))
            })
            .collect()
    }
}

/// Waits until `gateway` has applied the feed whose position it publishes
/// as the metric `position` up to `seq`; fails after `deadline`.
pub async fn wait_for_feed(gateway: &TestApp, position: &str, seq: i64, deadline: Duration) {
    let seq = seq as f64;
    gateway
        .wait_for_metric(position, deadline, |applied| applied >= seq)
        .await;
}

/// The body that creates an API key with `role`, valid for a week.
pub fn api_key_request(role: &str) -> Value {
    json!({
        "name": "ci",
        "role": role,
        "expires_at": chrono::Utc::now() + chrono::Duration::days(7),
    })
}

/// The claims of a JWT, unverified.
pub fn token_claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

/// The header of an access token signed with `kid`.
pub fn eddsa_header(kid: &str) -> Header {
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(kid.to_owned());
    header.typ = Some("at+jwt".to_owned());
    header
}

pub fn sign(header: Header, claims: &Value, key: &EncodingKey) -> String {
    jsonwebtoken::encode(&header, claims, key).unwrap()
}

/// The status and body of a problem answer; fails unless it is one.
pub fn problem(reply: Reply) -> (StatusCode, Value) {
    assert_eq!(
        reply.header("content-type"),
        Some("application/problem+json"),
        "status {}: {}",
        reply.status,
        reply.text
    );
    (reply.status, reply.body)
}

/// A header's value; the test fails when it is missing.
pub fn header<'a>(reply: &'a Reply, name: &str) -> &'a str {
    reply
        .header(name)
        .unwrap_or_else(|| panic!("no {name} header: {reply:?}"))
}

/// A failure service for the gateway's `failure` upstream, on its own
/// database (the platform runs auth and project only). Pass
/// [`FailureBackend::upstream_override`] to [`spawn`].
#[derive(Debug)]
pub struct FailureBackend {
    pub service: TestApp,
}

impl FailureBackend {
    pub async fn spawn() -> Self {
        Self {
            service: TestApp::spawn(&failure_service::SPEC, failure_service::build, &[]).await,
        }
    }

    pub fn upstream_override(&self) -> (&'static str, String) {
        failure_upstream(&self.service)
    }
}

/// A real analytics service on a database of its own (its outbox relay
/// pointed at the discard port), for the routes the gateway sends it; pass
/// [`AnalyticsBackend::upstream_override`] to [`spawn`].
#[derive(Debug)]
pub struct AnalyticsBackend {
    pub service: TestApp,
}

impl AnalyticsBackend {
    pub async fn spawn() -> Self {
        Self {
            service: TestApp::spawn(
                &analytics_service::SPEC,
                analytics_service::build,
                &[(
                    "service.integration_gateway_url",
                    "http://127.0.0.1:9".to_owned(),
                )],
            )
            .await,
        }
    }

    pub fn upstream_override(&self) -> (&'static str, String) {
        ("service.upstreams.analytics.url", self.service.url(""))
    }
}

/// An integration gateway for the gateway's `integration` upstream, on its
/// own database. Pass [`IntegrationBackend::upstream_override`] to [`spawn`].
#[derive(Debug)]
pub struct IntegrationBackend {
    pub service: TestApp,
}

impl IntegrationBackend {
    pub async fn spawn() -> Self {
        Self {
            service: TestApp::spawn(&integration_gateway::SPEC, integration_gateway::build, &[])
                .await,
        }
    }

    pub fn upstream_override(&self) -> (&'static str, String) {
        ("service.upstreams.integration.url", self.service.url(""))
    }
}

/// The gateway setting that routes its `failure` upstream to `failure`.
pub fn failure_upstream(failure: &TestApp) -> (&'static str, String) {
    ("service.upstreams.failure.url", failure.url(""))
}

/// A small JUnit report: two tests, one failing.
pub const JUNIT: &str = r#"<testsuite name="s" tests="2" failures="1">
<testcase classname="c" name="passes"/>
<testcase classname="c" name="fails"><failure message="boom">trace</failure></testcase>
</testsuite>"#;

/// A route table file (the built-in table plus `extra`), removed on drop.
#[derive(Debug)]
pub struct RoutesFile(pub std::path::PathBuf);

impl RoutesFile {
    pub fn with_routes(extra: &str) -> Self {
        let path = std::env::temp_dir().join(format!("routes-{}.toml", Uuid::new_v4()));
        std::fs::write(&path, format!("{}\n{extra}", api_gateway::BUILT_IN_ROUTES)).unwrap();
        Self(path)
    }

    pub fn setting(&self) -> (&'static str, String) {
        ("service.routes_file", self.0.display().to_string())
    }
}

impl Drop for RoutesFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}
