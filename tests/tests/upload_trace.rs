//! An upload's trace as an operator sees it in their tracing backend: the
//! request span, and under it the spans of the repository functions that
//! ran its SQL, so a slow upload shows where its database time went. A
//! test binary of its own: it installs the process-wide tracing subscriber
//! that exports over OTLP.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly at the first broken expectation"
)]

use std::time::Duration;

use reqwest::Method;
use serde_json::json;
use tenant_core::Role;
use test_support::otlp::{Collector, ExportedSpan, ancestry};
use test_support::{Reply, TestApp, contexts};
use uuid::Uuid;

const REPORT: &str = r#"<testsuite name="checkout" tests="2" failures="1">
  <testcase classname="checkout.CartTest" name="adds_items" time="0.01"/>
  <testcase classname="checkout.CartTest" name="applies_discount" time="0.02">
    <failure message="expected 90 but was 100">AssertionError</failure>
  </testcase>
</testsuite>"#;

/// The module a span's function lives in, under either name OpenTelemetry
/// has given the attribute.
fn module_of(span: &ExportedSpan) -> &str {
    span.attribute("code.namespace")
        .or_else(|| span.attribute("code.module.name"))
        .unwrap_or_default()
}

#[tokio::test]
async fn an_uploads_repository_spans_are_children_of_its_request_span() {
    let collector = Collector::start();
    let exporting = collector.install("failure-service");

    let app = TestApp::spawn(&failure_service::SPEC, failure_service::build, &[]).await;
    let project = Uuid::now_v7();
    let uploader = contexts::api_key(project, Role::Member);
    let build = app
        .post(
            &format!("/v1/projects/{project}/builds"),
            &uploader,
            json!({"job_name": "ci", "external_id": "trace-1", "branch": "main"}),
        )
        .await
        .expect(201);
    let build = build["id"].as_str().unwrap();
    let upload = Reply::from_request(
        app.request_as(
            Method::POST,
            &format!("/v1/projects/{project}/builds/{build}/results"),
            &uploader,
        )
        .header("content-type", "application/xml")
        .body(REPORT),
    )
    .await;
    assert!(upload.status.is_success(), "{}", upload.text);
    app.stop().await;

    exporting.finish().await;
    let is_upload = |span: &ExportedSpan| {
        span.attribute("http.request.method") == Some("POST")
            && span
                .attribute("http.route")
                .is_some_and(|route| route.ends_with("/results"))
    };
    let spans = collector
        .spans_when(Duration::from_secs(10), |spans| spans.iter().any(is_upload))
        .await;
    let request = spans.iter().find(|span| is_upload(span)).unwrap();
    let under_request: Vec<&ExportedSpan> = spans
        .iter()
        .filter(|span| span.trace_id == request.trace_id)
        .filter(|span| {
            ancestry(&spans, span)
                .iter()
                .skip(1)
                .any(|ancestor| ancestor.span_id == request.span_id)
        })
        .collect();
    let repository: Vec<&str> = under_request
        .iter()
        .filter(|span| module_of(span).starts_with("failure_service::repository"))
        .map(|span| span.name.as_str())
        .collect();
    assert!(
        !repository.is_empty(),
        "no repository span under the upload's request span; under it: {:?}",
        under_request
            .iter()
            .map(|span| (span.name.as_str(), module_of(span)))
            .collect::<Vec<_>>()
    );
}
