//! Reports cut off while they were written (a CI job killed mid-write, a
//! full disk) are refused whole, however they arrive, and suites that only
//! state their totals are counted.

use reqwest::StatusCode;
use serde_json::Value;
use test_support::TestApp;
use uuid::Uuid;

use crate::helpers::{self, Body, FailureApp, project_of};

const CUT_OFF: &str = r#"<testsuite name="x"><testcase name="a"><failure message="m">trace"#;

fn report(suite: &str, passed: usize, failed: usize) -> String {
    let mut xml = format!("<testsuite name=\"{suite}\">\n");
    for i in 0..passed {
        xml.push_str(&format!(
            "  <testcase classname=\"{suite}\" name=\"pass{i}\"/>\n"
        ));
    }
    for i in 0..failed {
        xml.push_str(&format!(
            "  <testcase classname=\"{suite}\" name=\"fail{i}\"><failure message=\"m{i}\">at x</failure></testcase>\n"
        ));
    }
    xml.push_str("</testsuite>\n");
    xml
}

/// The build's totals and the project's failures list, to show that a
/// refused upload changed neither.
async fn what_is_stored(
    app: &TestApp,
    ctx: &tenant_core::TenantContext,
    build: Uuid,
) -> (Value, Value) {
    let project = project_of(ctx);
    let build = app
        .get(&format!("/v1/projects/{project}/builds/{build}"), ctx)
        .await
        .expect(200);
    let failures = app
        .get(&format!("/v1/projects/{project}/failures"), ctx)
        .await
        .expect(200);
    (build["totals"].clone(), failures["items"].clone())
}

fn gzipped(xml: &str) -> Body {
    Body::gzip(helpers::gzip(xml.as_bytes()))
}

fn zipped(files: &[(&str, &[u8])]) -> Body {
    Body::zip(helpers::zip_of(files))
}

#[tokio::test]
async fn a_report_cut_off_inside_an_element_is_422_truncated_where_it_stopped_and_stores_nothing() {
    let app = helpers::spawn().await;
    let ctx = helpers::uploader(Uuid::now_v7());
    let build = app.create_build(&ctx, "cut").await;
    app.upload(&ctx, build, Body::xml(report("A", 2, 1)), None)
        .await
        .expect(201);
    let before = what_is_stored(&app, &ctx, build).await;
    assert_eq!(before.0["tests"], 3);

    let body = app
        .upload(&ctx, build, Body::xml(CUT_OFF), None)
        .await
        .expect(422);
    assert_eq!(body["code"], "junit.truncated", "{body}");
    let column = CUT_OFF.len() + 1;
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .starts_with(&format!("line 1, column {column}:")),
        "{body}"
    );

    // Cut inside a tag, on a later line.
    let inside_a_tag = "<testsuite name=\"x\">\n  <testcase name=\"b\"/>\n  <testcase na";
    let body = app
        .upload(&ctx, build, Body::xml(inside_a_tag), None)
        .await
        .expect(422);
    assert_eq!(body["code"], "junit.truncated", "{body}");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .starts_with("line 3, column 15:"),
        "{body}"
    );
    assert_eq!(what_is_stored(&app, &ctx, build).await, before);
}

#[tokio::test]
async fn batches_written_before_the_cut_are_rolled_back() {
    // Batches of two: twenty cases are written before the parser reaches
    // the end of the input, and every one of them must go.
    let app = helpers::spawn_with(&[("service.insert_batch_size", "2".to_owned())]).await;
    let ctx = helpers::uploader(Uuid::now_v7());
    let build = app.create_build(&ctx, "cut-batches").await;
    let mut xml = report("A", 15, 5);
    xml.truncate(xml.len() - "</testsuite>\n".len());
    xml.push_str("  <testcase name=\"last\"><system-out>half a line");
    let body = app
        .upload(&ctx, build, Body::xml(xml), None)
        .await
        .expect(422);
    assert_eq!(body["code"], "junit.truncated", "{body}");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .starts_with("line 22, column"),
        "{body}"
    );
    assert_eq!(app.count_rows("failure.test_results").await, 0);
    assert_eq!(app.count_rows("failure.failures").await, 0);
    assert_eq!(app.count_rows("failure.tests").await, 0);
}

