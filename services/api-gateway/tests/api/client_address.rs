//! The gateway decides the client's address once, from its trusted proxies,
//! and the backends get it in the context token: the auth service records
//! it on the session it opens.

use futures_util::StreamExt;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use test_support::Reply;

use crate::helpers::{self, PASSWORD, Platform};

/// Signs `email` up and in with `X-Forwarded-For: forwarded_for`, and
/// returns the client address the auth service stored on the session.
async fn session_address(platform: &Platform, email: &str, forwarded_for: &str) -> String {
    let send = |path: &str, body: Value| {
        Reply::from_request(
            platform
                .request(Method::POST, path)
                .header("x-forwarded-for", forwarded_for)
                .json(&body),
        )
    };
    send(
        "/api/v1/auth/signup",
        json!({ "email": email, "password": PASSWORD, "display_name": "Someone" }),
    )
    .await
    .expect(201);
    send(
        "/api/v1/auth/login",
        json!({ "email": email, "password": PASSWORD }),
    )
    .await
    .expect(200);
    platform
        .database
        .admin_client()
        .await
        .query_one(
            "SELECT s.client_ip FROM auth.sessions s JOIN auth.users u ON u.id = s.user_id
              WHERE u.email = $1",
            &[&email],
        )
        .await
        .unwrap()
        .try_get(0)
        .unwrap()
}

#[tokio::test]
async fn a_request_through_a_trusted_proxy_is_attributed_to_the_client_behind_it() {
    // The test client plays the proxy: it connects from 127.0.0.1.
    let platform = helpers::spawn(&[("server.trusted_proxies", "127.0.0.1/32".to_owned())]).await;
    let address = session_address(
        &platform,
        "behind-a-proxy@example.com",
        // What the client claimed, then what the proxy saw.
        "192.0.2.66, 198.51.100.23",
    )
    .await;
    assert_eq!(address, "198.51.100.23");
}

#[tokio::test]
async fn a_request_from_an_untrusted_peer_is_attributed_to_the_peer_whatever_it_forwards() {
    let trusting_others =
        helpers::spawn(&[("server.trusted_proxies", "10.0.0.0/8".to_owned())]).await;
    let address = session_address(&trusting_others, "direct@example.com", "198.51.100.23").await;
    assert_eq!(address, "127.0.0.1");

    let trusting_nobody = helpers::spawn(&[]).await;
    let address = session_address(&trusting_nobody, "default@example.com", "198.51.100.23").await;
    assert_eq!(address, "127.0.0.1", "nothing is trusted by default");
}

#[tokio::test]
async fn a_hundred_failed_logins_from_one_client_do_not_lock_another_users_login_from_there() {
    // The limits on attempts are the gateway's and high here (see
    // `helpers::spawn`): what is left to prove is that nothing locks the
    // address.
    let platform = helpers::spawn(&[("server.trusted_proxies", "127.0.0.1/32".to_owned())]).await;
    platform.sign_up_and_log_in("colleague@example.com").await;
    let log_in = |email: String, password: &'static str| {
        platform
            .request(Method::POST, "/api/v1/auth/login")
            .header("x-forwarded-for", "203.0.113.50")
            .json(&json!({ "email": email, "password": password }))
            .send()
    };
    let statuses: Vec<StatusCode> = futures_util::stream::iter(0..100)
        .map(|i| {
            let attempt = log_in(format!("made-up-{i}@example.com"), "a guess");
            async move { attempt.await.unwrap().status() }
        })
        .buffer_unordered(8)
        .collect()
        .await;
    assert!(
        statuses.iter().all(|s| *s == StatusCode::UNAUTHORIZED),
        "{statuses:?}"
    );
    let response = log_in("colleague@example.com".to_owned(), PASSWORD)
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}
