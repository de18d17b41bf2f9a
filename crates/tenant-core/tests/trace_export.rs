//! With an OTLP endpoint configured, request spans are exported and continue
//! the caller's W3C trace. A test binary of its own: it installs the global
//! subscriber.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers fail the test at the first broken expectation"
)]

#[path = "api/probe.rs"]
mod probe;

use std::time::Duration;

use test_support::otlp::Collector;

#[tokio::test]
async fn request_spans_are_exported_by_otlp_as_children_of_the_callers_trace() {
    let collector = Collector::start();
    let exporting = collector.install("probe-service");

    let service = probe::spawn_probe(&[]);
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let caller_span = "00f067aa0ba902b7";
    let response = test_support::http_client()
        .get(service.url("/items/0195f0a4-0000-7000-8000-000000000000?limit=1"))
        .header("traceparent", format!("00-{trace_id}-{caller_span}-01"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    service.stop().await.unwrap();

    exporting.finish().await;
    let spans = collector
        .spans_when(Duration::from_secs(10), |spans| !spans.is_empty())
        .await;
    let request = spans
        .iter()
        .find(|span| span.attribute("http.route") == Some("/items/{id}"))
        .unwrap_or_else(|| panic!("no span names the route template: {spans:#?}"));
    assert_eq!(
        tenant_core::hex::encode(&request.trace_id),
        trace_id,
        "the request span does not continue the caller's trace"
    );
    assert_eq!(
        tenant_core::hex::encode(&request.parent_span_id),
        caller_span,
        "the request span is not a child of the caller's span"
    );
}
