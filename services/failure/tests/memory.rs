//! An upload's memory stays bounded whatever a single XML event holds.
//!
//! Measured as the resident set of this process, which runs the service:
//! a binary of its own, because `cargo test` runs the tests of one binary
//! as threads of one process, and any other test's uploads would count.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers fail the test at the first broken expectation"
)]

#[path = "api/helpers.rs"]
mod helpers;

use std::io::Write;
use std::time::Duration;

use reqwest::StatusCode;
use test_support::Reply;
use uuid::Uuid;

use crate::helpers::{Body, FailureApp};

/// `<system-out>` holding 256 MiB of one byte, gzipped: about a megabyte
/// on the wire.
fn one_huge_text_node() -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder
        .write_all(
            b"<testsuite name=\"s\"><testcase name=\"a\"><failure message=\"m\"/><system-out>",
        )
        .unwrap();
    let block = vec![b'A'; 1024 * 1024];
    for _ in 0..256 {
        encoder.write_all(&block).unwrap();
    }
    encoder
        .write_all(b"</system-out></testcase></testsuite>")
        .unwrap();
    encoder.finish().unwrap()
}

#[tokio::test]
async fn a_gzip_of_one_256_mib_text_node_is_answered_without_the_service_holding_the_text() {
    // Limits wide enough that the whole text is read (not refused early
    // for its size or its compression ratio): what is measured is what
    // reading one huge event costs.
    let app = helpers::spawn_with(&[
        (
            "service.max_uncompressed_bytes",
            (512 * 1024 * 1024).to_string(),
        ),
        ("service.max_decompression_ratio", "5000".to_owned()),
    ])
    .await;
    let ctx = helpers::uploader(Uuid::now_v7());
    let build = app.create_build(&ctx, "huge-text").await;
    let gzip = one_huge_text_node();
    assert!(gzip.len() < 2 * 1024 * 1024, "{} bytes", gzip.len());

    let before = test_support::rss_kib();
    let mut peak = before;
    // The resident set is sampled every 10 ms for as long as the upload
    // runs: the interval is the sampling rate, not a wait for anything.
    let mut samples = tokio::time::interval(Duration::from_millis(10));
    let upload = app.upload(&ctx, build, Body::gzip(gzip), None);
    tokio::pin!(upload);
    let Reply { status, body, .. } = loop {
        tokio::select! {
            reply = &mut upload => break reply,
            _ = samples.tick() => peak = peak.max(test_support::rss_kib()),
        }
    };
    peak = peak.max(test_support::rss_kib());
    let growth_mib = peak.saturating_sub(before) / 1024;
    assert!(
        growth_mib < 50,
        "the service's memory grew by {growth_mib} MiB reading one 256 MiB text node"
    );
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(helpers::counts(&body), [1, 0, 1, 0, 0, 0]);
    assert!(
        body["warnings"]
            .to_string()
            .contains("the system-out of `a` is longer than 1048576 bytes"),
        "{body}"
    );
}
