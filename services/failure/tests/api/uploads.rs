//! Uploading results: formats, idempotency, several files, refusals.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::json;
use test_support::Reply;
use uuid::Uuid;

use crate::helpers::{self, Body, FailureApp, project_of, results_path};

const TWO_CASES: &str = r#"<testsuite name="s" tests="2" failures="1">
  <testcase classname="C" name="ok" time="0.1"/>
  <testcase classname="C" name="bad" time="3,000.5"><failure message="boom" type="AssertionError">trace</failure></testcase>
</testsuite>"#;

fn report(suite: &str, passed: usize, failed: usize, errored: usize) -> String {
    let mut xml = format!("<testsuite name=\"{suite}\">");
    for i in 0..passed {
        xml.push_str(&format!(
            "<testcase classname=\"{suite}\" name=\"pass{i}\" time=\"0.01\"/>"
        ));
    }
    for i in 0..failed {
        xml.push_str(&format!(
            "<testcase classname=\"{suite}\" name=\"fail{i}\"><failure message=\"m{i}\" type=\"T\">at x</failure></testcase>"
        ));
    }
    for i in 0..errored {
        xml.push_str(&format!(
            "<testcase classname=\"{suite}\" name=\"err{i}\"><error message=\"e{i}\" type=\"E\"/></testcase>"
        ));
    }
    xml.push_str("</testsuite>");
    xml
}

#[tokio::test]
async fn gzip_by_content_encoding_and_as_application_gzip_both_ingest() {
    let app = helpers::spawn().await;
    let ctx = helpers::uploader(Uuid::now_v7());
    let build = app.create_build(&ctx, "gz").await;
    let compressed = helpers::gzip(TWO_CASES.as_bytes());
    let body = app
        .upload(
            &ctx,
            build,
            Body {
                bytes: compressed.clone(),
                content_type: "application/xml",
                content_encoding: Some("gzip"),
            },
            None,
        )
        .await
        .expect(201);
    assert_eq!(helpers::counts(&body), [2, 1, 1, 0, 0, 0]);
    let other = app.create_build(&ctx, "gz2").await;
    let body = app
        .upload(&ctx, other, Body::gzip(compressed), None)
        .await
        .expect(201);
    assert_eq!(helpers::counts(&body), [2, 1, 1, 0, 0, 0]);
}

#[tokio::test]
async fn a_zip_of_several_reports_ingests_every_file() {
    let app = helpers::spawn().await;
    let ctx = helpers::uploader(Uuid::now_v7());
    let build = app.create_build(&ctx, "zip").await;
    let a = report("A", 3, 1, 0);
    let b = report("B", 2, 0, 1);
    let archive = helpers::zip_of(&[
        ("reports/TEST-A.xml", a.as_bytes()),
        ("reports/TEST-B.xml", b.as_bytes()),
        ("reports/readme.txt", b"not a report"),
    ]);
    let body = app
        .upload(&ctx, build, Body::zip(archive), None)
        .await
        .expect(201);
    assert_eq!(body["files"], 2);
    assert_eq!(helpers::counts(&body), [7, 5, 1, 1, 0, 0]);
    assert!(
        body["warnings"].to_string().contains("readme.txt"),
        "{body}"
    );
}

#[tokio::test]
async fn several_uploads_to_one_build_add_up_in_its_totals() {
    let app = helpers::spawn().await;
    let ctx = helpers::uploader(Uuid::now_v7());
    let project = project_of(&ctx);
    let build = app.create_build(&ctx, "many").await;
    for (suite, passed, failed) in [("A", 4, 1), ("B", 3, 0), ("C", 0, 2)] {
        let reply = app
            .upload(
                &ctx,
                build,
                Body::xml(report(suite, passed, failed, 0)),
                None,
            )
            .await;
        // `.../builds/{build}/results` + `../{build}`: the build itself.
        assert_eq!(
            reply.header("location"),
            Some(format!("../{build}").as_str())
        );
        reply.expect(201);
    }
    let body = app
        .get(&format!("/v1/projects/{project}/builds/{build}"), &ctx)
        .await
        .expect(200);
    assert_eq!(body["totals"]["tests"], 10, "{body}");
    assert_eq!(body["totals"]["passed"], 7);
    assert_eq!(body["totals"]["failures"], 3);
}

