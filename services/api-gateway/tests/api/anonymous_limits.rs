//! Sign-up, log-in and refresh need no credentials, so the gateway limits
//! them per client address and all together; and a flood of failed
//! log-ins does not take the auth service away from everyone else.

use std::time::Duration;

use futures_util::StreamExt;
use reqwest::{Method, StatusCode};
use serde_json::json;
use test_support::{Reply, eventually};
use tokio::time::Instant;

use crate::helpers::{self, FailureBackend, PASSWORD, Platform, header};

async fn sign_up_from(platform: &Platform, email: &str, address: &str) -> Reply {
    Reply::from_request(
        platform
            .request(Method::POST, "/api/v1/auth/signup")
            .header("x-forwarded-for", address)
            .json(&json!({ "email": email, "password": PASSWORD, "display_name": "Someone" })),
    )
    .await
}

async fn log_in_from(platform: &Platform, email: &str, address: &str) -> Reply {
    Reply::from_request(
        platform
            .request(Method::POST, "/api/v1/auth/login")
            .header("x-forwarded-for", address)
            .json(&json!({ "email": email, "password": PASSWORD })),
    )
    .await
}

#[tokio::test]
async fn sign_ups_beyond_the_per_address_limit_get_429_with_retry_after_and_other_addresses_go_on()
{
    let platform = helpers::spawn(&[
        ("server.trusted_proxies", "127.0.0.1".to_owned()),
        // A sign-up weighs 5: two fit in the burst, then one every 50 s.
        ("service.anonymous_rate_per_minute", "6".to_owned()),
        ("service.anonymous_burst", "10".to_owned()),
    ])
    .await;
    let noisy = "198.51.100.1";
    for i in 0..2 {
        let response = sign_up_from(&platform, &format!("n{i}@example.com"), noisy).await;
        assert_eq!(response.status, StatusCode::CREATED, "sign-up {i}");
        assert!(header(&response, "ratelimit").starts_with("\"address\";"));
    }

    let refused = sign_up_from(&platform, "n2@example.com", noisy).await;
    refused.expect_problem(429, "gateway.rate_limited");
    let retry_after: u64 = header(&refused, "retry-after").parse().unwrap();
    assert!((1..=50).contains(&retry_after), "retry-after {retry_after}");
    assert_eq!(
        header(&refused, "ratelimit-policy"),
        "\"address\";q=6;w=60;burst=10"
    );

    // Every anonymous route counts: a log-in from there waits too.
    let login = log_in_from(&platform, "n0@example.com", noisy).await;
    assert_eq!(login.status, StatusCode::TOO_MANY_REQUESTS);

    // Another client behind the same proxy has its own allowance.
    let elsewhere = sign_up_from(&platform, "quiet@example.com", "198.51.100.2").await;
    assert_eq!(elsewhere.status, StatusCode::CREATED);
}

#[tokio::test]
async fn callers_without_credentials_share_a_global_ceiling_that_signed_in_users_do_not() {
    let platform = helpers::spawn(&[
        ("server.trusted_proxies", "127.0.0.1".to_owned()),
        // Four requests of weight 5 at once, from any addresses together;
        // each address alone could send as many.
        ("service.anonymous_rate_per_minute", "6".to_owned()),
        ("service.anonymous_burst", "20".to_owned()),
        ("service.anonymous_global_rate_per_minute", "6".to_owned()),
        ("service.anonymous_global_burst", "20".to_owned()),
    ])
    .await;
    for i in 0..3 {
        let response = sign_up_from(
            &platform,
            &format!("g{i}@example.com"),
            &format!("198.51.100.{i}"),
        )
        .await;
        assert_eq!(response.status, StatusCode::CREATED, "sign-up {i}");
    }
    let tokens = log_in_from(&platform, "g0@example.com", "198.51.100.3")
        .await
        .expect(200);

    let refused = sign_up_from(&platform, "g4@example.com", "198.51.100.4").await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        header(&refused, "ratelimit-policy"),
        "\"anonymous\";q=6;w=60;burst=20"
    );
    assert!(header(&refused, "retry-after").parse::<u64>().unwrap() >= 1);

    let me = platform
        .send(
            Method::GET,
            "/api/v1/me",
            tokens["access_token"].as_str(),
            None,
        )
        .await;
    assert_eq!(
        me.status,
        StatusCode::OK,
        "signed-in users are not anonymous"
    );
}

#[tokio::test]
async fn three_hundred_concurrent_failed_logins_leave_api_keys_and_signed_in_users_served() {
    let failure = FailureBackend::spawn().await;
    let platform = helpers::spawn_with(
        &[
            // As shipped: two hashing permits; a pool smaller than the flood.
            ("service.password_hashing_concurrency", "2".to_owned()),
            ("database.pool_max_size", "10".to_owned()),
        ],
        &[
            failure.upstream_override(),
            // Every API-key request is introspected at the auth service.
            ("service.api_key_cache_secs", "0".to_owned()),
            ("service.api_key_negative_cache_secs", "0".to_owned()),
        ],
    )
    .await;
    let owner = platform.sign_up_and_log_in("owner@example.com").await;
    platform.create_project(&owner, "steady").await;
    let key = platform.create_api_key(&owner, "steady").await;

    let verifications = || async {
        let (value, _) = test_support::metric(
            &platform.http,
            &platform.auth.service,
            "auth_password_verifications_total",
        )
        .await;
        value.unwrap_or(0.0)
    };
    let before = verifications().await;

    let (http, url) = (platform.http.clone(), platform.url("/api/v1/auth/login"));
    let flood = tokio::spawn(async move {
        futures_util::stream::iter(0..300)
            .map(|i| {
                let request = http.post(&url).json(
                    &json!({ "email": format!("guess-{i}@example.com"), "password": "a guess" }),
                );
                async move { request.send().await.map(|r| r.status().as_u16()) }
            })
            .buffer_unordered(300)
            .collect::<Vec<_>>()
            .await
    });

    // Each time another 25 guesses have been hashed, the others are served.
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut served_during_the_flood = 0;
    for round in 1..=10 {
        let hashed = before + 25.0 * f64::from(round);
        eventually(
            "the flood to be worked off",
            deadline.saturating_duration_since(Instant::now()),
            || async { (flood.is_finished() || verifications().await >= hashed).then_some(()) },
        )
        .await;
        if flood.is_finished() {
            break;
        }
        let me = platform
            .send(Method::GET, "/api/v1/me", Some(&owner.access_token), None)
            .await;
        assert_eq!(me.status, StatusCode::OK, "GET /me in round {round}");
        let listed = platform
            .send(
                Method::GET,
                "/api/v1/projects/steady/builds",
                Some(&key),
                None,
            )
            .await;
        assert_eq!(listed.status, StatusCode::OK, "API key in round {round}");
        if round <= 3 {
            let build = platform.create_build(&key, "steady").await;
            let uploaded = platform.upload_results(&key, "steady", &build).await;
            assert_eq!(
                uploaded.status,
                StatusCode::CREATED,
                "CI upload in round {round}"
            );
        }
        if !flood.is_finished() {
            served_during_the_flood += 1;
        }
    }
    let statuses = flood.await.unwrap();
    let answered: Vec<u16> = statuses.into_iter().map(|status| status.unwrap()).collect();
    assert!(
        answered.iter().all(|status| *status == 401),
        "every guess is a plain failed log-in, none a 503: {answered:?}"
    );
    assert!(
        served_during_the_flood >= 3,
        "only {served_during_the_flood} rounds ran while the flood lasted"
    );
}
