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

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use tenant_core::config::{LogFormat, TelemetrySettings};

/// One OTLP request: its path and protobuf body.
type Export = (String, Vec<u8>);

#[derive(Default, Clone)]
struct Collected(Arc<Mutex<Vec<Export>>>);

async fn collect(req: HttpRequest, body: web::Bytes, seen: web::Data<Collected>) -> HttpResponse {
    seen.0
        .lock()
        .unwrap()
        .push((req.path().to_owned(), body.to_vec()));
    HttpResponse::Ok().finish()
}

#[tokio::test]
async fn request_spans_are_exported_by_otlp_as_children_of_the_callers_trace() {
    let collected = Collected::default();
    let data = web::Data::new(collected.clone());
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let collector_port = listener.local_addr().unwrap().port();
    let collector = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .default_service(web::to(collect))
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    tokio::spawn(collector);

    let guard = tenant_core::telemetry::init(
        "probe-service",
        &TelemetrySettings {
            log_format: LogFormat::Json,
            log_filter: "info".to_owned(),
            otlp_endpoint: Some(format!("http://127.0.0.1:{collector_port}")),
        },
    )
    .unwrap();

    let service = probe::spawn_probe(&[]);
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let response = test_support::http_client()
        .get(service.url("/items/0195f0a4-0000-7000-8000-000000000000?limit=1"))
        .header("traceparent", format!("00-{trace_id}-00f067aa0ba902b7-01"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    service.stop().await.unwrap();

    // Dropping the guard flushes the batch exporter.
    tokio::task::spawn_blocking(move || drop(guard))
        .await
        .unwrap();
    let exported = test_support::eventually("an OTLP export", Duration::from_secs(5), || async {
        let exported = collected.0.lock().unwrap().clone();
        (!exported.is_empty()).then_some(exported)
    })
    .await;
    let (path, body) = &exported[0];
    assert_eq!(path, "/v1/traces");
    let trace_bytes: Vec<u8> = (0..16)
        .map(|i| u8::from_str_radix(&trace_id[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    assert!(
        body.windows(16).any(|w| w == trace_bytes.as_slice()),
        "the exported spans do not carry the caller's trace id"
    );
    assert!(
        body.windows(b"/items/{id}".len())
            .any(|w| w == b"/items/{id}"),
        "the exported span does not name the route template"
    );
}