/// A build's first upload inserts its results without a conflict check,
/// batch by batch, until a test comes back: a test listed twice in one
/// report, in different batches, is merged like a test uploaded again.
#[tokio::test]
async fn a_test_listed_twice_in_a_builds_first_upload_is_merged_across_batches() {
    let app = helpers::spawn_with(&[("service.insert_batch_size", "2".to_owned())]).await;
    let ctx = helpers::uploader(Uuid::now_v7());
    let project = project_of(&ctx);
    let build = app.create_build(&ctx, "twice").await;
    let xml = "<testsuite name=\"S\">\
               <testcase classname=\"S\" name=\"again\"/>\
               <testcase classname=\"S\" name=\"b\"/>\
               <testcase classname=\"S\" name=\"c\"/>\
               <testcase classname=\"S\" name=\"again\">\
               <failure message=\"boom\" type=\"AssertionError\">at S.again(S.java:1)</failure>\
               </testcase></testsuite>";
    app.upload(&ctx, build, Body::xml(xml), None)
        .await
        .expect(201);
    let body = app
        .get(&format!("/v1/projects/{project}/builds/{build}"), &ctx)
        .await
        .expect(200);
    assert_eq!(body["totals"]["tests"], 3, "{body}");
    assert_eq!(body["totals"]["passed"], 2, "{body}");
    assert_eq!(body["totals"]["flaky"], 1, "{body}");
}

#[tokio::test]
async fn a_retried_upload_with_the_same_idempotency_key_is_not_counted_twice() {
    let app = helpers::spawn().await;
    let ctx = helpers::uploader(Uuid::now_v7());
    let project = project_of(&ctx);
    let build = app.create_build(&ctx, "idem").await;
    let first = app
        .upload(&ctx, build, Body::xml(TWO_CASES), Some("upload-1"))
        .await
        .expect(201);
    let again = app
        .upload(&ctx, build, Body::xml(TWO_CASES), Some("upload-1"))
        .await
        .expect(200);
    assert_eq!(again, first);
    let build_body = app
        .get(&format!("/v1/projects/{project}/builds/{build}"), &ctx)
        .await
        .body;
    assert_eq!(build_body["totals"]["tests"], 2, "{build_body}");
    assert_eq!(app.count_rows("failure.test_results").await, 2);
    assert_eq!(app.count_rows("failure.failures").await, 1);

    let reused = app
        .upload(
            &ctx,
            build,
            Body::xml(report("X", 1, 0, 0)),
            Some("upload-1"),
        )
        .await
        .expect(422);
    assert_eq!(reused["code"], "idempotency.key_reused");
}

#[tokio::test]
async fn a_report_malformed_halfway_leaves_no_rows() {
    // Batches of two: several batches are written before the parser
    // reaches the broken part, and all of them must be rolled back.
    let app = helpers::spawn_with(&[("service.insert_batch_size", "2".to_owned())]).await;
    let ctx = helpers::uploader(Uuid::now_v7());
    let build = app.create_build(&ctx, "broken").await;
    let mut xml = report("A", 20, 5, 0);
    xml.truncate(xml.len() - "</testsuite>".len());
    xml.push_str("\n<testcase name=\"x\"><failure></testcase>\n</testsuite>");
    let body = app
        .upload(&ctx, build, Body::xml(xml), None)
        .await
        .expect(422);
    assert_eq!(body["code"], "junit.malformed");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .starts_with("line 2, column"),
        "{body}"
    );
    assert_eq!(app.count_rows("failure.test_results").await, 0);
    assert_eq!(app.count_rows("failure.failures").await, 0);
    assert_eq!(app.count_rows("failure.tests").await, 0);
}

#[tokio::test]
async fn a_billion_laughs_document_and_an_xxe_document_are_refused() {
    let app = helpers::spawn().await;
    let ctx = helpers::uploader(Uuid::now_v7());
    let build = app.create_build(&ctx, "evil").await;
    let laughs = r#"<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<testsuite name="&lol3;"><testcase name="a"><failure>&lol3;</failure></testcase></testsuite>"#;
    let xxe = r#"<?xml version="1.0"?>
<!DOCTYPE foo [ <!ENTITY xxe SYSTEM "file:///etc/passwd"> ]>
<testsuite name="s"><testcase name="a"><failure>&xxe;</failure></testcase></testsuite>"#;
    for document in [laughs, xxe] {
        let body = app
            .upload(&ctx, build, Body::xml(document), None)
            .await
            .expect(422);
        assert_eq!(body["code"], "junit.dtd_refused");
        assert!(!body.to_string().contains("root:"), "{body}");
    }
    assert_eq!(app.count_rows("failure.test_results").await, 0);
}

