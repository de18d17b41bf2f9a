//! SIGTERM drains: readiness answers 503 while draining, in-flight
//! requests finish, then new connections are refused. A test binary of its
//! own, because it sends SIGTERM to its own process.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers fail the test at the first broken expectation"
)]

#[path = "api/probe.rs"]
mod probe;

use std::time::Duration;

use reqwest::StatusCode;
use test_support::eventually;

#[tokio::test]
async fn sigterm_lets_in_flight_requests_finish_and_refuses_new_ones() {
    let service = probe::spawn_probe(&[("server.drain_delay_ms", "300".to_owned())]);
    let probes = test_support::http_client();
    assert!(
        test_support::wait_for_status(
            &probes,
            &service.url("/readyz"),
            200,
            Duration::from_secs(5)
        )
        .await
    );

    let slow = tokio::spawn({
        let url = service.url("/slow");
        async move { reqwest::Client::new().get(url).send().await }
    });
    eventually(
        "the slow request to reach the service",
        Duration::from_secs(10),
        || async {
            probe::SLOW_IN_FLIGHT
                .load(std::sync::atomic::Ordering::SeqCst)
                .then_some(())
        },
    )
    .await;

    let status = std::process::Command::new("kill")
        .args(["-TERM", &std::process::id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());

    // Draining: readiness answers 503 (a problem) while the slow request
    // is still being served.
    let ready = eventually(
        "readiness to answer 503",
        Duration::from_secs(5),
        || async {
            let ready = probes.get(service.admin_url("/readyz")).send().await.ok()?;
            (ready.status() == StatusCode::SERVICE_UNAVAILABLE).then_some(ready)
        },
    )
    .await;
    assert_eq!(ready.headers()["content-type"], "application/problem+json");
    assert!(
        !slow.is_finished(),
        "the slow request ended before the drain"
    );

    // The request that was in flight completes normally.
    let response = slow.await.unwrap().unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.text().await.unwrap(), "finished");

    // Then the public listener is closed: new connections are refused.
    eventually(
        "the public listener to refuse new connections",
        Duration::from_secs(10),
        || async {
            reqwest::Client::new()
                .get(service.url("/healthz"))
                .send()
                .await
                .is_err()
                .then_some(())
        },
    )
    .await;
}
