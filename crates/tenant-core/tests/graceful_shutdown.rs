//! SIGTERM drains: in-flight requests finish, new connections are refused,
//! readiness answers 503 while draining. A test binary of its own, because
//! it sends SIGTERM to its own process.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers fail the test at the first broken expectation"
)]

mod common;

use std::time::Duration;

use reqwest::StatusCode;

#[tokio::test]
async fn sigterm_lets_in_flight_requests_finish_and_refuses_new_ones() {
    let service = common::spawn_probe(&[("server.drain_delay_ms", "300".to_owned())]);
    let client = test_support::http_client();
    assert!(
        test_support::wait_for_status(
            &client,
            &service.url("/readyz"),
            200,
            Duration::from_secs(5)
        )
        .await
    );

    let slow = tokio::spawn({
        let client = client.clone();
        let url = service.url("/slow");
        async move { client.get(url).send().await }
    });
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !common::SLOW_IN_FLIGHT.load(std::sync::atomic::Ordering::SeqCst) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the slow request never reached the service"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let status = std::process::Command::new("kill")
        .args(["-TERM", &std::process::id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());

    // During the drain delay readiness is already 503 on both listeners.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let ready = client
        .get(service.admin_url("/readyz"))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(ready.headers()["content-type"], "application/problem+json");

    // After it the public listener is closed: new connections are refused.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let fresh = reqwest::Client::new()
        .get(service.url("/healthz"))
        .send()
        .await;
    assert!(
        fresh.is_err(),
        "a new connection was accepted during the drain: {fresh:?}"
    );
    let ready = client
        .get(service.admin_url("/readyz"))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);

    // The request that was in flight completes normally.
    let response = slow.await.unwrap().unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.text().await.unwrap(), "finished");
}