#[tokio::test]
async fn a_gzip_bomb_is_cut_off_at_the_limit_with_413() {
    let app =
        helpers::spawn_with(&[("service.max_uncompressed_bytes", "1048576".to_owned())]).await;
    let ctx = helpers::uploader(Uuid::now_v7());
    let build = app.create_build(&ctx, "bomb").await;
    let mut xml = b"<testsuite name=\"s\"><testcase name=\"a\"><system-out>".to_vec();
    xml.extend(std::iter::repeat_n(b'A', 64 * 1024 * 1024));
    xml.extend_from_slice(b"</system-out></testcase></testsuite>");
    let bomb = helpers::gzip(&xml);
    assert!(bomb.len() < 1024 * 1024, "{}", bomb.len());
    let body = app
        .upload(&ctx, build, Body::gzip(bomb), None)
        .await
        .expect(413);
    assert_eq!(body["code"], "upload.too_large");
    assert_eq!(app.count_rows("failure.test_results").await, 0);
}

#[tokio::test]
async fn an_unknown_media_type_is_415_and_a_non_junit_document_is_422() {
    let app = helpers::spawn().await;
    let ctx = helpers::uploader(Uuid::now_v7());
    let build = app.create_build(&ctx, "types").await;
    app.upload(
        &ctx,
        build,
        Body::typed("text/plain", b"hello".to_vec()),
        None,
    )
    .await
    .expect(415);
    let body = app
        .upload(&ctx, build, Body::xml("<html><body/></html>"), None)
        .await
        .expect(422);
    assert_eq!(body["code"], "junit.not_junit");
}

#[tokio::test]
async fn a_json_batch_ingests_and_an_error_counts_as_an_error_not_a_failure() {
    let app = helpers::spawn().await;
    let ctx = helpers::uploader(Uuid::now_v7());
    let build = app.create_build(&ctx, "json").await;
    let batch = json!({"results": [
        {"suite": "s", "classname": "C", "name": "a", "status": "passed", "duration_ms": 5},
        {"suite": "s", "classname": "C", "name": "b", "status": "failed", "message": "m", "type": "AssertionError"},
        {"suite": "s", "classname": "C", "name": "c", "status": "error", "message": "setup broke"},
        {"suite": "s", "classname": "C", "name": "d", "status": "skipped"},
        {"suite": "s", "classname": "C", "name": "e", "status": "flaky", "retries": 2}
    ]});
    let body = app
        .upload(&ctx, build, Body::json(&batch), None)
        .await
        .expect(201);
    assert_eq!(helpers::counts(&body), [5, 1, 1, 1, 1, 1]);

    app.upload(
        &ctx,
        build,
        Body::json(&json!({"results": [{"name": "x"}]})),
        None,
    )
    .await
    .expect(422);
}

#[tokio::test]
async fn surefire_reruns_that_passed_make_the_test_flaky_with_its_retries() {
    let app = helpers::spawn().await;
    let ctx = helpers::uploader(Uuid::now_v7());
    let build = app.create_build(&ctx, "flaky").await;
    let xml = r#"<testsuite name="S" tests="2" failures="1">
      <testcase classname="C" name="flaky"><flakyFailure message="x" type="T"/><flakyError message="y"/></testcase>
      <testcase classname="C" name="failing"><failure message="z"/><rerunFailure message="z"/></testcase>
    </testsuite>"#;
    let body = app
        .upload(&ctx, build, Body::xml(xml), None)
        .await
        .expect(201);
    assert_eq!(helpers::counts(&body), [2, 0, 1, 0, 0, 1]);
    let admin = app.database().admin_client().await;
    let rows = admin
        .query(
            "SELECT t.name, r.status, r.retry_count FROM failure.test_results r
               JOIN failure.tests t ON t.project_id = r.project_id AND t.id = r.test_id
              ORDER BY t.name",
            &[],
        )
        .await
        .unwrap();
    let got: Vec<(String, String, i32)> = rows
        .iter()
        .map(|r| {
            (
                r.try_get(0).unwrap(),
                r.try_get(1).unwrap(),
                r.try_get(2).unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("failing".to_owned(), "failed".to_owned(), 1),
            ("flaky".to_owned(), "flaky".to_owned(), 2)
        ]
    );
}

/// The report is parsed while it arrives: a document that is broken at its
/// start is refused while the client is still sending, and the service
/// stops reading (a service that buffered the body would read it all).
#[tokio::test]
async fn a_report_is_parsed_as_it_arrives_and_refused_before_it_has_all_arrived() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use futures_util::StreamExt;

    const CHUNKS: usize = 512;
    const CHUNK: usize = 1024 * 1024;
    let app = helpers::spawn_with(&[
        ("service.max_upload_bytes", (2 * CHUNKS * CHUNK).to_string()),
        (
            "service.max_uncompressed_bytes",
            (2 * CHUNKS * CHUNK).to_string(),
        ),
    ])
    .await;
    let ctx = helpers::uploader(Uuid::now_v7());
    let build = app.create_build(&ctx, "early").await;
    let pulled = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&pulled);
    let chunks = futures_util::stream::iter(0..CHUNKS).map(move |index| {
        counter.fetch_add(1, Ordering::SeqCst);
        let chunk = if index == 0 {
            b"<testsuite name=\"s\"><testcase name=\"a\"></wrong>".to_vec()
        } else {
            vec![b' '; CHUNK]
        };
        Ok::<_, std::io::Error>(chunk)
    });
    let response = app
        .request_as(Method::POST, &results_path(&ctx, build), &ctx)
        .header("content-type", "application/xml")
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .expect("the service answers before the body is complete");
    let body = Reply::read(response).await.expect(422);
    assert_eq!(body["code"], "junit.malformed", "{body}");
    let pulled = pulled.load(Ordering::SeqCst);
    assert!(
        pulled < CHUNKS / 4,
        "the client had to produce {pulled} of {CHUNKS} chunks before the refusal"
    );
    assert_eq!(app.count_rows("failure.test_results").await, 0);
}

