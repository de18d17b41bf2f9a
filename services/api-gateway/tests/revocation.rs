//! Ended sessions and revoked API keys stop working at every gateway
//! replica through the auth service's revocation feed, and nothing cached
//! is trusted while that feed cannot be read.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers fail the test at the first broken expectation"
)]

mod common;

use std::time::{Duration, Instant};

use chrono::Utc;
use common::{Platform, User, problem};
use futures_util::StreamExt;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use test_support::RunningService;
use uuid::Uuid;

const POLL: Duration = Duration::from_millis(1000);

/// `n` sessions of `user`, with an access token each, made by the auth
/// service's own session and token code (signing in 1,500 times would
/// spend minutes hashing passwords).
async fn sessions_of(platform: &Platform, user: &User, n: usize) -> Vec<(Uuid, String)> {
    let settings = test_support::settings(&auth_service::SPEC, Some(&platform.database), &[]);
    let state = auth_service::admin_state(&settings).await.unwrap();
    let user_id: Uuid = user.id.parse().unwrap();
    let tx = state.db.unscoped_tx().await.unwrap();
    let mut ids = Vec::with_capacity(n);
    for _ in 0..n {
        ids.push(
            auth_service::repo::insert_session(&tx, user_id, Some("192.0.2.1"))
                .await
                .unwrap(),
        );
    }
    tx.commit().await.unwrap();
    let keyring = state.keys.current().await.unwrap();
    ids.into_iter()
        .map(|session_id| {
            let token = state
                .access
                .issue(
                    &keyring,
                    &auth_service::tokens::Subject {
                        user_id,
                        session_id,
                        platform_role: "user".to_owned(),
                        default_project: None,
                    },
                )
                .unwrap();
            (session_id, token)
        })
        .collect()
}

/// Where the auth service's revocation feed stands.
async fn feed_latest(platform: &Platform) -> i64 {
    platform
        .database
        .admin_client()
        .await
        .query_one("SELECT last_seq FROM auth.revocation_counter", &[])
        .await
        .unwrap()
        .get(0)
}

async fn gauge(http: &reqwest::Client, gateway: &RunningService, name: &str) -> f64 {
    test_support::metric(http, gateway, name)
        .await
        .0
        .unwrap_or(-1.0)
}

