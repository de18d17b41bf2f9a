//! The published keyring across rotations.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers fail the test at the first broken expectation"
)]

mod common;

use std::process::Command;

#[tokio::test]
async fn tokens_from_the_old_and_the_new_key_verify_and_a_removed_key_does_not() {
    // No JWKS caching in this test, so a rotated key may sign at once.
    let auth = common::spawn(&[
        ("service.jwks_max_age_secs", "0".to_owned()),
        ("service.keyring_refresh_secs", "0".to_owned()),
    ])
    .await;
    auth.sign_up("keys@example.com").await;
    let before = auth.log_in("keys@example.com").await;
    let old_kid = jsonwebtoken::decode_header(&before.access_token)
        .unwrap()
        .kid
        .unwrap();

    let response = auth
        .http
        .get(auth.service.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap();
    assert!(
        response.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("max-age=0")
    );
    let jwks: serde_json::Value = response.json().await.unwrap();
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

    rotate(&auth.database).await;
    let after = auth.log_in("keys@example.com").await;
    let new_kid = jsonwebtoken::decode_header(&after.access_token)
        .unwrap()
        .kid
        .unwrap();
    assert_ne!(old_kid, new_kid, "the new key signs after rotation");

    assert!(
        auth.verify(&before.access_token).await.is_ok(),
        "old key still published"
    );
    assert!(auth.verify(&after.access_token).await.is_ok());
    let states: Vec<(String, String)> = auth
        .database
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
        .collect();
    assert_eq!(
        states,
        vec![
            (old_kid.clone(), "retired".to_owned()),
            (new_kid, "active".to_owned())
        ]
    );

    // Once every token it signed has expired, the old key leaves the set.
    auth.database
        .admin_client()
        .await
        .execute("UPDATE auth.signing_keys SET publish_until = now() - interval '1 second' WHERE kid = $1", &[&old_kid])
        .await
        .unwrap();
    let error = auth.verify(&before.access_token).await.unwrap_err();
    assert!(error.contains("not published"), "{error}");
    assert_eq!(auth.audit_events("key_rotated").await.len(), 1);
}

/// `auth-service keys rotate`, the real command against the test database.
async fn rotate(database: &test_support::TestDatabase) {
    let (host, port) = database.host_and_port();
    let output = Command::new(env!("CARGO_BIN_EXE_auth-service"))
        .args(["keys", "rotate"])
        .env("FAULTLINE__ENVIRONMENT", "test")
        .envs(test_support::internal_token_env())
        .env("FAULTLINE__DATABASE__HOST", host)
        .env("FAULTLINE__DATABASE__PORT", port.to_string())
        .env("FAULTLINE__DATABASE__NAME", database.name())
        .env("FAULTLINE__SERVICE__JWKS_MAX_AGE_SECS", "0")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test]
async fn an_old_active_key_is_rotated_on_schedule() {
    let auth = common::spawn(&[
        ("service.key_rotation_days", "0".to_owned()),
        ("service.keyring_refresh_secs", "0".to_owned()),
    ])
    .await;
    // First load made the first key; the next finds it due for rotation.
    let jwks = auth.jwks().await;
    let states: Vec<String> = auth
        .database
        .admin_client()
        .await
        .query(
            "SELECT state FROM auth.signing_keys ORDER BY activates_at",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
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