/// Streaming keeps the Idempotency-Key exact: a retry of a large
/// multi-chunk body is recognised byte for byte, a body that differs only
/// in its last byte is not.
#[tokio::test]
async fn a_streamed_retry_is_recognised_and_a_body_changed_at_its_end_is_not() {
    let app = helpers::spawn().await;
    let ctx = helpers::uploader(Uuid::now_v7());
    let build = app.create_build(&ctx, "streamed-retry").await;
    let xml = report("big", 20_000, 50, 5);
    assert!(xml.len() > 1024 * 1024, "{}", xml.len());
    let first = app
        .upload(&ctx, build, Body::xml(xml.clone()), Some("retry-1"))
        .await
        .expect(201);
    assert_eq!(helpers::counts(&first), [20_055, 20_000, 50, 5, 0, 0]);
    let replay = app
        .upload(&ctx, build, Body::xml(xml.clone()), Some("retry-1"))
        .await
        .expect(200);
    assert_eq!(replay, first);
    let mut changed = xml.into_bytes();
    changed.push(b'\n');
    let body = app
        .upload(&ctx, build, Body::xml(changed), Some("retry-1"))
        .await
        .expect(422);
    assert_eq!(body["code"], "idempotency.key_reused");
    assert_eq!(app.count_rows("failure.test_results").await, 20_055);
}

/// An upload holds a database connection while its body arrives, so the
/// number read at once is bounded (429 beyond it, whichever the project),
/// and a body that stops sending is given up (408), freeing its place.
#[tokio::test]
async fn uploads_read_at_once_are_bounded_and_a_stalled_one_is_given_up() {
    use futures_util::StreamExt;

    // Without a minimum rate, so the silence is judged by the idle timeout
    // alone (the rate has its own test).
    let app = helpers::spawn_with(&[
        ("service.max_concurrent_uploads", "1".to_owned()),
        ("service.upload_idle_timeout_secs", "2".to_owned()),
        ("service.upload_min_bytes_per_sec", "0".to_owned()),
    ])
    .await;
    let ctx = helpers::uploader(Uuid::now_v7());
    let build = app.create_build(&ctx, "bounded").await;
    let (started, mut started_seen) = tokio::sync::mpsc::channel::<()>(1);
    // A first chunk, then nothing: the client keeps the upload open.
    let stalling = futures_util::stream::once(async move {
        started.send(()).await.ok();
        Ok::<_, std::io::Error>(b"<testsuite name=\"s\">".to_vec())
    })
    .chain(futures_util::stream::pending());
    let stalled = app
        .request_as(Method::POST, &results_path(&ctx, build), &ctx)
        .header("content-type", "application/xml")
        .body(reqwest::Body::wrap_stream(stalling));
    let stalled = tokio::spawn(Reply::from_request(stalled));
    started_seen.recv().await.unwrap();
    // The first upload holds the only place once the service counts it.
    app.wait_for_metric(
        "failure_uploads_in_progress",
        Duration::from_secs(5),
        |in_progress| in_progress == 1.0,
    )
    .await;
    let other = helpers::uploader(Uuid::now_v7());
    let other_build = app.create_build(&other, "bounded").await;
    let refused = app
        .upload(&other, other_build, Body::xml(TWO_CASES), None)
        .await
        .expect(429);
    assert_eq!(refused["code"], "upload.busy");
    let Reply { status, body, .. } = stalled.await.unwrap();
    assert_eq!(status, StatusCode::REQUEST_TIMEOUT);
    assert_eq!(body["code"], "upload.stalled", "{body}");
    let Reply { status, body, .. } = app.upload(&ctx, build, Body::xml(TWO_CASES), None).await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "the place is free again: {body}"
    );
}
