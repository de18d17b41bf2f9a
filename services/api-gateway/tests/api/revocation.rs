//! Ended sessions and revoked API keys stop working at every gateway
//! replica through the auth service's revocation feed, and nothing cached
//! is trusted while that feed cannot be read.

use std::time::Duration;

use futures_util::StreamExt;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use test_support::{Reply, TestApp, eventually};

use crate::helpers::{self, Platform, User, api_key_request, failure_upstream};

const POLL: Duration = Duration::from_millis(1000);

/// Waits until `gateway` has applied the revocation feed up to `seq`;
/// fails after `deadline`.
async fn wait_for_revocations(gateway: &TestApp, seq: i64, deadline: Duration) {
    helpers::wait_for_feed(gateway, "gateway_revocation_feed_position", seq, deadline).await;
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
    let platform = helpers::spawn(&[
        ("service.poll_interval_ms", POLL.as_millis().to_string()),
        ("service.principal_rate_per_minute", "1000000".to_owned()),
        ("service.principal_burst", "100000".to_owned()),
    ])
    .await;
    let user = platform.sign_up_and_log_in("many@example.com").await;
    let sessions = platform.sessions_of(&user, 1500).await;
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

    let before = platform.revocation_feed_latest().await;
    let response = platform
        .send(
            Method::POST,
            "/api/v1/auth/logout-all",
            Some(&user.access_token),
            None,
        )
        .await
        .expect(200);
    assert_eq!(response["sessions_revoked"], 1501);
    let latest = platform.revocation_feed_latest().await;
    assert_eq!(
        latest - before,
        1501,
        "one feed entry per session, in one statement"
    );

    wait_for_revocations(&platform.gateway, latest, 2 * POLL).await;
    let after = statuses(&platform, path, &tokens).await;
    let accepted = after
        .iter()
        .filter(|status| **status != StatusCode::UNAUTHORIZED)
        .count();
    assert_eq!(accepted, 0, "{accepted} of 1500 tokens still accepted");
    platform
        .send(Method::GET, path, Some(tokens[1499]), None)
        .await
        .expect_problem(401, "auth.invalid_token");
}

/// Two revoking transactions: the first starts before the second but
/// commits after it (so its `revoked_at`, the transaction's start, is the
/// earlier one). The feed orders by commit, so the gateway, which already
/// read past the second, still applies the first.
#[tokio::test]
async fn a_revocation_that_commits_after_a_later_one_is_still_applied() {
    let platform =
        helpers::spawn(&[("service.poll_interval_ms", POLL.as_millis().to_string())]).await;
    let user = platform.sign_up_and_log_in("late@example.com").await;
    platform.create_project(&user, "late").await;
    let sessions = platform.sessions_of(&user, 2).await;
    let ((early_session, early_token), (later_session, later_token)) = (&sessions[0], &sessions[1]);
    let path = "/api/v1/projects/late";
    assert_eq!(
        statuses(&platform, path, &[early_token, later_token]).await,
        [StatusCode::OK, StatusCode::OK]
    );

    // The early transaction starts: `now()` is fixed from here on.
    let early = platform.database.connect_as("auth_app").await.unwrap();
    early.batch_execute("BEGIN").await.unwrap();
    early.query_one("SELECT now()", &[]).await.unwrap();

    // The later one (a log-out through the gateway) starts and commits,
    // once the database's clock has moved past the early one's start.
    let admin = platform.database.admin_client().await;
    eventually(
        "the database clock to pass the early transaction's start",
        Duration::from_secs(5),
        || async {
            let passed: bool = early
                .query_one("SELECT clock_timestamp() > now()", &[])
                .await
                .unwrap()
                .try_get(0)
                .unwrap();
            passed.then_some(())
        },
    )
    .await;
    let logout = platform
        .send(Method::POST, "/api/v1/auth/logout", Some(later_token), None)
        .await;
    assert_eq!(logout.status, StatusCode::NO_CONTENT);
    let later_seq = platform.revocation_feed_latest().await;
    wait_for_revocations(&platform.gateway, later_seq, 2 * POLL).await;
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
    let order: bool = admin
        .query_one(
            "SELECT (SELECT revoked_at FROM auth.sessions WHERE id = $1)
                  < (SELECT revoked_at FROM auth.sessions WHERE id = $2)",
            &[early_session, later_session],
        )
        .await
        .unwrap()
        .try_get(0)
        .unwrap();
    assert!(order, "the early revocation has the earlier revoked_at");

    let latest = platform.revocation_feed_latest().await;
    assert!(latest > later_seq);
    wait_for_revocations(&platform.gateway, latest, 2 * POLL).await;
    assert_eq!(
        statuses(&platform, path, &[early_token]).await,
        [StatusCode::UNAUTHORIZED]
    );
}