#[tokio::test]
async fn a_gzipped_report_cut_off_is_422_truncated_and_stores_nothing() {
    let app = helpers::spawn_with(&[("service.insert_batch_size", "2".to_owned())]).await;
    let ctx = helpers::uploader(Uuid::now_v7());
    let build = app.create_build(&ctx, "cut-gzip").await;
    app.upload(&ctx, build, gzipped(&report("A", 1, 1)), None)
        .await
        .expect(201);
    let before = what_is_stored(&app, &ctx, build).await;

    let mut xml = report("B", 10, 3);
    xml.truncate(xml.len() - "</testsuite>\n".len());
    xml.push_str(CUT_OFF);
    let body = app
        .upload(&ctx, build, gzipped(&xml), None)
        .await
        .expect(422);
    assert_eq!(body["code"], "junit.truncated", "{body}");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .starts_with("line 15, column"),
        "{body}"
    );
    assert_eq!(what_is_stored(&app, &ctx, build).await, before);
}

#[tokio::test]
async fn a_zip_with_one_file_cut_off_is_422_naming_the_file_and_stores_nothing_of_any_file() {
    let app = helpers::spawn_with(&[("service.insert_batch_size", "2".to_owned())]).await;
    let ctx = helpers::uploader(Uuid::now_v7());
    let build = app.create_build(&ctx, "cut-zip").await;
    app.upload(
        &ctx,
        build,
        zipped(&[("TEST-0.xml", report("Z", 2, 1).as_bytes())]),
        None,
    )
    .await
    .expect(201);
    let before = what_is_stored(&app, &ctx, build).await;
    let results_before = app.count_rows("failure.test_results").await;

    // Whole files before and after the cut-off one: the ones before were
    // written in several batches by the time the cut is found.
    let a = report("A", 6, 2);
    let b = report("B", 5, 1);
    let c = report("C", 4, 0);
    let archive = [
        ("reports/TEST-A.xml", a.as_bytes()),
        ("reports/TEST-B.xml", b.as_bytes()),
        ("reports/TEST-Cut.xml", CUT_OFF.as_bytes()),
        ("reports/TEST-C.xml", c.as_bytes()),
    ];
    let body = app
        .upload(&ctx, build, zipped(&archive), None)
        .await
        .expect(422);
    assert_eq!(body["code"], "junit.truncated", "{body}");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .starts_with("`reports/TEST-Cut.xml`: line 1, column"),
        "{body}"
    );
    assert_eq!(what_is_stored(&app, &ctx, build).await, before);
    assert_eq!(app.count_rows("failure.test_results").await, results_before);
}

#[tokio::test]
async fn a_suite_that_states_totals_without_listing_test_cases_counts_them_with_a_warning() {
    let app = helpers::spawn().await;
    let ctx = helpers::uploader(Uuid::now_v7());
    let project = project_of(&ctx);
    let build = app.create_build(&ctx, "stated").await;
    let xml = r#"<testsuites>
  <testsuite name="summary-only" tests="5" failures="1" errors="1" skipped="1"/>
  <testsuite name="outer" tests="2">
    <testsuite name="inner" tests="2"><testcase name="t"/><testcase name="u"><skipped/></testcase></testsuite>
  </testsuite>
  <testsuite name="empty" tests="0"/>
</testsuites>"#;
    let body = app
        .upload(&ctx, build, Body::xml(xml), Some("stated-1"))
        .await
        .expect(201);
    // The summary-only suite's 5 (2 passed), and the two listed cases; the
    // outer suite's totals describe its inner suite's cases, not more.
    assert_eq!(helpers::counts(&body), [7, 3, 1, 1, 2, 0]);
    let warnings = body["warnings"].to_string();
    assert!(
        warnings.contains("suite `summary-only` lists no test cases"),
        "{body}"
    );
    assert!(
        !warnings.contains("`outer`") && !warnings.contains("`empty`"),
        "{body}"
    );

    // A retry of the same upload counts nothing twice; another upload adds up.
    let status = app
        .upload(&ctx, build, Body::xml(xml), Some("stated-1"))
        .await
        .status;
    assert_eq!(status, StatusCode::OK);
    let status = app
        .upload(
            &ctx,
            build,
            Body::xml(r#"<testsuite name="more" tests="3" failures="3"></testsuite>"#),
            None,
        )
        .await
        .status;
    assert_eq!(status, StatusCode::CREATED);
    let build_body = app
        .get(&format!("/v1/projects/{project}/builds/{build}"), &ctx)
        .await
        .body;
    let totals = &build_body["totals"];
    assert_eq!(
        [
            &totals["tests"],
            &totals["passed"],
            &totals["failures"],
            &totals["errors"],
            &totals["skipped"]
        ],
        [10, 3, 4, 1, 2],
        "{build_body}"
    );
    assert_eq!(app.count_rows("failure.test_results").await, 2);
}
