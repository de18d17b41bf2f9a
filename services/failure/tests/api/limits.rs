//! What one upload, or one project, may take of an instance: XML events
//! of bounded size, zip archives of bounded entries, upload slots shared
//! between projects, and a minimum transfer rate.

use std::time::Duration;

use futures_util::StreamExt;
use reqwest::{Method, StatusCode};
use tenant_core::TenantContext;
use test_support::{Reply, TestApp};
use uuid::Uuid;

use crate::helpers::{self, Body, FailureApp, project_of, results_path};

#[tokio::test]
async fn a_tag_longer_than_the_event_limit_is_422_with_its_line_and_column() {
    let app = helpers::spawn_with(&[("service.max_xml_event_bytes", "4096".to_owned())]).await;
    let ctx = helpers::uploader(Uuid::now_v7());
    let build = app.create_build(&ctx, "long-tag").await;
    // Each attribute is well within `max_attribute_bytes`; the tag is not.
    let value = "v".repeat(2000);
    let xml = format!(
        "<testsuite name=\"s\">\n  <testcase name=\"a\" classname=\"{value}\" file=\"{value}\" extra=\"{value}\"/>\n</testsuite>"
    );
    let body = app
        .upload(&ctx, build, Body::xml(xml), None)
        .await
        .expect(422);
    assert_eq!(body["code"], "junit.tag_too_long", "{body}");
    assert_eq!(
        body["detail"],
        "line 2, column 3: a tag is longer than 4096 bytes"
    );
    assert_eq!(app.count_rows("failure.test_results").await, 0);
}

#[tokio::test]
async fn a_system_out_longer_than_the_event_limit_is_cut_with_a_warning_naming_it() {
    let app = helpers::spawn().await;
    let ctx = helpers::uploader(Uuid::now_v7());
    let project = project_of(&ctx);
    let build = app.create_build(&ctx, "long-output").await;
    let output = "0123456789abcdef\n".repeat(200_000);
    let xml = format!(
        "<testsuite name=\"s\">\n<testcase name=\"noisy\"><failure message=\"m\"/>\n<system-out>{output}</system-out><system-err><![CDATA[{output}]]></system-err></testcase>\n<testcase name=\"after\"/>\n</testsuite>"
    );
    let body = app
        .upload(&ctx, build, Body::xml(xml), None)
        .await
        .expect(201);
    assert_eq!(helpers::counts(&body), [2, 1, 1, 0, 0, 0]);
    let warnings = body["warnings"].to_string();
    assert!(
        warnings.contains("the system-out of `noisy` is longer than 1048576 bytes"),
        "{body}"
    );
    assert!(
        warnings.contains("the system-err of `noisy` is longer than 1048576 bytes"),
        "{body}"
    );
    let failures = app
        .get(&format!("/v1/projects/{project}/failures"), &ctx)
        .await
        .body;
    let id = failures["items"][0]["id"].as_str().unwrap();
    let failure = app
        .get(&format!("/v1/projects/{project}/failures/{id}"), &ctx)
        .await
        .body;
    let kept = failure["system_out"].as_str().unwrap();
    assert!(kept.starts_with("0123456789abcdef\n0123"), "{kept:.40}");
    assert_eq!(kept.len(), 16 * 1024, "cut to service.max_output_bytes");
}

/// A zip of many tiny reports: 100,000 entries are refused while they
/// arrive, long before any directory of them could be held.
#[tokio::test]
async fn a_zip_of_100000_entries_is_refused_with_413() {
    let names: Vec<String> = (0..100_000).map(|i| format!("r/{i}.xml")).collect();
    let reports: Vec<String> = (0..100_000)
        .map(|i| format!("<testcase name=\"t{i}\"/>"))
        .collect();
    let files: Vec<(&str, &[u8])> = names
        .iter()
        .zip(&reports)
        .map(|(name, report)| (name.as_str(), report.as_bytes()))
        .collect();
    // Stored, not deflated: quicker to build; the entries are what counts.
    let archive = helpers::stored_zip_of(&files);
    let app = helpers::spawn().await;
    let ctx = helpers::uploader(Uuid::now_v7());
    let build = app.create_build(&ctx, "many-entries").await;
    let body = app
        .upload(&ctx, build, Body::zip(archive), None)
        .await
        .expect(413);
    assert_eq!(body["code"], "upload.too_many_entries", "{body}");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("more than 10000 entries"),
        "{body}"
    );
    assert_eq!(app.count_rows("failure.test_results").await, 0);
}

#[tokio::test]
async fn a_file_in_a_zip_larger_than_the_entry_limit_is_refused_with_413_naming_it() {
    let app = helpers::spawn_with(&[("service.max_zip_entry_bytes", "65536".to_owned())]).await;
    let ctx = helpers::uploader(Uuid::now_v7());
    let build = app.create_build(&ctx, "big-entry").await;
    let small = "<testsuite name=\"s\"><testcase name=\"a\"/></testsuite>";
    let big = format!(
        "<testsuite name=\"b\">{}</testsuite>",
        "<testcase name=\"x\"/>\n".repeat(5000)
    );
    assert!(big.len() > 65536);
    // Once with the size in the entry's header, once (as streaming
    // writers do) only after its data.
    for archive in [
        helpers::zip_of(&[("small.xml", small.as_bytes()), ("big.xml", big.as_bytes())]),
        helpers::streamed_zip_of(&[("small.xml", small.as_bytes()), ("big.xml", big.as_bytes())]),
    ] {
        let body = app
            .upload(&ctx, build, Body::zip(archive), None)
            .await
            .expect(413);
        assert_eq!(body["code"], "upload.too_large", "{body}");
        assert!(
            body["detail"].as_str().unwrap().starts_with("`big.xml`:"),
            "{body}"
        );
    }
    assert_eq!(app.count_rows("failure.test_results").await, 0);
}