/// Settings for a test that reads until the gateway stops trusting its
/// revocation feed: feeds polled every 100 ms, and one user's requests
/// never rate limited on the way.
fn polling_quickly_without_limits() -> [(&'static str, String); 3] {
    [
        ("service.poll_interval_ms", "100".to_owned()),
        ("service.principal_rate_per_minute", "1000000".to_owned()),
        ("service.principal_burst", "100000".to_owned()),
    ]
}

/// With the auth service gone, the revocation feed cannot be read: once it
/// is stale, a token the gateway verified and cached earlier is checked at
/// the auth service again, and refused (503) when that is impossible,
/// rather than trusted for the rest of its life.
#[tokio::test]
async fn with_the_feed_unreachable_a_cached_token_is_rechecked_rather_than_trusted() {
    let platform = helpers::spawn(&polling_quickly_without_limits()).await;
    let user = platform.sign_up_and_log_in("stale@example.com").await;
    // A route without a project, so no plan limit applies either.
    let path = "/api/v1/projects";
    for _ in 0..2 {
        let read = platform
            .send(Method::GET, path, Some(&user.access_token), None)
            .await;
        assert_eq!(read.status, StatusCode::OK);
    }
    let Platform { auth, gateway, .. } = platform;
    auth.stop().await;

    // The feed is trusted for 5 polls (at least 2 s).
    let refused = eventually(
        "the cached token to stop being trusted without the revocation feed",
        Duration::from_secs(10),
        || async {
            let read = Reply::from_request(
                gateway
                    .request(Method::GET, path)
                    .bearer_auth(&user.access_token),
            )
            .await;
            (read.status != StatusCode::OK).then_some(read)
        },
    )
    .await;
    refused.expect_problem(503, "dependency.unavailable");
    assert!(gateway.metric("gateway_session_rechecks_total").await >= 1.0);
}

/// The feed fails (its table cannot be read) while the auth service is
/// up: the gateway asks the auth service about each token's session, so a
/// session ended meanwhile is refused at once.
#[tokio::test]
async fn with_the_feed_failing_a_session_ended_meanwhile_is_refused_by_the_recheck() {
    let platform = helpers::spawn(&polling_quickly_without_limits()).await;
    let user = platform.sign_up_and_log_in("recheck@example.com").await;
    let sessions = platform.sessions_of(&user, 1).await;
    let token = sessions[0].1.as_str();
    // A route without a project, so no plan limit applies either.
    let path = "/api/v1/projects";
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
    let rechecks = || platform.metric("gateway_session_rechecks_total");
    eventually(
        "a request rechecked at the auth service with the feed failing",
        Duration::from_secs(10),
        || async {
            let before = rechecks().await;
            assert_eq!(statuses(&platform, path, &[token]).await, [StatusCode::OK]);
            (rechecks().await > before).then_some(())
        },
    )
    .await;

    let logout = platform
        .send(Method::POST, "/api/v1/auth/logout", Some(token), None)
        .await;
    assert_eq!(logout.status, StatusCode::NO_CONTENT);
    platform
        .send(Method::GET, path, Some(token), None)
        .await
        .expect_problem(401, "auth.invalid_token");
}

/// The failure service beside the platform, and `replicas` gateways that
/// route to all three and keep positive API key answers for an hour.
async fn with_failure_service(platform: &Platform, replicas: usize) -> (TestApp, Vec<TestApp>) {
    let failure = TestApp::spawn_on(
        &failure_service::SPEC,
        failure_service::build,
        Some(platform.database.clone()),
        &[],
    )
    .await;
    let overrides = vec![
        ("service.upstreams.auth.url", platform.auth.url("")),
        ("service.upstreams.project.url", platform.project.url("")),
        failure_upstream(&failure),
        ("service.poll_interval_ms", POLL.as_millis().to_string()),
        ("service.api_key_cache_secs", "3600".to_owned()),
    ];
    let mut gateways = Vec::new();
    for _ in 0..replicas {
        gateways.push(helpers::gateway(&overrides).await);
    }
    (failure, gateways)
}

async fn create_key(gateway: &TestApp, by: &User, slug: &str) -> Value {
    Reply::from_request(
        gateway
            .request(Method::POST, &format!("/api/v1/projects/{slug}/api-keys"))
            .bearer_auth(&by.access_token)
            .json(&api_key_request("member")),
    )
    .await
    .expect(201)
}

/// What an API key gets when it lists the project's failures.
async fn key_status(gateway: &TestApp, key: &str, slug: &str) -> StatusCode {
    Reply::from_request(
        gateway
            .request(Method::GET, &format!("/api/v1/projects/{slug}/failures"))
            .bearer_auth(key),
    )
    .await
    .status
}

#[tokio::test]
async fn a_revoked_api_key_is_refused_by_every_gateway_replica_from_its_next_feed_poll() {
    let platform = helpers::spawn(&[]).await;
    let (_failure, gateways) = with_failure_service(&platform, 2).await;
    let owner = platform.sign_up_and_log_in("keys@example.com").await;
    platform.create_project(&owner, "kilo").await;
    let created = create_key(&gateways[0], &owner, "kilo").await;
    let key = created["key"].as_str().unwrap();
    for gateway in &gateways {
        for _ in 0..2 {
            assert_eq!(key_status(gateway, key, "kilo").await, StatusCode::OK);
        }
    }

    let revoked = Reply::from_request(
        gateways[0]
            .request(
                Method::DELETE,
                &format!(
                    "/api/v1/projects/kilo/api-keys/{}",
                    created["id"].as_str().unwrap()
                ),
            )
            .bearer_auth(&owner.access_token),
    )
    .await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT);
    let latest = platform.revocation_feed_latest().await;
    for gateway in &gateways {
        // One poll interval, and the time a poll takes (allowing a
        // busy machine up to another interval).
        wait_for_revocations(gateway, latest, 2 * POLL).await;
        assert_eq!(
            key_status(gateway, key, "kilo").await,
            StatusCode::UNAUTHORIZED,
            "the introspection cached for an hour was dropped"
        );
    }
}

