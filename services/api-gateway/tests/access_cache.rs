//! The access cache against the project service's change feed, driven step
//! by step so a lookup and a change can be interleaved on purpose.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers fail the test at the first broken expectation"
)]

mod common;

use std::time::{Duration, Instant};

use api_gateway::lookups::{AccessSubject, LookupConfig as BackendConfig, Lookups as Backends};
use reqwest::Method;
use serde_json::json;
use tenant_core::Role;
use tenant_core::client::ServiceClient;
use tenant_core::context::InternalTokenIssuer;
use uuid::Uuid;

/// Backends talking to the platform's auth and project services, with
/// feeds polled only when the test says so.
fn backends(platform: &common::Platform) -> Backends {
    let settings: api_gateway::Settings = test_support::settings(&api_gateway::SPEC, None, &[]);
    let issuer = InternalTokenIssuer::new(&settings.internal_token).unwrap();
    let client = |url: String, audience: &'static str| {
        ServiceClient::new(&url, audience, issuer.clone(), Duration::from_secs(5)).unwrap()
    };
    Backends::new(
        client(platform.auth.url(""), "auth-service"),
        client(platform.project.url(""), "project-service"),
        BackendConfig {
            api_key_ttl: Duration::from_secs(3600),
            api_key_negative_ttl: Duration::from_secs(10),
            api_key_cache_size: 1000,
            access_ttl: Duration::from_secs(3600),
            access_cache_size: 1000,
            feed_trusted_for: Duration::from_secs(3600),
        },
    )
}

/// Polls the feeds until the access change feed has moved past where it was.
async fn poll_until_a_change_is_applied(backends: &Backends) {
    let before = backends.access_feed_position().get();
    let started = Instant::now();
    loop {
        backends.poll_feeds().await;
        if backends.access_feed_position().get() > before {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the change never reached the feed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn change_role(platform: &common::Platform, owner: &common::User, member: Uuid, role: &str) {
    let response = platform
        .send(
            Method::PATCH,
            &format!("/api/v1/projects/mike/members/{member}"),
            Some(&owner.access_token),
            Some(json!({ "role": role })),
        )
        .await;
    assert!(
        response.status().is_success(),
        "{}",
        response.text().await.unwrap()
    );
}

#[tokio::test]
async fn an_answer_computed_before_a_demotion_is_not_cached_once_the_feed_applied_the_demotion() {
    let platform = common::spawn(&[]).await;
    let owner = platform.sign_up_and_log_in("owner@example.com").await;
    let member = platform.sign_up_and_log_in("member@example.com").await;
    platform.create_project(&owner, "mike").await;
    platform.add_member(&owner, "mike", &member, "admin").await;
    let member_id: Uuid = member.id.parse().unwrap();
    let subject = AccessSubject::User(member_id);
    let backends = backends(&platform);
    backends.poll_feeds().await;

    // The lookup starts and gets its answer ...
    let ticket = backends.access_ticket();
    let answer = backends.ask_access(&subject, "mike", "test").await.unwrap();
    assert_eq!(answer.as_ref().map(|a| a.role), Some(Role::Admin));
    // ... the demotion happens and the feed applies it ...
    change_role(&platform, &owner, member_id, "viewer").await;
    poll_until_a_change_is_applied(&backends).await;
    // ... and only then does the lookup finish.
    backends.cache_access(&subject, "mike", answer, ticket);
    assert!(
        backends.cached_access(&subject, "mike").is_none(),
        "the answer from before the demotion was cached"
    );
    let now = backends.access(&subject, "mike", "test").await.unwrap();
    assert_eq!(now.map(|a| a.role), Some(Role::Viewer));

    // The other order: cached first, then the change drops it.
    assert_eq!(
        backends
            .cached_access(&subject, "mike")
            .flatten()
            .map(|a| a.role),
        Some(Role::Viewer)
    );
    change_role(&platform, &owner, member_id, "member").await;
    poll_until_a_change_is_applied(&backends).await;
    assert!(backends.cached_access(&subject, "mike").is_none());
    let now = backends.access(&subject, "mike", "test").await.unwrap();
    assert_eq!(now.map(|a| a.role), Some(Role::Member));
}
