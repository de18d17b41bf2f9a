//! The internal context token: the only way a request reaches a handler that
//! takes a `TenantContext`.

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tenant_core::{Principal, PrincipalKind, ProjectAccess, Role, TenantContext};
use uuid::Uuid;

use test_support::{TEST_INTERNAL_KEY, TEST_INTERNAL_KEY_ID};

/// The development key, published in tenant-core's source.
const DEV_KEY: &str = "faultline-dev-internal-token-key-not-for-production";

/// A user who is a member of a project; other test modules use it too.
pub(crate) fn member_context() -> TenantContext {
    TenantContext::new(
        Principal {
            id: Uuid::now_v7(),
            kind: PrincipalKind::User,
        },
        Some(ProjectAccess {
            project_id: Uuid::now_v7(),
            role: Role::Member,
        }),
        "req-123",
    )
}

fn hand_made_token(claims: &Value, kid: &str, key: &str) -> String {
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_secret(key.as_bytes())).unwrap()
}

fn claims(audience: &str, iat: i64, exp: i64) -> Value {
    json!({
        "iss": "faultline", "aud": audience, "sub": Uuid::now_v7(), "iat": iat, "exp": exp,
        "jti": Uuid::now_v7(), "pkd": "user", "pid": Uuid::now_v7(), "rol": "admin", "rid": "r1"
    })
}

async fn whoami(service: &test_support::RunningService, token: Option<&str>) -> reqwest::Response {
    let mut request = test_support::http_client().get(service.url("/whoami"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

async fn assert_unauthorized_problem(response: reqwest::Response, expected_code: &str) {
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], expected_code, "{body}");
    assert_eq!(body["status"], 401);
    assert!(body["request_id"].is_string(), "{body}");
}

async fn assert_invalid_token(service: &test_support::RunningService, token: &str) {
    assert_unauthorized_problem(whoami(service, Some(token)).await, "context.invalid_token").await;
}

#[tokio::test]
async fn a_valid_token_yields_the_context_it_carries() {
    let service = crate::probe::spawn_probe(&[]);
    let context = member_context();
    let token = test_support::context_token("probe-service", &context);

    let response = whoami(&service, Some(&token)).await;

    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["principal_id"], context.principal().id.to_string());
    assert_eq!(
        body["project_id"],
        context.project().unwrap().project_id.to_string()
    );
    assert_eq!(body["role"], "member");
    assert_eq!(body["request_id"], "req-123");
}

#[tokio::test]
async fn a_missing_token_is_401() {
    let service = crate::probe::spawn_probe(&[]);
    assert_unauthorized_problem(whoami(&service, None).await, "context.missing_token").await;
}

#[tokio::test]
async fn an_expired_token_is_401() {
    let service = crate::probe::spawn_probe(&[]);
    let now = chrono::Utc::now().timestamp();
    let token = hand_made_token(
        &claims("probe-service", now - 120, now - 61),
        TEST_INTERNAL_KEY_ID,
        TEST_INTERNAL_KEY,
    );
    assert_invalid_token(&service, &token).await;
}

#[tokio::test]
async fn a_token_for_another_service_is_401() {
    let service = crate::probe::spawn_probe(&[]);
    let token = test_support::context_token("failure-service", &member_context());
    assert_invalid_token(&service, &token).await;
}

#[tokio::test]
async fn a_token_with_a_bad_signature_is_401() {
    let service = crate::probe::spawn_probe(&[]);
    let now = chrono::Utc::now().timestamp();
    let forged = hand_made_token(
        &claims("probe-service", now, now + 30),
        TEST_INTERNAL_KEY_ID,
        "another-key-of-at-least-thirty-two-bytes",
    );
    assert_invalid_token(&service, &forged).await;

    let genuine = test_support::context_token("probe-service", &member_context());
    let (head, rest) = genuine.split_once('.').unwrap();
    let (_payload, signature) = rest.split_once('.').unwrap();
    let tampered_payload = base64_url(&claims("probe-service", now, now + 30));
    let tampered = format!("{head}.{tampered_payload}.{signature}");
    assert_invalid_token(&service, &tampered).await;
}

#[tokio::test]
async fn a_token_living_longer_than_a_minute_is_401() {
    let service = crate::probe::spawn_probe(&[]);
    let now = chrono::Utc::now().timestamp();
    let token = hand_made_token(
        &claims("probe-service", now, now + 3600),
        TEST_INTERNAL_KEY_ID,
        TEST_INTERNAL_KEY,
    );
    assert_invalid_token(&service, &token).await;
}

#[tokio::test]
async fn a_token_signed_with_an_unknown_key_id_is_401() {
    let service = crate::probe::spawn_probe(&[]);
    let now = chrono::Utc::now().timestamp();
    let token = hand_made_token(
        &claims("probe-service", now, now + 30),
        "k-unknown",
        TEST_INTERNAL_KEY,
    );
    assert_invalid_token(&service, &token).await;
}

#[tokio::test]
async fn a_token_signed_with_a_retired_but_configured_key_still_verifies() {
    let retired = "an-older-internal-key-that-is-long-enough";
    let service = crate::probe::spawn_probe(&[("internal_token.keys.k2025", retired.to_owned())]);
    let now = chrono::Utc::now().timestamp();
    let token = hand_made_token(&claims("probe-service", now, now + 30), "k2025", retired);
    assert_eq!(
        whoami(&service, Some(&token)).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_dev_service_with_real_keys_refuses_a_token_signed_with_the_published_development_key() {
    let real = "a-real-internal-key-of-this-deployment";
    let service = crate::probe::spawn_probe(&[
        ("environment", "dev".to_owned()),
        ("internal_token.keys.blue", real.to_owned()),
        ("internal_token.signing_key_id", "blue".to_owned()),
    ]);
    let now = chrono::Utc::now().timestamp();
    let claims = claims("probe-service", now, now + 30);
    let forged = hand_made_token(&claims, "dev", DEV_KEY);
    assert_invalid_token(&service, &forged).await;
    let genuine = hand_made_token(&claims, "blue", real);
    assert_eq!(
        whoami(&service, Some(&genuine)).await.status(),
        StatusCode::OK
    );
}

fn base64_url(value: &Value) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
}
