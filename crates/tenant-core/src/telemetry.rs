//! Logs, traces and the per-request root span.
//!
//! Every request gets one root span carrying `request_id`, `http.route` (the
//! route template, never the raw path, so cardinality stays bounded: actix's
//! pattern, or the template a service that routes by itself names with
//! [`record_route`], as the gateway does from its route table),
//! `project_id` (recorded once the tenant context is known) and, when the
//! caller sent a W3C `traceparent`, that trace as its parent. The request id
//! is kept from `X-Request-Id` when it is sane, minted otherwise, echoed on
//! the response and available to error bodies through a task-local.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::web;
use actix_web::{Error, HttpMessage, HttpRequest};
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::{LogFormat, TelemetrySettings};
use crate::metrics::HttpMetrics;
use json_log::JsonLog;
use log_writer::LogWriterGuard;

pub mod json_log;
pub mod log_writer;

pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");
const MAX_REQUEST_ID_LEN: usize = 128;

tokio::task_local! {
    static REQUEST_ID: RequestId;
}

/// The id that ties a request's logs, traces and error body together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(String);

impl RequestId {
    /// Accepts a client's id only when it is short and made of safe
    /// characters, so it cannot forge log lines or bloat headers.
    pub fn parse(value: &str) -> Option<Self> {
        let sane = !value.is_empty()
            && value.len() <= MAX_REQUEST_ID_LEN
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
        sane.then(|| Self(value.to_owned()))
    }