#[tokio::test]
async fn a_zip_from_a_streaming_writer_ingests_every_file() {
    let app = helpers::spawn().await;
    let ctx = helpers::uploader(Uuid::now_v7());
    let build = app.create_build(&ctx, "streamed-zip").await;
    let a = "<testsuite name=\"A\"><testcase name=\"a\"/><testcase name=\"b\"><failure/></testcase></testsuite>";
    let b = "<testsuite name=\"B\"><testcase name=\"c\"/><testcase name=\"d\"/><testcase name=\"e\"/></testsuite>";
    let archive = helpers::streamed_zip_of(&[
        ("a/", b""),
        ("a/TEST-A.xml", a.as_bytes()),
        ("notes.txt", b"hello"),
        ("a/TEST-B.xml", b.as_bytes()),
    ]);
    let body = app
        .upload(&ctx, build, Body::zip(archive), None)
        .await
        .expect(201);
    assert_eq!(body["files"], 2);
    assert_eq!(helpers::counts(&body), [5, 4, 1, 0, 0, 0], "{body}");
}

/// An upload that sends its body a byte at a time, to `build` of `ctx`'s
/// project; it holds its slot until the test ends or the service gives up.
/// The client is slow on purpose: its pace is the scenario.
fn trickle(
    app: &TestApp,
    ctx: &TenantContext,
    build: Uuid,
    every: Duration,
) -> tokio::task::JoinHandle<Reply> {
    let request = app
        .request_as(Method::POST, &results_path(ctx, build), ctx)
        .header("content-type", "application/xml");
    let bytes = futures_util::stream::iter(0..100_000).then(move |_| async move {
        tokio::time::sleep(every).await;
        Ok::<_, std::io::Error>(b" ".to_vec())
    });
    let first = futures_util::stream::once(async {
        Ok::<_, std::io::Error>(b"<testsuite name=\"slow\">".to_vec())
    });
    tokio::spawn(Reply::from_request(
        request.body(reqwest::Body::wrap_stream(first.chain(bytes))),
    ))
}

#[tokio::test]
async fn while_one_project_trickles_eight_uploads_another_projects_upload_succeeds() {
    // The production pool: more connections than upload slots.
    let app = helpers::spawn_with(&[("database.pool_max_size", "16".to_owned())]).await;
    let greedy = helpers::uploader(Uuid::now_v7());
    let mut trickles = Vec::new();
    for index in 0..8 {
        let build = app.create_build(&greedy, &format!("slow-{index}")).await;
        trickles.push(trickle(&app, &greedy, build, Duration::from_millis(100)));
    }
    // Every trickle is either being read or refused; the refused ones
    // have answered.
    let (app_ref, started) = (&app, &trickles);
    let reading = test_support::eventually(
        "every trickle read or refused",
        Duration::from_secs(20),
        || async move {
            let reading = app_ref.metric("failure_uploads_in_progress").await;
            let answered = started.iter().filter(|handle| handle.is_finished()).count();
            (reading as usize + answered == 8).then_some(reading)
        },
    )
    .await;
    let (answered, reading_handles): (Vec<_>, Vec<_>) = trickles
        .into_iter()
        .partition(tokio::task::JoinHandle::is_finished);
    assert_eq!(reading, 4.0, "one project holds half of the 8 slots");
    assert_eq!(answered.len(), 4);
    for handle in answered {
        handle
            .await
            .unwrap()
            .expect_problem(429, "upload.project_busy");
    }

    let other = helpers::uploader(Uuid::now_v7());
    let build = app.create_build(&other, "other").await;
    app.upload(
        &other,
        build,
        Body::xml("<testsuite name=\"s\"><testcase name=\"a\"/></testsuite>"),
        None,
    )
    .await
    .expect(201);
    for handle in reading_handles {
        handle.abort();
    }
}

#[tokio::test]
async fn a_body_trickling_below_the_minimum_rate_is_refused_with_408() {
    let app = helpers::spawn_with(&[
        ("service.upload_idle_timeout_secs", "2".to_owned()),
        ("service.upload_min_bytes_per_sec", "1024".to_owned()),
    ])
    .await;
    let ctx = helpers::uploader(Uuid::now_v7());
    let build = app.create_build(&ctx, "trickle").await;
    // A byte every 200 ms never waits out the 2 s idle timeout.
    let started = std::time::Instant::now();
    let answer = trickle(&app, &ctx, build, Duration::from_millis(200));
    let Reply { status, body, .. } = tokio::time::timeout(Duration::from_secs(30), answer)
        .await
        .expect("the service gives up on a trickle")
        .unwrap();
    assert_eq!(status, StatusCode::REQUEST_TIMEOUT, "{body}");
    assert_eq!(body["code"], "upload.too_slow", "{body}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(app.metric("failure_uploads_in_progress").await, 0.0);
}
