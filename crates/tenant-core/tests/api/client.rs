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

/// A listener in front of `target` that takes the first connection and
/// closes it without an answer (what a caller sees when the replica it
/// reached goes away under it), then passes every later one through.
async fn first_connection_dropped(target: String) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut first = true;
        while let Ok((mut client, _)) = listener.accept().await {
            if std::mem::take(&mut first) {
                let mut head = [0_u8; 1024];
                let _ = tokio::io::AsyncReadExt::read(&mut client, &mut head).await;
                drop(client);
                continue;
            }
            let target = target.clone();
            tokio::spawn(async move {
                let mut server = tokio::net::TcpStream::connect(&target).await.unwrap();
                let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
            });
        }
    });
    format!("http://{address}")
}

#[tokio::test]
async fn a_get_whose_connection_breaks_before_an_answer_is_sent_again_once() {
    let service = spawn_probe(&[]);
    let target = service.url("").trim_start_matches("http://").to_owned();
    let client = client_of(&first_connection_dropped(target.clone()).await);
    let answer: Value = client
        .get_json("/healthz", &contexts::service())
        .await
        .unwrap();
    assert_eq!(answer["status"], "ok");

    // Not a GET: it may have been acted on, so it is not sent again.
    let client = client_of(&first_connection_dropped(target).await);
    let error = client
        .post_json::<_, Value>("/busy", &json!({}), &contexts::service())
        .await
        .unwrap_err();
    assert_eq!(error.status(), None, "{error}");
}
