//! The access cache against the project service's change feed, driven step
//! by step so a lookup and a change can be interleaved on purpose.

use std::time::Duration;

use api_gateway::lookups::{AccessSubject, LookupConfig, Lookups};
use reqwest::Method;
use serde_json::json;
use tenant_core::Role;
use tenant_core::client::ServiceClient;
use tenant_core::context::InternalTokenIssuer;
use test_support::eventually;
use uuid::Uuid;

use crate::helpers::{self, CHANGE_SEEN_WITHIN, Platform, User};

/// Lookups asking the platform's auth and project services, with feeds
/// polled only when the test says so.
fn lookups(platform: &Platform) -> Lookups {
    let settings: api_gateway::Settings = test_support::settings(&api_gateway::SPEC, None, &[]);
    let issuer = InternalTokenIssuer::new(&settings.internal_token).unwrap();
    let client = |url: String, audience: &'static str| {
        ServiceClient::new(&url, audience, issuer.clone(), Duration::from_secs(5)).unwrap()
    };
    Lookups::new(
        client(platform.auth.url(""), "auth-service"),
        client(platform.project.url(""), "project-service"),
        LookupConfig {
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
async fn poll_until_a_change_is_applied(lookups: &Lookups) {
    let before = lookups.access_feed_position().get();
    eventually(
        "the change to reach the feed",
        CHANGE_SEEN_WITHIN,
        || async {
            lookups.poll_feeds().await;
            (lookups.access_feed_position().get() > before).then_some(())
        },
    )
    .await;
}

async fn change_role(platform: &Platform, owner: &User, member: Uuid, role: &str) {
    let changed = platform
        .send(
            Method::PATCH,
            &format!("/api/v1/projects/mike/members/{member}"),
            Some(&owner.access_token),
            Some(json!({ "role": role })),
        )
        .await;
    assert!(changed.status.is_success(), "{}", changed.text);
}

#[tokio::test]
async fn an_answer_computed_before_a_demotion_is_not_cached_once_the_feed_applied_the_demotion() {
    let platform = helpers::spawn(&[]).await;
    let owner = platform.sign_up_and_log_in("owner@example.com").await;
    let member = platform.sign_up_and_log_in("member@example.com").await;
    platform.create_project(&owner, "mike").await;
    platform.add_member(&owner, "mike", &member, "admin").await;
    let member_id: Uuid = member.id.parse().unwrap();
    let subject = AccessSubject::User(member_id);
    let lookups = lookups(&platform);
    lookups.poll_feeds().await;

    // The lookup starts and gets its answer ...
    let ticket = lookups.access_ticket();
    let answer = lookups.ask_access(&subject, "mike", "test").await.unwrap();
    assert_eq!(answer.as_ref().map(|a| a.role), Some(Role::Admin));
    // ... the demotion happens and the feed applies it ...
    change_role(&platform, &owner, member_id, "viewer").await;
    poll_until_a_change_is_applied(&lookups).await;
    // ... and only then does the lookup finish.
    lookups.cache_access(&subject, "mike", answer, ticket);
    assert!(
        lookups.cached_access(&subject, "mike").is_none(),
        "the answer from before the demotion was cached"
    );
    let now = lookups.access(&subject, "mike", "test").await.unwrap();
    assert_eq!(now.map(|a| a.role), Some(Role::Viewer));

    // The other order: cached first, then the change drops it.
    assert_eq!(
        lookups
            .cached_access(&subject, "mike")
            .flatten()
            .map(|a| a.role),
        Some(Role::Viewer)
    );
    change_role(&platform, &owner, member_id, "member").await;
    poll_until_a_change_is_applied(&lookups).await;
    assert!(lookups.cached_access(&subject, "mike").is_none());
    let now = lookups.access(&subject, "mike", "test").await.unwrap();
    assert_eq!(now.map(|a| a.role), Some(Role::Member));
}
