//! Sign-in failures reveal nothing and are throttled.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers fail the test at the first broken expectation"
)]

mod common;

use std::time::Duration;

use common::{PASSWORD, problem_code};
use reqwest::StatusCode;

async fn body_without_request_id(
    response: reqwest::Response,
) -> (StatusCode, Vec<(String, String)>, serde_json::Value) {
    let status = response.status();
    let mut headers: Vec<(String, String)> = response
        .headers()
        .iter()
        .filter(|(name, _)| !matches!(name.as_str(), "x-request-id" | "date" | "content-length"))
        .map(|(name, value)| (name.to_string(), value.to_str().unwrap().to_owned()))
        .collect();
    headers.sort();
    let mut body: serde_json::Value = response.json().await.unwrap();
    body.as_object_mut().unwrap().remove("request_id");
    (status, headers, body)
}

#[tokio::test]
async fn an_unknown_user_and_a_wrong_password_get_identical_answers_after_the_same_work() {
    let auth = common::spawn(&[]).await;
    auth.sign_up("known@example.com").await;

    let before = auth.metric("auth_password_verifications_total").await;
    let unknown =
        body_without_request_id(auth.log_in_raw("nobody@example.com", PASSWORD).await).await;
    let after_unknown = auth.metric("auth_password_verifications_total").await;
    let wrong = body_without_request_id(
        auth.log_in_raw("known@example.com", "not the right passphrase")
            .await,
    )
    .await;
    let after_wrong = auth.metric("auth_password_verifications_total").await;

    assert_eq!(unknown.0, StatusCode::UNAUTHORIZED);
    assert_eq!(unknown, wrong, "the two answers must be byte-identical");
    assert_eq!(
        after_unknown - before,
        1.0,
        "an unknown user costs a real argon2 verification"
    );
    assert_eq!(after_wrong - after_unknown, 1.0);
    assert_eq!(auth.audit_events("login_failed").await.len(), 2);
}

#[tokio::test]
async fn repeated_failures_are_throttled_and_the_lock_lifts_after_the_backoff() {
    let auth = common::spawn(&[
        ("service.throttle_max_failures", "3".to_owned()),
        ("service.throttle_base_backoff_secs", "1".to_owned()),
        ("service.throttle_max_backoff_secs", "1".to_owned()),
    ])
    .await;
    auth.sign_up("target@example.com").await;
    for attempt in 1..=3 {
        let response = auth
            .log_in_raw("target@example.com", "wrong passphrase here")
            .await;
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "attempt {attempt}"
        );
    }

    // Locked now: even the right password is refused with 429.
    let throttled = auth.log_in_raw("target@example.com", PASSWORD).await;
    assert_eq!(throttled.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = throttled.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry_after), "retry-after {retry_after}");
    assert_eq!(problem_code(throttled).await.1, "auth.throttled");
    assert_eq!(auth.audit_events("login_throttled").await.len(), 1);

    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let response = auth.log_in_raw("target@example.com", PASSWORD).await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "the lock lifted after the backoff"
    );
    // A success resets the account's count: one new failure does not lock again.
    assert_eq!(
        auth.log_in_raw("target@example.com", "wrong passphrase here")
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        auth.log_in_raw("target@example.com", PASSWORD)
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_password_hashed_with_older_parameters_is_rehashed_at_login() {
    use argon2::password_hash::{PasswordHasher as _, SaltString};
    let auth = common::spawn(&[]).await;
    auth.sign_up("legacy@example.com").await;
    let weak = argon2::Argon2::new(
        argon2::Algorithm::Argon2id,
        argon2::Version::V0x13,
        argon2::Params::new(8192, 1, 1, None).unwrap(),
    )
    .hash_password(
        PASSWORD.as_bytes(),
        &SaltString::encode_b64(&[3; 16]).unwrap(),
    )
    .unwrap()
    .to_string();
    let admin = auth.database.admin_client().await;
    admin
        .execute(
            "UPDATE auth.users SET password_hash = $1 WHERE email = 'legacy@example.com'",
            &[&weak],
        )
        .await
        .unwrap();

    auth.log_in("legacy@example.com").await;
    let stored: String = admin
        .query_one(
            "SELECT password_hash FROM auth.users WHERE email = 'legacy@example.com'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(
        stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{stored}"
    );
}
