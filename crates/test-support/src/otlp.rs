//! An OTLP/HTTP collector for tests: it accepts what a service's exporter
//! sends to `/v1/traces` and decodes the spans, so a test can check a
//! trace's shape (which span is whose child) rather than search bytes.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{App, HttpResponse, HttpServer, web};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use prost::Message;
use tenant_core::config::{LogFormat, TelemetrySettings};
use tenant_core::telemetry::TelemetryGuard;

use crate::eventually;

/// One span as exported, with its string, integer and boolean attributes
/// as text.
#[derive(Debug, Clone)]
pub struct ExportedSpan {
    pub trace_id: Vec<u8>,
    pub span_id: Vec<u8>,
    /// Empty for a root span.
    pub parent_span_id: Vec<u8>,
    pub name: String,
    pub attributes: Vec<(String, String)>,
}

impl ExportedSpan {
    pub fn attribute(&self, key: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(name, _)| name == key)
            .map(|(_, value)| value.as_str())
    }
}

#[derive(Debug, Default, Clone)]
struct Received(Arc<Mutex<Vec<ExportedSpan>>>);

/// A collector listening on a port of its own, in the test's runtime.
#[derive(Debug)]
pub struct Collector {
    port: u16,
    received: Received,
}

async fn collect(body: web::Bytes, received: web::Data<Received>) -> HttpResponse {
    let Ok(request) = ExportTraceServiceRequest::decode(body) else {
        return HttpResponse::BadRequest().finish();
    };
    let spans = request
        .resource_spans
        .into_iter()
        .flat_map(|resource| resource.scope_spans)
        .flat_map(|scope| scope.spans)
        .map(|span| ExportedSpan {
            trace_id: span.trace_id,
            span_id: span.span_id,
            parent_span_id: span.parent_span_id,
            name: span.name,
            attributes: span
                .attributes
                .into_iter()
                .filter_map(|pair| {
                    let text = match pair.value?.value? {
                        Value::StringValue(text) => text,
                        Value::IntValue(number) => number.to_string(),
                        Value::BoolValue(flag) => flag.to_string(),
                        Value::DoubleValue(number) => number.to_string(),
                        _ => return None,
                    };
                    Some((pair.key, text))
                })
                .collect(),
        });
    if let Ok(mut all) = received.0.lock() {
        all.extend(spans);
    }
    HttpResponse::Ok().finish()
}

impl Collector {
    /// Starts the collector; it serves until the test's runtime ends.
    pub fn start() -> Self {
        let received = Received::default();
        let data = web::Data::new(received.clone());
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binding the collector");
        let port = listener.local_addr().expect("the collector's port").port();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .app_data(web::PayloadConfig::new(64 * 1024 * 1024))
                .route("/v1/traces", web::post().to(collect))
        })
        .workers(1)
        .disable_signals()
        .listen(listener)
        .expect("the collector listens")
        .run();
        tokio::spawn(server);
        Self { port, received }
    }

    /// Installs the process-wide subscriber as `service` would with
    /// `telemetry.otlp_endpoint` pointing here (JSON logs, filter `info`).
    /// Once per process: a test that does this runs in a binary of its own.
    pub fn install(&self, service: &'static str) -> Exporting {
        let guard = tenant_core::telemetry::init(
            service,
            &TelemetrySettings {
                log_format: LogFormat::Json,
                log_filter: "info".to_owned(),
                otlp_endpoint: Some(self.endpoint()),
            },
        )
        .expect("installing the exporting subscriber");
        Exporting { _guard: guard }
    }

    /// What `telemetry.otlp_endpoint` should say.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The spans received so far, once `done` holds for them.
    pub async fn spans_when(
        &self,
        timeout: Duration,
        done: impl Fn(&[ExportedSpan]) -> bool,
    ) -> Vec<ExportedSpan> {
        eventually("the expected spans to be exported", timeout, || async {
            let spans = self.received.0.lock().ok()?.clone();
            done(&spans).then_some(spans)
        })
        .await
    }
}

/// Spans being exported to a [`Collector`] until [`Exporting::finish`].
#[derive(Debug)]
pub struct Exporting {
    /// Dropped by [`Exporting::finish`]; dropping it flushes the exporter.
    _guard: TelemetryGuard,
}

impl Exporting {
    /// Flushes the batch exporter and stops; it blocks, so it runs off the
    /// test's runtime.
    pub async fn finish(self) {
        tokio::task::spawn_blocking(move || drop(self))
            .await
            .expect("flushing the exporter");
    }
}

/// The chain of spans from `span` up to its root, `span` first.
pub fn ancestry<'a>(spans: &'a [ExportedSpan], span: &'a ExportedSpan) -> Vec<&'a ExportedSpan> {
    let mut chain = vec![span];
    let mut current = span;
    while !current.parent_span_id.is_empty() {
        let Some(parent) = spans
            .iter()
            .find(|candidate| candidate.span_id == current.parent_span_id)
        else {
            break;
        };
        chain.push(parent);
        current = parent;
    }
    chain
}
