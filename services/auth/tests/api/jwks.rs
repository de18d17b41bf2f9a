//! The published keyring across rotations.

use reqwest::Method;
use test_support::{Reply, TestApp};

use crate::helpers::{AuthApp, auth_command, spawn};

/// Kid and state of every signing key, oldest first.
async fn key_states(auth: &TestApp) -> Vec<(String, String)> {
    auth.database()
        .admin_client()
        .await
        .query(
            "SELECT kid, state FROM auth.signing_keys ORDER BY activates_at",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

fn kid_of(access_token: &str) -> String {
    jsonwebtoken::decode_header(access_token)
        .unwrap()
        .kid
        .unwrap()
}

#[tokio::test]
async fn tokens_from_the_old_and_the_new_key_verify_and_a_removed_key_does_not() {
    // No JWKS caching in this test, so a rotated key may sign at once.
    let auth = spawn(&[
        ("service.jwks_max_age_secs", "0".to_owned()),
        ("service.keyring_refresh_secs", "0".to_owned()),
    ])
    .await;
    auth.sign_up("keys@example.com").await;
    let before = auth.log_in("keys@example.com").await;
    let old_kid = kid_of(&before.access_token);

    let reply = Reply::from_request(auth.request(Method::GET, "/.well-known/jwks.json")).await;
    assert!(reply.header("cache-control").unwrap().contains("max-age=0"));
    let jwks = reply.expect(200);
    let key = &jwks["keys"][0];
    assert_eq!(
        (
            key["kty"].as_str(),
            key["crv"].as_str(),
            key["alg"].as_str()
        ),
        (Some("OKP"), Some("Ed25519"), Some("EdDSA"))
    );
    assert!(key.get("d").is_none(), "no private part is ever published");

    // `auth-service keys rotate`, the real command against the test database.
    auth_command(
        auth.database(),
        &["keys", "rotate"],
        &[("FAULTLINE__SERVICE__JWKS_MAX_AGE_SECS", "0")],
    );
    let after = auth.log_in("keys@example.com").await;
    let new_kid = kid_of(&after.access_token);
    assert_ne!(old_kid, new_kid, "the new key signs after rotation");

    assert!(
        auth.verify(&before.access_token).await.is_ok(),
        "old key still published"
    );
    assert!(auth.verify(&after.access_token).await.is_ok());
    assert_eq!(
        key_states(&auth).await,
        vec![
            (old_kid.clone(), "retired".to_owned()),
            (new_kid, "active".to_owned())
        ]
    );

    // Once every token it signed has expired, the old key leaves the set.
    auth.run_sql(&format!(
        "UPDATE auth.signing_keys SET publish_until = now() - interval '1 second' WHERE kid = '{old_kid}'"
    ))
    .await;
    let error = auth.verify(&before.access_token).await.unwrap_err();
    assert!(error.contains("not published"), "{error}");
    assert_eq!(auth.audit_events("key_rotated").await.len(), 1);
}

#[tokio::test]
async fn an_old_active_key_is_rotated_on_schedule() {
    let auth = spawn(&[
        ("service.key_rotation_days", "0".to_owned()),
        ("service.keyring_refresh_secs", "0".to_owned()),
    ])
    .await;
    // First load made the first key; the next finds it due for rotation.
    let jwks = auth.jwks().await;
    let states: Vec<String> = key_states(&auth)
        .await
        .into_iter()
        .map(|(_, state)| state)
        .collect();
    assert_eq!(states, vec!["active", "pending"]);
    assert_eq!(
        jwks["keys"].as_array().unwrap().len(),
        2,
        "the pending key is published before it signs"
    );
    let events = auth.audit_events("key_rotated").await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["details"]["scheduled"], true);
}
