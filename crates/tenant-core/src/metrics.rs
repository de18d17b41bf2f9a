//! Prometheus metrics, served on the admin listener only.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    route: String,
    method: String,
    status: u16,
}

/// The metrics registry of one service process.
#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Arc<Mutex<Registry>>,
    http: HttpMetrics,
}

/// `http_server_request_duration_seconds`, by route template, method and status.
#[derive(Debug, Clone)]
pub struct HttpMetrics {
    durations: Family<HttpLabels, Histogram, fn() -> Histogram>,
}

fn request_duration_histogram() -> Histogram {
    // 0.25 ms .. ~8 s
    Histogram::new(exponential_buckets(0.000_25, 2.0, 16))
}

impl HttpMetrics {
    pub fn observe(&self, route: &str, method: &str, status: u16, elapsed: Duration) {
        self.durations
            .get_or_create(&HttpLabels {
                route: route.to_owned(),
                method: method.to_owned(),
                status,
            })
            .observe(elapsed.as_secs_f64());
    }
}

impl Metrics {
    pub fn new(service: &str) -> Self {
        let mut registry = Registry::with_labels(
            [(
                std::borrow::Cow::Borrowed("service"),
                std::borrow::Cow::Owned(service.to_owned()),
            )]
            .into_iter(),
        );
        let durations: Family<HttpLabels, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(request_duration_histogram);
        registry.register_with_unit(
            "http_server_request_duration",
            "Time from request received to response headers sent",
            Unit::Seconds,
            durations.clone(),
        );
        Self {
            registry: Arc::new(Mutex::new(registry)),
            http: HttpMetrics { durations },
        }
    }

    pub fn http(&self) -> &HttpMetrics {
        &self.http
    }

    /// Lets a service add its own metrics at startup.
    pub fn register(
        &self,
        name: &str,
        help: &str,
        metric: impl prometheus_client::registry::Metric,
    ) {
        if let Ok(mut registry) = self.registry.lock() {
            registry.register(name, help, metric);
        }
    }

    /// The OpenMetrics text exposition.
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::new();
        let registry = self.registry.lock().map_err(|_| std::fmt::Error)?;
        prometheus_client::encoding::text::encode(&mut out, &registry)?;
        Ok(out)
    }
}