    pub fn mint() -> Self {
        Self(uuid::Uuid::now_v7().to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The request id of the request being served on this task, if any.
pub fn current_request_id() -> Option<String> {
    REQUEST_ID.try_with(|id| id.0.clone()).ok()
}

/// Whether spans are exported (an OTLP endpoint is configured): only then
/// is a request span's `otel.name` recorded, a field nothing else reads.
static TRACES_EXPORTED: AtomicBool = AtomicBool::new(false);

/// Keeps the tracer provider and the log writer alive; dropping it
/// flushes pending spans and log lines.
#[derive(Debug)]
pub struct TelemetryGuard {
    provider: Option<SdkTracerProvider>,
    _log_writer: LogWriterGuard,
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take()
            && let Err(error) = provider.shutdown()
        {
            tracing::warn!(%error, "trace exporter did not shut down cleanly");
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("OTLP exporter could not be built: {0}")]
    Exporter(#[from] opentelemetry_otlp::ExporterBuildError),
    #[error("a global subscriber is already installed: {0}")]
    Subscriber(#[from] tracing_subscriber::util::TryInitError),
    #[error("invalid log filter: {0}")]
    Filter(#[from] tracing_subscriber::filter::ParseError),
    #[error("the log writer thread could not start: {0}")]
    LogWriter(#[from] std::io::Error),
}

/// Installs the global subscriber: JSON or pretty logs, and OTLP trace export
/// when an endpoint is configured.
pub fn init(
    service: &'static str,
    settings: &TelemetrySettings,
) -> Result<TelemetryGuard, TelemetryError> {
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let filter = log_filter(&settings.log_filter)?;
    // Colour only for a person at a terminal: a log file or a collector
    // gets plain text.
    let ansi = std::io::stdout().is_terminal();
    // Lines are written to stdout in batches by a thread of their own
    // (see `log_writer`).
    let (writer, log_writer) = log_writer::batched(std::io::stdout())?;
    let fmt_layer = match settings.log_format {
        LogFormat::Json => JsonLog::new(writer).boxed(),
        LogFormat::Pretty => tracing_subscriber::fmt::layer()
            .with_writer(writer)
            .compact()
            .with_ansi(ansi)
            .boxed(),
    };

    let provider = match &settings.otlp_endpoint {
        Some(endpoint) => {
            let exporter = opentelemetry_otlp::SpanExporter::builder()
                .with_http()
                .with_endpoint(format!("{}/v1/traces", endpoint.trim_end_matches('/')))
                .build()?;
            let resource = opentelemetry_sdk::Resource::builder()
                .with_service_name(service)
                .build();
            Some(
                SdkTracerProvider::builder()
                    .with_batch_exporter(exporter)
                    .with_resource(resource)
                    .build(),
            )
        }
        None => None,
    };
    TRACES_EXPORTED.store(provider.is_some(), Ordering::Relaxed);
    let otel_layer = provider
        .as_ref()
        .map(|provider| tracing_opentelemetry::layer().with_tracer(provider.tracer(service)));

    tracing_subscriber::registry()
        .with(filter)
        .with(fmt_layer)
        .with(otel_layer)
        .try_init()?;
    Ok(TelemetryGuard {
        provider,
        _log_writer: log_writer,
    })
}

/// The filter for `directives`. Directives that name only targets and
/// levels (`info,sqlx=warn`) get a filter that decides by call site alone;
/// `EnvFilter` only for those that filter by span (`[span{field}]=debug`),
/// since it tracks every span entered and left under a lock shared by all
/// threads, a cost every request pays several times.
fn log_filter(
    directives: &str,
) -> Result<Box<dyn Layer<tracing_subscriber::Registry> + Send + Sync>, TelemetryError> {
    let env_filter = EnvFilter::try_new(directives)?;
    if !directives.contains('[')
        && let Ok(targets) = directives.parse::<Targets>()
    {
        return Ok(targets.boxed());
    }
    Ok(env_filter.boxed())
}

/// Headers that carry the current span's W3C trace context to the next
/// hop: none without a tracer (spans then have no trace context to carry).
pub fn trace_headers() -> Vec<(HeaderName, HeaderValue)> {
    if !TRACES_EXPORTED.load(Ordering::Relaxed) {
        return Vec::new();
    }
    let span = tracing::Span::current();
    let mut carrier = HeaderCarrier::default();
    propagator().inject_context(&span.context(), &mut carrier);
    carrier
        .0
        .into_iter()
        .filter_map(|(name, value)| {
            Some((
                HeaderName::try_from(name).ok()?,
                HeaderValue::try_from(value).ok()?,
            ))
        })
        .collect()
}

fn propagator() -> &'static TraceContextPropagator {
    static PROPAGATOR: OnceLock<TraceContextPropagator> = OnceLock::new();
    PROPAGATOR.get_or_init(TraceContextPropagator::new)
}

#[derive(Default)]
struct HeaderCarrier(HashMap<String, String>);

impl Injector for HeaderCarrier {
    fn set(&mut self, key: &str, value: String) {
        self.0.insert(key.to_owned(), value);
    }
}

struct RequestHeaders<'a>(&'a actix_web::http::header::HeaderMap);

impl Extractor for RequestHeaders<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(HeaderName::as_str).collect()
    }
}

/// The route template a service matched by itself, kept on the request so
/// the request's metrics are labelled with it.
#[derive(Debug, Clone)]
struct MatchedRoute(String);

/// Names the route a request matched, for a service that routes by itself
/// behind one catch-all actix route (the gateway and its route table):
/// without it every such request is `http.route="unmatched"`. Records the
/// template on the request's span (and the span's name) at once, so what is
/// logged from here on carries it, and labels the request's metrics with it.
pub fn record_route(req: &HttpRequest, template: &str) {
    record_route_on(&tracing::Span::current(), req.method(), template);
    req.extensions_mut()
        .insert(MatchedRoute(template.to_owned()));
}

/// Probes and service-to-service calls (feeds polled every second) are
/// logged at debug, so they do not drown the requests people make.
fn is_probe(path: &str) -> bool {
    matches!(path, "/healthz" | "/readyz" | "/metrics") || path.starts_with("/internal/")
}

/// Around every request of every service (the host's middleware calls
/// it, with `call` the rest of the request): request id, root span, trace
/// parent, request metrics, and problem bodies that know their request id.
pub(crate) async fn request_telemetry<B, F, Fut>(
    req: ServiceRequest,
    call: F,
) -> Result<ServiceResponse<B>, Error>
where
    F: FnOnce(ServiceRequest) -> Fut,
    Fut: Future<Output = Result<ServiceResponse<B>, Error>>,
{
    let started = Instant::now();
    let request_id = req
        .headers()
        .get(&REQUEST_ID_HEADER)
        .and_then(|value| value.to_str().ok())
        .and_then(RequestId::parse)
        .unwrap_or_else(RequestId::mint);
    // Known now for actix routes; a service that routes by itself names it
    // later through `record_route`, so the fields start empty then.
    let pattern = req.match_pattern();
    let method = req.method().clone();
    let metrics = req.app_data::<web::Data<HttpMetrics>>().cloned();

    let span = if is_probe(req.path()) {
        tracing::debug_span!("http.request", http.request.method = %method, http.route = tracing::field::Empty, request_id = %request_id, http.response.status_code = tracing::field::Empty)
    } else {
        tracing::info_span!(
            "http.request",
            otel.name = tracing::field::Empty,
            otel.kind = "server",
            http.request.method = %method,
            http.route = tracing::field::Empty,
            url.path = %req.path(),
            request_id = %request_id,
            trace_id = tracing::field::Empty,
            project_id = tracing::field::Empty,
            principal_id = tracing::field::Empty,
            http.response.status_code = tracing::field::Empty,
        )
    };
    if let Some(pattern) = &pattern {
        record_route_on(&span, &method, pattern);
    }
    let parent = propagator().extract(&RequestHeaders(req.headers()));
    let remote = parent.span().span_context().clone();
    if remote.is_valid() {
        span.record("trace_id", tracing::field::display(remote.trace_id()));
        // Without an OTLP exporter there is no tracer and this is a no-op.
        let _ = span.set_parent(parent);
    }

    let response = REQUEST_ID
        .scope(request_id.clone(), call(req).instrument(span.clone()))
        .await;
    let mut response = match response {
        Ok(response) => response,
        // Errors that escaped the handlers are rendered here, inside the
        // request scope, so their body still carries the request id.
        Err(error) => {
            let rendered = REQUEST_ID.sync_scope(request_id.clone(), || error.error_response());
            return Err(actix_web::error::InternalError::from_response(error, rendered).into());
        }
    };

    let route = match pattern {
        Some(pattern) => pattern,
        None => {
            let matched = response
                .request()
                .extensions()
                .get::<MatchedRoute>()
                .cloned();
            match matched {
                Some(MatchedRoute(template)) => template,
                None => {
                    let unmatched = "unmatched".to_owned();
                    record_route_on(&span, &method, &unmatched);
                    unmatched
                }
            }
        }
    };
    let status = response.status();
    span.record("http.response.status_code", status.as_u16());
    if let Ok(value) = HeaderValue::from_str(request_id.as_str()) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    let elapsed = started.elapsed();
    if let Some(metrics) = metrics {
        metrics.observe(&route, method.as_str(), status.as_u16(), elapsed);
    }
    span.in_scope(|| {
        if is_probe(response.request().path()) {
            tracing::debug!(
                latency_ms = elapsed.as_secs_f64() * 1000.0,
                "request finished"
            );
        } else {
            tracing::info!(
                latency_ms = elapsed.as_secs_f64() * 1000.0,
                status = status.as_u16(),
                "request finished"
            );
        }
    });
    Ok(response)
}

fn record_route_on(span: &tracing::Span, method: &actix_web::http::Method, route: &str) {
    span.record("http.route", route);
    if TRACES_EXPORTED.load(Ordering::Relaxed) {
        span.record(
            "otel.name",
            tracing::field::display(format_args!("{method} {route}")),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::json_log::tests::Lines;
    use super::*;

    fn messages_through(directives: &str, body: impl FnOnce()) -> Vec<String> {
        let lines = Lines::default();
        let subscriber = tracing_subscriber::registry()
            .with(log_filter(directives).unwrap())
            .with(JsonLog::new(lines.clone()));
        tracing::subscriber::with_default(subscriber, body);
        lines
            .parsed()
            .iter()
            .map(|line| line["message"].as_str().unwrap().to_owned())
            .collect()
    }

    #[test]
    fn target_directives_filter_by_level_and_target() {
        let messages = messages_through("info,tenant_core::telemetry=warn", || {
            tracing::info!(target: "elsewhere", "info elsewhere");
            tracing::debug!(target: "elsewhere", "debug elsewhere");
            tracing::info!("info here");
            tracing::warn!("warn here");
        });
        assert_eq!(messages, ["info elsewhere", "warn here"]);
    }

    #[test]
    fn span_directives_still_filter_by_span() {
        let messages = messages_through("info,[audit]=debug", || {
            tracing::debug!("debug outside");
            tracing::info_span!("audit").in_scope(|| tracing::debug!("debug in audit"));
        });
        assert_eq!(messages, ["debug in audit"]);
    }

    #[test]
    fn an_invalid_filter_is_refused() {
        assert!(log_filter("info,=[").is_err());
    }
}
