//! Passwords, tokens, API keys and private keys never reach the logs or a
//! response that is not meant to carry them. A test binary of its own: it
//! installs the process-wide log subscriber, at debug level to be strict,
//! so it sees exactly this service's logs.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers fail the test at the first broken expectation"
)]
#![allow(
    clippy::disallowed_methods,
    reason = "tests read rows they queried themselves with Row::get, which fails the test loudly"
)]

#[path = "api/helpers.rs"]
#[allow(dead_code, reason = "this binary uses part of the shared helpers")]
mod helpers;

use std::io::Write;
use std::sync::{Arc, Mutex};

use auth_service::crypto::{MasterKeys, Sealed};
use auth_service::settings::{DEV_MASTER_KEY, DEV_MASTER_KEY_ID};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::{Duration, Utc};
use serde_json::json;
use tenant_core::Role;
use test_support::contexts;

use helpers::{AuthApp, PASSWORD, spawn};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn no_secret_appears_in_logs_or_in_responses_not_meant_to_carry_it() {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .json()
        .with_env_filter("debug")
        .with_writer(move || writer.clone())
        .init();

    let auth = spawn(&[("service.refresh_grace_secs", "0".to_owned())]).await;
    let mut responses = Vec::new();
    let signup = auth.sign_up("secret@example.com").await;
    responses.push(signup.to_string());
    let session = auth.log_in("secret@example.com").await;
    auth.log_in_as("secret@example.com", "a wrong passphrase here")
        .await
        .expect_problem(401, "auth.invalid_credentials");
    let rotated = auth.refresh(&session.refresh_token).await.expect(200);
    let reused = auth.refresh(&session.refresh_token).await; // reuse: family revoked, logged
    responses.push(reused.text);
    let second = auth.log_in("secret@example.com").await;
    responses.push(auth.get("/v1/me", &second.context()).await.text);
    let project = uuid::Uuid::now_v7();
    let api_keys = format!("/v1/projects/{project}/api-keys");
    let admin = second.in_project(project, Role::Admin);
    let created = auth
        .post(
            &api_keys,
            &admin,
            json!({ "name": "ci", "role": "member", "expires_at": Utc::now() + Duration::days(3) }),
        )
        .await
        .expect(201);
    let api_key = created["key"].as_str().unwrap().to_owned();
    responses.push(auth.get(&api_keys, &admin).await.text);
    auth.introspect(&api_key).await.expect(200);
    responses.push(auth.jwks().await.to_string());
    // The internal user lookup answers with the user, never the hash.
    responses.push(
        auth.get(
            "/internal/v1/users?email=secret@example.com",
            &contexts::service(),
        )
        .await
        .text,
    );

    // The private key material, recovered from the database the hard way.
    let row = auth
        .database()
        .admin_client()
        .await
        .query_one("SELECT kid, private_key_ciphertext, nonce, master_key_id FROM auth.signing_keys LIMIT 1", &[])
        .await
        .unwrap();
    let kid: String = row.get(0);
    let dev_key: [u8; 32] = STANDARD.decode(DEV_MASTER_KEY).unwrap().try_into().unwrap();
    let master = MasterKeys::new(
        DEV_MASTER_KEY_ID,
        vec![(DEV_MASTER_KEY_ID.to_owned(), dev_key)],
    )
    .unwrap();
    let pkcs8 = master
        .open(
            &Sealed {
                ciphertext: row.get(1),
                nonce: row.get(2),
                master_key_id: row.get(3),
            },
            kid.as_bytes(),
        )
        .unwrap();
    // PKCS#8 for Ed25519: a 16-byte header, then the 32-byte private seed.
    let seed = &pkcs8[16..48];
    assert_eq!(
        &pkcs8[..16],
        &[
            0x30, pkcs8[1], 0x02, 0x01, pkcs8[4], 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04,
            0x22, 0x04, 0x20
        ]
    );
    let hex = tenant_core::hex::encode;

    let secrets = [
        ("password", PASSWORD.to_owned()),
        ("wrong password", "a wrong passphrase here".to_owned()),
        ("refresh token", session.refresh_token.clone()),
        (
            "rotated refresh token",
            rotated["refresh_token"].as_str().unwrap().to_owned(),
        ),
        ("access token", second.access_token.clone()),
        ("api key", api_key.clone()),
        ("private key (base64)", STANDARD.encode(&pkcs8)),
        ("private key (base64url)", URL_SAFE_NO_PAD.encode(seed)),
        ("private key (hex)", hex(seed)),
        ("master key", DEV_MASTER_KEY.to_owned()),
    ];
    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("refresh token reuse"),
        "the capture works and saw the flows"
    );
    for (what, secret) in &secrets {
        assert!(
            !logs.contains(secret.as_str()),
            "the {what} appears in the logs"
        );
        for response in &responses {
            assert!(
                !response.contains(secret.as_str()),
                "the {what} appears in a response: {response}"
            );
        }
    }
    for response in &responses {
        assert!(
            !response.contains("$argon2"),
            "a password hash appears in a response: {response}"
        );
    }
}
