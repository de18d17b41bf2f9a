//! The auth service on a fresh database ([`TestApp`]), called the way the
//! gateway calls it: with a context token, and for signed-in users one
//! built from their verified access token.

use std::process::{Command, Output};

use auth_service::domain::tokens::AccessClaims;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use reqwest::Method;
use serde_json::{Value, json};
use tenant_core::{PrincipalKind, Role, TenantContext};
use test_support::{Reply, TestApp, TestDatabase, contexts};
use uuid::Uuid;

pub const PASSWORD: &str = "a long and unusual passphrase";

/// The auth service with account locks of 1 s doubling to 2 s, so tests
/// see locks end; `extra` overrides last.
pub async fn spawn(extra: &[(&'static str, String)]) -> TestApp {
    let mut overrides = vec![
        ("service.throttle_base_backoff_secs", "1".to_owned()),
        ("service.throttle_max_backoff_secs", "2".to_owned()),
        ("service.password_hashing_concurrency", "2".to_owned()),
    ];
    overrides.extend_from_slice(extra);
    TestApp::spawn(&auth_service::SPEC, auth_service::build, &overrides).await
}

/// An anonymous caller the gateway attributed to `client_ip`.
pub fn anonymous_from(client_ip: &str) -> TenantContext {
    contexts::anonymous().with_client_ip(client_ip.parse().unwrap())
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
        contexts::signed_in(self.user_id)
            .with_session(self.session_id)
            .with_platform_admin(self.platform_admin)
    }

    pub fn in_project(&self, project_id: Uuid, role: Role) -> TenantContext {
        contexts::in_project(self.user_id, PrincipalKind::User, project_id, role)
            .with_session(self.session_id)
    }
}

/// What the tests do with the auth service beyond plain calls.
pub trait AuthApp {
    /// Signs up `email` with [`PASSWORD`]; the new user.
    async fn sign_up(&self, email: &str) -> Value;
    /// A log-in in `ctx` (an anonymous context, with or without an address).
    async fn log_in_from(&self, ctx: &TenantContext, email: &str, password: &str) -> Reply;
    /// A log-in of an anonymous caller without an address.
    async fn log_in_as(&self, email: &str, password: &str) -> Reply;
    /// Logs `email` in with [`PASSWORD`].
    async fn log_in(&self, email: &str) -> Session;
    /// The session a token response stands for, its access token verified
    /// against the published JWKS as the gateway does.
    async fn session_from(&self, tokens: &Value) -> Session;
    async fn refresh(&self, refresh_token: &str) -> Reply;
    async fn jwks(&self) -> Value;
    /// Verifies an access token as the gateway does.
    async fn verify(&self, token: &str) -> Result<AccessClaims, String>;
    /// The gateway asking who an API key is.
    async fn introspect(&self, key: &str) -> Reply;
    /// Security events of one kind, oldest first.
    async fn audit_events(&self, kind: &str) -> Vec<Value>;
    /// Runs a statement as the database admin, past RLS.
    async fn run_sql(&self, statement: &str);
}

impl AuthApp for TestApp {
    async fn sign_up(&self, email: &str) -> Value {
        self.post(
            "/v1/auth/signup",
            &contexts::anonymous(),
            json!({ "email": email, "password": PASSWORD, "display_name": "Test User" }),
        )
        .await
        .expect(201)
    }

    async fn log_in_from(&self, ctx: &TenantContext, email: &str, password: &str) -> Reply {
        self.post(
            "/v1/auth/login",
            ctx,
            json!({ "email": email, "password": password }),
        )
        .await
    }

    async fn log_in_as(&self, email: &str, password: &str) -> Reply {
        self.log_in_from(&contexts::anonymous(), email, password)
            .await
    }

    async fn log_in(&self, email: &str) -> Session {
        let tokens = self.log_in_as(email, PASSWORD).await.expect(200);
        self.session_from(&tokens).await
    }

    async fn session_from(&self, tokens: &Value) -> Session {
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

    async fn refresh(&self, refresh_token: &str) -> Reply {
        self.post(
            "/v1/auth/refresh",
            &contexts::anonymous(),
            json!({ "refresh_token": refresh_token }),
        )
        .await
    }

    async fn jwks(&self) -> Value {
        Reply::from_request(self.request(Method::GET, "/.well-known/jwks.json"))
            .await
            .expect(200)
    }

    async fn verify(&self, token: &str) -> Result<AccessClaims, String> {
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

    async fn introspect(&self, key: &str) -> Reply {
        self.post(
            "/internal/v1/api-keys/introspect",
            &contexts::service(),
            json!({ "key": key }),
        )
        .await
    }

    async fn audit_events(&self, kind: &str) -> Vec<Value> {
        self.database()
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

    async fn run_sql(&self, statement: &str) {
        self.database()
            .admin_client()
            .await
            .batch_execute(statement)
            .await
            .unwrap_or_else(|error| panic!("{statement}: {error}"));
    }
}

/// Runs the `auth-service` binary with `args` against `database`, as an
/// operator would, and returns its output once it has succeeded.
pub fn auth_command(database: &TestDatabase, args: &[&str], env: &[(&str, &str)]) -> Output {
    let (host, port) = database.host_and_port();
    let output = Command::new(env!("CARGO_BIN_EXE_auth-service"))
        .args(args)
        .env("FAULTLINE__ENVIRONMENT", "test")
        .envs(test_support::internal_token_env())
        .env("FAULTLINE__DATABASE__HOST", host)
        .env("FAULTLINE__DATABASE__PORT", port.to_string())
        .env("FAULTLINE__DATABASE__NAME", database.name())
        .envs(env.iter().copied())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "auth-service {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}