/// Waits until `gateway` has applied the revocation feed up to `seq`;
/// fails after `deadline`. Returns how long it took.
async fn wait_for_revocations(
    http: &reqwest::Client,
    gateway: &RunningService,
    seq: i64,
    deadline: Duration,
) -> Duration {
    let started = Instant::now();
    loop {
        let position = gauge(http, gateway, "gateway_revocation_feed_position").await;
        if position >= seq as f64 {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < deadline,
            "the gateway applied the revocation feed only up to {position}, not {seq}, within {deadline:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// GETs `path` with each token, 16 at a time; the statuses in order.
/// A client of its own, so no connection idles between two sweeps.
async fn statuses(platform: &Platform, path: &str, tokens: &[&str]) -> Vec<StatusCode> {
    let http = test_support::http_client();
    futures_util::stream::iter(tokens.iter().map(|token| {
        let request = http.get(platform.url(path)).bearer_auth(token);
        async move { request.send().await.unwrap().status() }
    }))
    .buffered(16)
    .collect()
    .await
}

#[tokio::test]
async fn logging_out_everywhere_over_1500_sessions_refuses_every_token_within_two_poll_intervals() {
    // One user sends every request: lift the per-principal limit.
    let platform = common::spawn(&[
        ("service.poll_interval_ms", POLL.as_millis().to_string()),
        ("service.principal_rate_per_minute", "1000000".to_owned()),
        ("service.principal_burst", "100000".to_owned()),
    ])
    .await;
    let user = platform.sign_up_and_log_in("many@example.com").await;
    let sessions = sessions_of(&platform, &user, 1500).await;
    let tokens: Vec<&str> = sessions.iter().map(|(_, token)| token.as_str()).collect();
    // A project-service route without a project (no plan limit), which
    // does not check sessions itself: only the gateway can refuse.
    let path = "/api/v1/projects";
    // Every token works, and is now in the gateway's verified-token cache.
    assert!(
        statuses(&platform, path, &tokens)
            .await
            .iter()
            .all(|status| *status == StatusCode::OK)
    );

    let before = feed_latest(&platform).await;
    let response = platform
        .send(
            Method::POST,
            "/api/v1/auth/logout-all",
            Some(&user.access_token),
            None,
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["sessions_revoked"], 1501);
    let latest = feed_latest(&platform).await;
    assert_eq!(
        latest - before,
        1501,
        "one feed entry per session, in one statement"
    );

    wait_for_revocations(&platform.http, &platform.gateway, latest, 2 * POLL).await;
    let after = statuses(&platform, path, &tokens).await;
    let accepted = after
        .iter()
        .filter(|status| **status != StatusCode::UNAUTHORIZED)
        .count();
    assert_eq!(accepted, 0, "{accepted} of 1500 tokens still accepted");
    let (status, body) = problem(
        platform
            .send(Method::GET, path, Some(tokens[1499]), None)
            .await,
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("auth.invalid_token"))
    );
}

/// Two revoking transactions: the first starts before the second but
/// commits after it (so its `revoked_at`, the transaction's start, is the
/// earlier one). The feed orders by commit, so the gateway, which already
/// read past the second, still applies the first.
#[tokio::test]
async fn a_revocation_that_commits_after_a_later_one_is_still_applied() {
    let platform =
        common::spawn(&[("service.poll_interval_ms", POLL.as_millis().to_string())]).await;
    let user = platform.sign_up_and_log_in("late@example.com").await;
    platform.create_project(&user, "late").await;
    let sessions = sessions_of(&platform, &user, 2).await;
    let ((early_session, early_token), (_, later_token)) = (&sessions[0], &sessions[1]);
    let path = "/api/v1/projects/late";
    assert_eq!(
        statuses(&platform, path, &[early_token, later_token]).await,
        [StatusCode::OK, StatusCode::OK]
    );

    // The early transaction starts: `now()` is fixed from here on.
    let early = platform.database.connect_as("auth_app").await.unwrap();
    early.batch_execute("BEGIN").await.unwrap();
    early.query_one("SELECT now()", &[]).await.unwrap();

    // The later one (a log-out through the gateway) starts and commits.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let logout = platform
        .send(Method::POST, "/api/v1/auth/logout", Some(later_token), None)
        .await;
    assert_eq!(logout.status(), StatusCode::NO_CONTENT);
    let later_seq = feed_latest(&platform).await;
    wait_for_revocations(&platform.http, &platform.gateway, later_seq, 2 * POLL).await;
    assert_eq!(
        statuses(&platform, path, &[early_token, later_token]).await,
        [StatusCode::OK, StatusCode::UNAUTHORIZED]
    );

    // Now the early transaction revokes its session and commits.
    early
        .execute(
            "UPDATE auth.sessions SET revoked_at = now(), revoked_reason = 'logout' WHERE id = $1",
            &[early_session],
        )
        .await
        .unwrap();
    early.batch_execute("COMMIT").await.unwrap();
    let order: bool = platform
        .database
        .admin_client()
        .await
        .query_one(
            "SELECT (SELECT revoked_at FROM auth.sessions WHERE id = $1)
                  < (SELECT revoked_at FROM auth.sessions WHERE id = $2)",
            &[early_session, &sessions[1].0],
        )
        .await
        .unwrap()
        .get(0);
    assert!(order, "the early revocation has the earlier revoked_at");

    let latest = feed_latest(&platform).await;
    assert!(latest > later_seq);
    wait_for_revocations(&platform.http, &platform.gateway, latest, 2 * POLL).await;
    assert_eq!(
        statuses(&platform, path, &[early_token]).await,
        [StatusCode::UNAUTHORIZED]
    );
}

/// With the auth service gone, the revocation feed cannot be read: once it
/// is stale, a token the gateway verified and cached earlier is checked at
/// the auth service again, and refused (503) when that is impossible,
/// rather than trusted for the rest of its life.
#[tokio::test]
async fn with_the_feed_unreachable_a_cached_token_is_rechecked_rather_than_trusted() {
    let platform = common::spawn(&[("service.poll_interval_ms", "100".to_owned())]).await;
    let user = platform.sign_up_and_log_in("stale@example.com").await;
    platform.create_project(&user, "stale").await;
    let path = "/api/v1/projects/stale";
    for _ in 0..2 {
        let response = platform
            .send(Method::GET, path, Some(&user.access_token), None)
            .await;
        assert_eq!(response.status(), StatusCode::OK);
    }
    let Platform {
        auth,
        gateway,
        http,
        project,
        database,
        ..
    } = platform;
    auth.stop().await.unwrap();

    // The feed is trusted for 5 polls (at least 2 s).
    let started = Instant::now();
    let (status, body) = loop {
        let response = http
            .get(gateway.url(path))
            .bearer_auth(&user.access_token)
            .send()
            .await
            .unwrap();
        if response.status() != StatusCode::OK {
            break problem(response).await;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the cached token was still trusted after 10 s without the revocation feed"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        (status, body["code"].as_str()),
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Some("dependency.unavailable")
        ),
        "{body}"
    );
    assert!(gauge(&http, &gateway, "gateway_session_rechecks_total").await >= 1.0);
    drop((project, database));
}

/// The feed fails (its table cannot be read) while the auth service is
/// up: the gateway asks the auth service about each token's session, so a
/// session ended meanwhile is refused at once.
#[tokio::test]
async fn with_the_feed_failing_a_session_ended_meanwhile_is_refused_by_the_recheck() {
    let platform = common::spawn(&[("service.poll_interval_ms", "100".to_owned())]).await;
    let user = platform.sign_up_and_log_in("recheck@example.com").await;
    platform.create_project(&user, "recheck").await;
    let sessions = sessions_of(&platform, &user, 1).await;
    let token = sessions[0].1.as_str();
    let path = "/api/v1/projects/recheck";
    assert_eq!(statuses(&platform, path, &[token]).await, [StatusCode::OK]);

    platform
        .database
        .admin_client()
        .await
        .batch_execute("REVOKE SELECT ON auth.revocations FROM auth_app")
        .await
        .unwrap();
    // Until a request made now is rechecked: the counter may already have
    // moved while the gateway started, before its first read of the feed.
    let rechecks = || {
        gauge(
            &platform.http,
            &platform.gateway,
            "gateway_session_rechecks_total",
        )
    };
    let started = Instant::now();
    loop {
        let before = rechecks().await;
        assert_eq!(statuses(&platform, path, &[token]).await, [StatusCode::OK]);
        if rechecks().await > before {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the gateway still trusted the stale feed after 10 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let logout = platform
        .send(Method::POST, "/api/v1/auth/logout", Some(token), None)
        .await;
    assert_eq!(logout.status(), StatusCode::NO_CONTENT);
    let (status, body) = problem(platform.send(Method::GET, path, Some(token), None).await).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("auth.invalid_token"))
    );
}

/// The failure service beside the platform, and `replicas` gateways that
/// route to all three and keep positive API key answers for an hour.
async fn with_failure_service(
    platform: &Platform,
    replicas: usize,
) -> (RunningService, Vec<RunningService>) {
    let failure = RunningService::spawn(
        failure_service::build(test_support::settings(
            &failure_service::SPEC,
            Some(&platform.database),
            &[],
        ))
        .await
        .unwrap(),
    );
    let overrides = vec![
        ("service.upstreams.auth.url", platform.auth.url("")),
        ("service.upstreams.project.url", platform.project.url("")),
        ("service.upstreams.failure.url", failure.url("")),
        ("service.poll_interval_ms", POLL.as_millis().to_string()),
        ("service.api_key_cache_secs", "3600".to_owned()),
    ];
    let mut gateways = Vec::new();
    for _ in 0..replicas {
        let settings = test_support::settings(&api_gateway::SPEC, None, &overrides);
        gateways.push(RunningService::spawn(
            api_gateway::build(settings).await.unwrap(),
        ));
    }
    (failure, gateways)
}

async fn create_key(platform: &Platform, gateway: &RunningService, by: &User, slug: &str) -> Value {
    let response = platform
        .http
        .post(gateway.url(&format!("/api/v1/projects/{slug}/api-keys")))
        .bearer_auth(&by.access_token)
        .json(&json!({ "name": "ci", "role": "member", "expires_at": Utc::now() + chrono::Duration::days(7) }))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::CREATED,
        "{}",
        response.text().await.unwrap()
    );
    response.json().await.unwrap()
}

/// What an API key gets when it lists the project's failures.
async fn key_status(
    platform: &Platform,
    gateway: &RunningService,
    key: &str,
    slug: &str,
) -> StatusCode {
    platform
        .http
        .get(gateway.url(&format!("/api/v1/projects/{slug}/failures")))
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn a_revoked_api_key_is_refused_by_every_gateway_replica_from_its_next_feed_poll() {
    let platform = common::spawn(&[]).await;
    let (_failure, gateways) = with_failure_service(&platform, 2).await;
    let owner = platform.sign_up_and_log_in("keys@example.com").await;
    platform.create_project(&owner, "kilo").await;
    let created = create_key(&platform, &gateways[0], &owner, "kilo").await;
    let key = created["key"].as_str().unwrap();
    for gateway in &gateways {
        for _ in 0..2 {
            assert_eq!(
                key_status(&platform, gateway, key, "kilo").await,
                StatusCode::OK
            );
        }
    }

    let revoked = platform
        .http
        .delete(gateways[0].url(&format!(
            "/api/v1/projects/kilo/api-keys/{}",
            created["id"].as_str().unwrap()
        )))
        .bearer_auth(&owner.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), StatusCode::NO_CONTENT);
    let latest = feed_latest(&platform).await;
    for gateway in &gateways {
        // One poll interval, and the time a poll takes (allowing a
        // busy machine up to another interval).
        wait_for_revocations(&platform.http, gateway, latest, 2 * POLL).await;
        assert_eq!(
            key_status(&platform, gateway, key, "kilo").await,
            StatusCode::UNAUTHORIZED,
            "the introspection cached for an hour was dropped"
        );
    }
}

#[tokio::test]
async fn api_keys_created_by_a_member_who_is_demoted_or_removed_are_revoked() {
    let platform = common::spawn(&[]).await;
    let (_failure, gateways) = with_failure_service(&platform, 1).await;
    let gateway = &gateways[0];
    let owner = platform.sign_up_and_log_in("owner@example.com").await;
    let demoted = platform.sign_up_and_log_in("demoted@example.com").await;
    let removed = platform.sign_up_and_log_in("removed@example.com").await;
    platform.create_project(&owner, "lima").await;
    platform.add_member(&owner, "lima", &demoted, "admin").await;
    platform.add_member(&owner, "lima", &removed, "admin").await;
    let owners_key = create_key(&platform, gateway, &owner, "lima").await;
    let demoteds_key = create_key(&platform, gateway, &demoted, "lima").await;
    let removeds_key = create_key(&platform, gateway, &removed, "lima").await;
    let key = |created: &Value| created["key"].as_str().unwrap().to_owned();
    let (owners_key, demoteds_key, removeds_key) =
        (key(&owners_key), key(&demoteds_key), key(&removeds_key));
    for key in [&owners_key, &demoteds_key, &removeds_key] {
        assert_eq!(
            key_status(&platform, gateway, key, "lima").await,
            StatusCode::OK
        );
    }

    let demote = platform
        .send(
            Method::PATCH,
            &format!("/api/v1/projects/lima/members/{}", demoted.id),
            Some(&owner.access_token),
            Some(json!({ "role": "member" })),
        )
        .await;
    assert!(
        demote.status().is_success(),
        "{}",
        demote.text().await.unwrap()
    );
    let remove = platform
        .send(
            Method::DELETE,
            &format!("/api/v1/projects/lima/members/{}", removed.id),
            Some(&owner.access_token),
            None,
        )
        .await;
    assert!(
        remove.status().is_success(),
        "{}",
        remove.text().await.unwrap()
    );

    let started = Instant::now();
    loop {
        let demoted_status = key_status(&platform, gateway, &demoteds_key, "lima").await;
        let removed_status = key_status(&platform, gateway, &removeds_key, "lima").await;
        if demoted_status == StatusCode::UNAUTHORIZED && removed_status == StatusCode::UNAUTHORIZED
        {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "after 10 s the demoted admin's key answers {demoted_status}, the removed one's {removed_status}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(
        key_status(&platform, gateway, &owners_key, "lima").await,
        StatusCode::OK,
        "keys of members who stay admins stay"
    );
    let kinds: Vec<String> = platform
        .database
        .admin_client()
        .await
        .query(
            "SELECT details->>'reason' FROM auth.audit_events
              WHERE kind = 'api_key_revoked' ORDER BY occurred_at",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    // One relay batch may carry both changes: their order is not the point.
    let mut kinds = kinds;
    kinds.sort();
    assert_eq!(kinds, ["creator_demoted", "creator_removed"]);
}
