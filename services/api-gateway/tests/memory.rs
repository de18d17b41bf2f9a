//! A 200 MB upload streams through the gateway without the gateway holding
//! it.
//!
//! Measured as the resident set of this process, which runs the gateway: a
//! binary of its own, because `cargo test` runs the tests of one binary as
//! threads of one process, and any other test's requests would count.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    dead_code,
    reason = "the api binary's helpers, of which this test uses a few, fail the test at the first broken expectation"
)]

#[path = "api/helpers.rs"]
mod helpers;
#[path = "api/probe.rs"]
mod probe;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use reqwest::Method;
use test_support::Reply;

#[tokio::test]
async fn a_200_mb_upload_streams_through_without_the_gateway_holding_it() {
    let probed = probe::spawn_probed().await;
    let platform = &probed.platform;
    let before = test_support::rss_kib();
    let peak = Arc::new(AtomicU64::new(before));
    let sampler = {
        let peak = peak.clone();
        tokio::spawn(async move {
            loop {
                peak.fetch_max(test_support::rss_kib(), Ordering::SeqCst);
                // The sampling period: nothing is waited for.
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    let chunk = vec![b'z'; 1024 * 1024];
    let body =
        futures_util::stream::iter((0..200).map(move |_| Ok::<_, std::io::Error>(chunk.clone())));
    let response = Reply::from_request(
        platform
            .request(Method::POST, "/api/v1/probe/probe-project/upload")
            .bearer_auth(&probed.owner.access_token)
            .body(reqwest::Body::wrap_stream(body)),
    )
    .await;
    sampler.abort();
    assert_eq!(response.expect(200)["bytes"], 200 * 1024 * 1024);
    let growth_mib = (peak.load(Ordering::SeqCst).saturating_sub(before)) / 1024;
    assert!(
        growth_mib < 50,
        "memory grew by {growth_mib} MiB while streaming 200 MiB"
    );
}