#[tokio::test]
async fn api_keys_created_by_a_member_who_is_demoted_or_removed_are_revoked() {
    let platform = helpers::spawn(&[]).await;
    let (_failure, gateways) = with_failure_service(&platform, 1).await;
    let gateway = &gateways[0];
    let owner = platform.sign_up_and_log_in("owner@example.com").await;
    let demoted = platform.sign_up_and_log_in("demoted@example.com").await;
    let removed = platform.sign_up_and_log_in("removed@example.com").await;
    platform.create_project(&owner, "lima").await;
    platform.add_member(&owner, "lima", &demoted, "admin").await;
    platform.add_member(&owner, "lima", &removed, "admin").await;
    let owners_key = create_key(gateway, &owner, "lima").await;
    let demoteds_key = create_key(gateway, &demoted, "lima").await;
    let removeds_key = create_key(gateway, &removed, "lima").await;
    let key = |created: &Value| created["key"].as_str().unwrap().to_owned();
    let (owners_key, demoteds_key, removeds_key, revoked_ids) = (
        key(&owners_key),
        key(&demoteds_key),
        key(&removeds_key),
        [&demoteds_key, &removeds_key].map(|created| {
            created["id"]
                .as_str()
                .unwrap()
                .parse::<uuid::Uuid>()
                .unwrap()
        }),
    );
    for key in [&owners_key, &demoteds_key, &removeds_key] {
        assert_eq!(key_status(gateway, key, "lima").await, StatusCode::OK);
    }

    let demote = platform
        .send(
            Method::PATCH,
            &format!("/api/v1/projects/lima/members/{}", demoted.id),
            Some(&owner.access_token),
            Some(json!({ "role": "member" })),
        )
        .await;
    assert!(demote.status.is_success(), "{}", demote.text);
    let remove = platform
        .send(
            Method::DELETE,
            &format!("/api/v1/projects/lima/members/{}", removed.id),
            Some(&owner.access_token),
            None,
        )
        .await;
    assert!(remove.status.is_success(), "{}", remove.text);

    // The project service relays the changes to the auth service, which
    // revokes the keys; the gateway's revocation feed then drops them.
    let admin = platform.database.admin_client().await;
    eventually(
        "the demoted and the removed admin's keys to be revoked",
        Duration::from_secs(10),
        || async {
            let revoked: i64 = admin
                .query_one(
                    "SELECT count(*) FROM auth.api_keys
                      WHERE id = ANY($1) AND revoked_at IS NOT NULL",
                    &[&revoked_ids.as_slice()],
                )
                .await
                .unwrap()
                .try_get(0)
                .unwrap();
            (revoked == 2).then_some(())
        },
    )
    .await;
    let latest = platform.revocation_feed_latest().await;
    wait_for_revocations(gateway, latest, 2 * POLL).await;
    for (key, whose) in [(&demoteds_key, "demoted"), (&removeds_key, "removed")] {
        assert_eq!(
            key_status(gateway, key, "lima").await,
            StatusCode::UNAUTHORIZED,
            "the {whose} admin's key"
        );
    }
    assert_eq!(
        key_status(gateway, &owners_key, "lima").await,
        StatusCode::OK,
        "keys of members who stay admins stay"
    );
    let mut kinds: Vec<String> = admin
        .query(
            "SELECT details->>'reason' FROM auth.audit_events
              WHERE kind = 'api_key_revoked' ORDER BY occurred_at",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.try_get(0).unwrap())
        .collect();
    // One relay batch may carry both changes: their order is not the point.
    kinds.sort();
    assert_eq!(kinds, ["creator_demoted", "creator_removed"]);
}
