//! An auth service on a fresh database, and a client that calls it the way
//! the gateway does: with a context token, and for signed-in users one built
//! from their verified access token.

#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "each test binary uses part of this module; helpers fail the test loudly"
)]

use auth_service::tokens::AccessClaims;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tenant_core::{Principal, PrincipalKind, ProjectAccess, Role, TenantContext};
use test_support::{RunningService, TestDatabase};
use uuid::Uuid;

pub const PASSWORD: &str = "a long and unusual passphrase";

pub struct TestAuth {
    pub service: RunningService,
    pub database: TestDatabase,
    pub http: reqwest::Client,
}

pub async fn spawn(extra: &[(&'static str, String)]) -> TestAuth {
    let database = TestDatabase::create().await;
    spawn_on(database, extra).await
}

pub async fn spawn_on(database: TestDatabase, extra: &[(&'static str, String)]) -> TestAuth {
    let mut overrides = vec![
        ("service.throttle_base_backoff_secs", "1".to_owned()),
        ("service.throttle_max_backoff_secs", "2".to_owned()),
        ("service.password_hashing_concurrency", "2".to_owned()),
    ];
    overrides.extend(extra.iter().cloned());
    let settings = test_support::settings(&auth_service::SPEC, Some(&database), &overrides);
    let app = auth_service::build(settings)
        .await
        .expect("auth-service starts");
    TestAuth {
        service: RunningService::spawn(app),
        database,
        http: test_support::http_client(),
    }
}

pub fn anonymous() -> TenantContext {
    TenantContext::new(
        Principal {
            id: Uuid::nil(),
            kind: PrincipalKind::Anonymous,
        },
        None,
        "test-request",
    )
}

/// An anonymous caller the gateway attributed to `client_ip`.
pub fn anonymous_from(client_ip: &str) -> TenantContext {
    anonymous().with_client_ip(client_ip.parse().unwrap())
}

pub fn service_context() -> TenantContext {
    TenantContext::service(Uuid::now_v7(), "test-request")
}

/// A signed-in user as the gateway sees them.
#[derive(Debug, Clone)]
pub struct Session {
    pub user_id: Uuid,
    pub session_id: Uuid,
    pub platform_admin: bool,
    pub access_token: String,
    pub refresh_token: String,
}

impl Session {
    pub fn context(&self) -> TenantContext {
        TenantContext::new(
            Principal {
                id: self.user_id,
                kind: PrincipalKind::User,
            },
            None,
            "test-request",
        )
        .with_session(self.session_id)
        .with_platform_admin(self.platform_admin)
    }

    pub fn in_project(&self, project_id: Uuid, role: Role) -> TenantContext {
        TenantContext::new(
            Principal {
                id: self.user_id,
                kind: PrincipalKind::User,
            },
            Some(ProjectAccess { project_id, role }),
            "test-request",
        )
        .with_session(self.session_id)
    }
}

impl TestAuth {
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        ctx: &TenantContext,
        body: Option<Value>,
    ) -> reqwest::Response {
        let token = test_support::context_token("auth-service", ctx);
        let mut request = self
            .http
            .request(method, self.service.url(path))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.unwrap()
    }

    pub async fn sign_up(&self, email: &str) -> Value {
        let response = self
            .call(
                Method::POST,
                "/v1/auth/signup",
                &anonymous(),
                Some(json!({ "email": email, "password": PASSWORD, "display_name": "Test User" })),
            )
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        response.json().await.unwrap()
    }

    pub async fn log_in_raw(&self, email: &str, password: &str) -> reqwest::Response {
        self.log_in_from(&anonymous(), email, password).await
    }

    /// A log-in in `ctx` (an anonymous context, with or without an address).
    pub async fn log_in_from(
        &self,
        ctx: &TenantContext,
        email: &str,
        password: &str,
    ) -> reqwest::Response {
        self.call(
            Method::POST,
            "/v1/auth/login",
            ctx,
            Some(json!({ "email": email, "password": password })),
        )
        .await
    }

    pub async fn log_in(&self, email: &str) -> Session {
        let response = self.log_in_raw(email, PASSWORD).await;
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.unwrap();
        self.session_from(&body).await
    }

    /// Verifies the access token against the published JWKS, as the gateway does.
    pub async fn session_from(&self, tokens: &Value) -> Session {
        assert_eq!(tokens["token_type"], "Bearer");
        let access_token = tokens["access_token"].as_str().unwrap().to_owned();
        let claims = self
            .verify(&access_token)
            .await
            .expect("the access token verifies");
        Session {
            user_id: claims.sub,
            session_id: claims.sid,
            platform_admin: claims.user_role == "admin",
            access_token,
            refresh_token: tokens["refresh_token"].as_str().unwrap().to_owned(),
        }
    }

    pub async fn jwks(&self) -> Value {
        self.http
            .get(self.service.url("/.well-known/jwks.json"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    pub async fn verify(&self, token: &str) -> Result<AccessClaims, String> {
        let header = jsonwebtoken::decode_header(token).map_err(|e| e.to_string())?;
        assert_eq!(header.alg, Algorithm::EdDSA);
        assert_eq!(header.typ.as_deref(), Some("at+jwt"));
        let kid = header.kid.ok_or("no kid")?;
        let jwks = self.jwks().await;
        let key = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["kid"] == kid.as_str())
            .ok_or_else(|| format!("kid {kid} is not published"))?;
        let decoding = DecodingKey::from_ed_components(key["x"].as_str().unwrap())
            .map_err(|e| e.to_string())?;
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_audience(&["faultline-api"]);
        validation.set_issuer(&["faultline"]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        jsonwebtoken::decode::<AccessClaims>(token, &decoding, &validation)
            .map(|data| data.claims)
            .map_err(|e| e.to_string())
    }

    pub async fn refresh(&self, refresh_token: &str) -> reqwest::Response {
        self.call(
            Method::POST,
            "/v1/auth/refresh",
            &anonymous(),
            Some(json!({ "refresh_token": refresh_token })),
        )
        .await
    }

    /// Security events of one kind, oldest first.
    pub async fn audit_events(&self, kind: &str) -> Vec<Value> {
        self.database
            .admin_client()
            .await
            .query(
                "SELECT jsonb_build_object('user_id', user_id, 'session_id', session_id, 'details', details)
                   FROM auth.audit_events WHERE kind = $1 ORDER BY occurred_at, id",
                &[&kind],
            )
            .await
            .unwrap()
            .iter()
            .map(|row| row.get(0))
            .collect()
    }

    pub async fn metric(&self, name: &str) -> f64 {
        let (value, text) = test_support::metric(&self.http, &self.service, name).await;
        value.unwrap_or_else(|| panic!("no metric {name} in\n{text}"))
    }
}

pub async fn problem_code(response: reqwest::Response) -> (StatusCode, String) {
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    (status, body["code"].as_str().unwrap_or_default().to_owned())
}
