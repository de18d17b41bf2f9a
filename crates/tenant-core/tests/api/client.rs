//! Calls between services: what a caller learns from a refusal, which the
//! outbox relay's backoff depends on.

use std::time::Duration;

use serde_json::{Value, json};
use tenant_core::client::ServiceClient;
use tenant_core::config::Settings;
use tenant_core::context::InternalTokenIssuer;
use test_support::contexts;

use crate::probe::{self, spawn_probe};

fn client_of(base_url: &str) -> ServiceClient {
    let settings: Settings = probe::settings(&[]);
    let issuer = InternalTokenIssuer::new(&settings.internal_token).unwrap();
    ServiceClient::new(base_url, probe::PROBE.name, issuer, Duration::from_secs(5)).unwrap()
}

#[tokio::test]
async fn a_503_with_retry_after_tells_the_caller_how_long_to_wait() {
    let service = spawn_probe(&[]);
    let client = client_of(&service.url(""));
    let error = client
        .post_json::<_, Value>("/busy", &json!({}), &contexts::service())
        .await
        .unwrap_err();
    assert_eq!(error.status().map(|s| s.as_u16()), Some(503));
    assert_eq!(error.retry_after(), Some(Duration::from_secs(7)));
}

#[tokio::test]
async fn other_refusals_and_unreachable_targets_carry_no_wait() {
    let service = spawn_probe(&[]);
    let client = client_of(&service.url(""));
    let error = client
        .post_json::<_, Value>("/nothing-here", &json!({}), &contexts::service())
        .await
        .unwrap_err();
    assert_eq!(error.status().map(|s| s.as_u16()), Some(404));
    assert_eq!(error.retry_after(), None);
    let nowhere = client_of("http://127.0.0.1:9");
    let error = nowhere
        .post_json::<_, Value>("/busy", &json!({}), &contexts::service())
        .await
        .unwrap_err();
    assert_eq!(error.status(), None);
    assert_eq!(error.retry_after(), None);
}
