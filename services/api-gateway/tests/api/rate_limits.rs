//! Rate limits shared by gateway replicas through Redis, and the local
//! share when Redis is gone.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use test_support::Reply;
use test_support::redis_server::EphemeralRedis;

use crate::helpers::{self, Platform};

/// Sends `count` requests with `token`, round robin over `urls`: how many
/// were admitted, limited, and answered otherwise, and how long it took.
async fn hammer(
    platform: &Platform,
    urls: &[String],
    token: &str,
    count: usize,
) -> (usize, usize, usize, Duration) {
    let started = Instant::now();
    let (mut ok, mut limited, mut other) = (0, 0, 0);
    for i in 0..count {
        let response =
            Reply::from_request(platform.http.get(&urls[i % urls.len()]).bearer_auth(token)).await;
        match response.status {
            StatusCode::OK => {
                assert!(response.headers.contains_key("ratelimit"));
                assert!(response.headers.contains_key("ratelimit-policy"));
                ok += 1;
            }
            StatusCode::TOO_MANY_REQUESTS => {
                assert!(response.headers.contains_key("retry-after"));
                assert!(response.headers.contains_key("ratelimit"));
                limited += 1;
            }
            _ => other += 1,
        }
    }
    (ok, limited, other, started.elapsed())
}

/// How many more requests a limit of `per_minute` admits over `elapsed`
/// than its burst: a slow machine takes longer to send them.
fn refilled(per_minute: u32, elapsed: Duration) -> usize {
    (elapsed.as_secs_f64() * f64::from(per_minute) / 60.0).ceil() as usize
}

fn limit_settings(redis_url: String) -> Vec<(&'static str, String)> {
    vec![
        ("service.redis_url", redis_url),
        ("service.principal_rate_per_minute", "100".to_owned()),
        ("service.principal_burst", "100".to_owned()),
        ("service.replicas", "2".to_owned()),
        ("service.redis_timeout_ms", "200".to_owned()),
    ]
}

#[tokio::test]
async fn two_gateways_sharing_redis_admit_the_limit_between_them() {
    let redis = EphemeralRedis::start().unwrap();
    let platform = helpers::spawn(&limit_settings(redis.url())).await;
    let second = platform.another_gateway().await;
    let user = platform.sign_up_and_log_in("limits@example.com").await;
    let urls = [platform.url("/api/v1/me"), second.url("/api/v1/me")];

    let (ok, limited, other, elapsed) = hammer(&platform, &urls, &user.access_token, 160).await;
    assert_eq!(other, 0);
    assert!(
        (95..=105 + refilled(100, elapsed)).contains(&ok),
        "{ok} admitted in {elapsed:?} for a limit of 100 across two replicas ({limited} limited)"
    );
    assert_eq!(
        platform.metric("gateway_rate_limit_fallbacks_total").await,
        0.0
    );
}

#[tokio::test]
async fn without_redis_each_replica_enforces_its_share_and_requests_keep_flowing() {
    let mut redis = EphemeralRedis::start().unwrap();
    let url = redis.url();
    redis.stop();
    let platform = helpers::spawn(&limit_settings(url)).await;
    let user = platform.sign_up_and_log_in("fallback@example.com").await;

    let (ok, limited, other, elapsed) = hammer(
        &platform,
        &[platform.url("/api/v1/me")],
        &user.access_token,
        80,
    )
    .await;
    assert_eq!(other, 0, "requests keep flowing with Redis down");
    assert!(
        (48..=53 + refilled(50, elapsed)).contains(&ok),
        "{ok} admitted in {elapsed:?}: this replica's share is 50 ({limited} limited)"
    );
    assert!(platform.metric("gateway_rate_limit_fallbacks_total").await >= 80.0);
}
