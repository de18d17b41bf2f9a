//! Redis stopping under load: the gateway's limits fall back to each
//! replica's share of them, and nothing else fails.

use reqwest::{Method, StatusCode};
use test_support::redis_server::EphemeralRedis;

use crate::isolation::FullPlatform;

/// The principal limit the two replicas share (each has half without Redis).
const PER_MINUTE: u32 = 100;

/// Sends `count` reads through the gateway: how many were admitted and
/// limited; any other answer fails the test.
async fn read(full: &FullPlatform, token: &str, count: usize) -> (usize, usize) {
    let (mut admitted, mut limited) = (0, 0);
    for _ in 0..count {
        let reply = full
            .send(Method::GET, "/api/v1/me", Some(token), None)
            .await;
        match reply.status {
            StatusCode::OK => admitted += 1,
            StatusCode::TOO_MANY_REQUESTS => {
                assert!(reply.header("retry-after").is_some(), "{}", reply.text);
                limited += 1;
            }
            other => panic!("{other} with Redis away: {}", reply.text),
        }
    }
    (admitted, limited)
}

#[tokio::test]
async fn with_redis_stopped_limits_fall_back_to_the_replicas_share_and_nothing_fails() {
    let mut redis = EphemeralRedis::start().unwrap();
    let full = FullPlatform::start(&[
        ("service.redis_url", redis.url()),
        ("service.replicas", "2".to_owned()),
        ("service.redis_timeout_ms", "200".to_owned()),
        ("service.principal_rate_per_minute", PER_MINUTE.to_string()),
        ("service.principal_burst", PER_MINUTE.to_string()),
    ])
    .await;
    let reader = full.platform.sign_up_and_log_in("reader@example.com").await;
    let owner = full.platform.sign_up_and_log_in("owner@example.com").await;
    full.platform.create_project(&owner, "shop").await;
    let key = full.platform.create_api_key(&owner, "shop").await;

    let (admitted, _) = read(&full, &reader.access_token, 10).await;
    assert_eq!(admitted, 10);
    assert_eq!(
        full.platform
            .metric("gateway_rate_limit_fallbacks_total")
            .await,
        0.0
    );

    redis.stop();
    // A fresh principal, so its whole allowance is measured without Redis.
    let other = full.platform.sign_up_and_log_in("other@example.com").await;
    let (admitted, limited) = read(&full, &other.access_token, 80).await;
    let share = (PER_MINUTE / 2) as usize;
    assert!(
        (share - 2..=share + 5).contains(&admitted),
        "{admitted} admitted ({limited} limited): this replica's share is {share}"
    );
    assert!(
        full.platform
            .metric("gateway_rate_limit_fallbacks_total")
            .await
            > 0.0
    );

    // Everything else goes on: projects, builds, uploads.
    let build = full.platform.create_build(&key, "shop").await;
    let upload = full.platform.upload_results(&key, "shop", &build).await;
    assert!(upload.status.is_success(), "{}", upload.text);
    let builds = full
        .send(
            Method::GET,
            "/api/v1/projects/shop/builds",
            Some(&owner.access_token),
            None,
        )
        .await;
    assert_eq!(builds.status, StatusCode::OK, "{}", builds.text);
}
