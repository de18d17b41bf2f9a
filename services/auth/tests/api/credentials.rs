//! Sign-in failures reveal nothing and are throttled per account, within a
//! window, never per address.

use std::time::Duration;

use futures_util::{StreamExt, stream};
use reqwest::StatusCode;
use serde_json::{Value, json};
use test_support::{Reply, TestApp, eventually};

use crate::helpers::{AuthApp, PASSWORD, anonymous_from, spawn};

/// Status, headers (without the per-request ones) and body (without its
/// request id): what two answers must share to be indistinguishable.
fn without_request_id(reply: Reply) -> (StatusCode, Vec<(String, String)>, Value) {
    let mut headers: Vec<(String, String)> = reply
        .headers
        .iter()
        .filter(|(name, _)| !matches!(name.as_str(), "x-request-id" | "date" | "content-length"))
        .map(|(name, value)| (name.to_string(), value.to_str().unwrap().to_owned()))
        .collect();
    headers.sort();
    let mut body = reply.body;
    body.as_object_mut().unwrap().remove("request_id");
    (reply.status, headers, body)
}

#[tokio::test]
async fn an_unknown_user_and_a_wrong_password_get_identical_answers_after_the_same_work() {
    let auth = spawn(&[]).await;
    auth.sign_up("known@example.com").await;

    let before = auth.metric("auth_password_verifications_total").await;
    let unknown = without_request_id(auth.log_in_as("nobody@example.com", PASSWORD).await);
    let after_unknown = auth.metric("auth_password_verifications_total").await;
    let wrong = without_request_id(
        auth.log_in_as("known@example.com", "not the right passphrase")
            .await,
    );
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

/// Waits until `account`'s lock has run out.
async fn wait_until_unlocked(auth: &TestApp, account: &str) {
    let admin = auth.database().admin_client().await;
    eventually(
        &format!("the lock of {account} to end"),
        Duration::from_secs(10),
        || async {
            let locked: bool = admin
                .query_one(
                    "SELECT EXISTS (SELECT 1 FROM auth.login_throttle
                                     WHERE subject = $1 AND locked_until > now())",
                    &[&account],
                )
                .await
                .unwrap()
                .get(0);
            (!locked).then_some(())
        },
    )
    .await;
}

fn retry_after(reply: &Reply) -> u64 {
    reply.header("retry-after").unwrap().parse().unwrap()
}

#[tokio::test]
async fn a_hundred_failed_logins_from_one_address_do_not_keep_another_user_from_signing_in_there() {
    let auth = spawn(&[]).await;
    auth.sign_up("regular@example.com").await;
    let shared_address = anonymous_from("203.0.113.7");

    let statuses: Vec<StatusCode> = stream::iter(0..100)
        .map(|i| {
            let (auth, ctx) = (&auth, &shared_address);
            async move {
                auth.log_in_from(ctx, &format!("made-up-{i}@example.com"), "a guess")
                    .await
                    .status
            }
        })
        .buffer_unordered(8)
        .collect()
        .await;
    assert!(
        statuses.iter().all(|s| *s == StatusCode::UNAUTHORIZED),
        "each made-up account is only a failed sign-in: {statuses:?}"
    );

    let reply = auth
        .log_in_from(&shared_address, "regular@example.com", PASSWORD)
        .await;
    assert_eq!(
        reply.status,
        StatusCode::OK,
        "the address is not locked for the people behind it"
    );
}

#[tokio::test]
async fn wrong_passwords_lock_only_their_account_for_a_growing_time_and_each_lock_ends() {
    let auth = spawn(&[
        ("service.throttle_max_failures", "3".to_owned()),
        ("service.throttle_base_backoff_secs", "1".to_owned()),
        ("service.throttle_max_backoff_secs", "2".to_owned()),
    ])
    .await;
    auth.sign_up("target@example.com").await;
    auth.sign_up("neighbour@example.com").await;
    let office = anonymous_from("198.51.100.20");
    let target = |password: &'static str| auth.log_in_from(&office, "target@example.com", password);
    for attempt in 1..=3 {
        let reply = target("wrong passphrase here").await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "attempt {attempt}");
    }

    // Locked now: even the right password is refused with 429.
    let throttled = target(PASSWORD).await;
    throttled.expect_problem(429, "auth.throttled");
    assert_eq!(retry_after(&throttled), 1);
    assert_eq!(auth.audit_events("login_throttled").await.len(), 1);

    // Only that account: a neighbour at the same address signs in.
    let neighbour = auth
        .log_in_from(&office, "neighbour@example.com", PASSWORD)
        .await;
    assert_eq!(neighbour.status, StatusCode::OK);

    // The lock ends; the failures are still within the window, so the next
    // one locks again, for twice as long.
    wait_until_unlocked(&auth, "target@example.com").await;
    let again = target("wrong passphrase here").await;
    assert_eq!(again.status, StatusCode::UNAUTHORIZED);
    let throttled = target(PASSWORD).await;
    assert_eq!(throttled.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(retry_after(&throttled), 2);

    wait_until_unlocked(&auth, "target@example.com").await;
    assert_eq!(
        target(PASSWORD).await.status,
        StatusCode::OK,
        "the lock lifted after the backoff"
    );
    // A success resets the account's count: one new failure does not lock again.
    assert_eq!(
        target("wrong passphrase here").await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(target(PASSWORD).await.status, StatusCode::OK);
}

#[tokio::test]
async fn failures_older_than_the_window_no_longer_count_towards_a_lock() {
    let auth = spawn(&[
        ("service.throttle_max_failures", "3".to_owned()),
        ("service.throttle_window_secs", "900".to_owned()),
    ])
    .await;
    auth.sign_up("patient@example.com").await;
    let wrong = || auth.log_in_as("patient@example.com", "wrong passphrase here");
    assert_eq!(wrong().await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong().await.status, StatusCode::UNAUTHORIZED);

    // Sixteen minutes pass for the failures so far.
    auth.run_sql(
        "UPDATE auth.login_throttle
            SET recent_failures = ARRAY(SELECT f - interval '16 minutes'
                                          FROM unnest(recent_failures) AS f),
                last_failure_at = last_failure_at - interval '16 minutes'",
    )
    .await;

    // Two more would make four in all, but only two in the window.
    assert_eq!(wrong().await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong().await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        auth.log_in_as("patient@example.com", PASSWORD).await.status,
        StatusCode::OK,
        "the account is not locked"
    );
}

#[tokio::test]
async fn a_password_hashed_with_older_parameters_is_rehashed_at_login() {
    use argon2::password_hash::{PasswordHasher as _, SaltString};
    let auth = spawn(&[]).await;
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
    let admin = auth.database().admin_client().await;
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

#[tokio::test]
async fn wrong_current_passwords_in_a_password_change_lock_the_account_like_failed_log_ins() {
    let auth = spawn(&[
        ("service.throttle_max_failures", "3".to_owned()),
        ("service.throttle_base_backoff_secs", "60".to_owned()),
        ("service.throttle_max_backoff_secs", "60".to_owned()),
    ])
    .await;
    auth.sign_up("stolen@example.com").await;
    // A caller holding someone's access token guesses their password.
    let holder = auth.log_in("stolen@example.com").await.context();
    let change = |current: &'static str| {
        auth.post(
            "/v1/me/password",
            &holder,
            json!({ "current_password": current, "new_password": "a brand new passphrase" }),
        )
    };
    for attempt in 1..=3 {
        change("a wrong guess at it")
            .await
            .expect_problem(401, "auth.invalid_credentials");
        assert_eq!(
            auth.audit_events("login_failed").await.len(),
            attempt,
            "each wrong guess counts against the account"
        );
    }

    // Locked: the right password no longer helps, here or at log-in.
    let throttled = change(PASSWORD).await;
    throttled.expect_problem(429, "auth.throttled");
    assert!(retry_after(&throttled) > 0);
    auth.log_in_as("stolen@example.com", PASSWORD)
        .await
        .expect_problem(429, "auth.throttled");
}
