//! The failure service's own settings (`[service]`).

use serde::Deserialize;
use tenant_core::config::{Environment, ServiceSettings};
use tenant_core::outbox::{RelayKnobs, RelaySettings, validate_receiver_url};

use crate::junit::ParseLimits;

#[derive(Debug, Clone, Deserialize)]
pub struct FailureSettings {
    /// Largest request body accepted for a results upload, as sent
    /// (compressed or not).
    pub max_upload_bytes: usize,
    /// Largest report after decompression; a zip counts all its files.
    pub max_uncompressed_bytes: u64,
    /// Decompressed bytes allowed per compressed byte (gzip and zip bombs),
    /// above a floor of 1 MiB.
    pub max_decompression_ratio: u64,
    pub max_element_depth: usize,
    pub max_attribute_bytes: usize,
    pub max_stack_trace_bytes: usize,
    pub max_message_bytes: usize,
    pub max_output_bytes: usize,
    /// The most of one XML event (a text node, tag, comment or CDATA
    /// section) held in memory: a longer text is cut with a warning, a
    /// longer tag refused (422 `junit.tag_too_long`).
    pub max_xml_event_bytes: usize,
    /// Entries (files and folders) a zip archive may hold (413 beyond).
    pub max_zip_entries: u64,
    /// Largest file inside a zip archive, uncompressed (413 beyond).
    pub max_zip_entry_bytes: u64,
    /// Rows per `INSERT ... SELECT FROM unnest(...)` statement.
    pub insert_batch_size: usize,
    /// Uploads read at once per process; more are refused with 429. An
    /// upload holds a database connection while its body arrives, so keep
    /// this below `database.pool_max_size`. One project may hold at most
    /// half of them ([`Self::max_uploads_per_project`]).
    pub max_concurrent_uploads: usize,
    /// An upload whose body sends nothing for this long is refused (408).
    pub upload_idle_timeout_secs: u64,
    /// Once `upload_idle_timeout_secs` has passed, a body must keep
    /// arriving at this average rate or be refused (408); 0 turns it off.
    pub upload_min_bytes_per_sec: u64,
    /// Base URL of the integration gateway, which receives the outbox's
    /// events (`POST /internal/v1/events`).
    pub integration_gateway_url: String,
    /// Base URL of the analytics service, which receives every event too,
    /// from its own queue (`failure.outbox_analytics`) and relay.
    pub analytics_url: String,
    /// Pause between relay rounds when no more events are due.
    pub outbox_relay_interval_ms: u64,
    /// Events per delivery (one project's batch).
    pub outbox_batch_size: i64,
    /// How long one delivery may take before it counts as failed.
    pub outbox_delivery_timeout_ms: u64,
    /// Wait after a first failed delivery; doubles per further failure.
    pub outbox_backoff_base_ms: u64,
    /// The longest wait between two attempts (also caps `Retry-After`).
    pub outbox_backoff_max_secs: u64,
    /// Delivered events are kept this long, then pruned.
    pub outbox_retention_hours: u64,
    /// How often delivered events past the retention are pruned.
    pub outbox_prune_interval_secs: u64,
    /// Base URL of the project service, which says whether a user is a
    /// member of a project (a group's assignee must be).
    pub project_url: String,
    /// How long a call to the project service may take.
    pub project_timeout_ms: u64,
    /// How often an idle regroup worker looks for a queued job.
    pub regroup_poll_interval_ms: u64,
    /// Failures a regroup job moves per transaction (and per progress
    /// step).
    pub regroup_batch_size: i64,
    /// How long a regroup worker's claim on a job lasts without being
    /// renewed (each batch renews it); a worker that died loses its job to
    /// another this long after its last batch.
    pub regroup_lease_secs: u64,
}

/// The same values as [`FailureSettings::DEFAULTS`].
impl Default for FailureSettings {
    fn default() -> Self {
        Self {
            max_upload_bytes: 256 * 1024 * 1024,
            max_uncompressed_bytes: 256 * 1024 * 1024,
            max_decompression_ratio: 200,
            max_element_depth: 64,
            max_attribute_bytes: 64 * 1024,
            max_stack_trace_bytes: 64 * 1024,
            max_message_bytes: 8 * 1024,
            max_output_bytes: 16 * 1024,
            max_xml_event_bytes: 1024 * 1024,
            max_zip_entries: 10_000,
            max_zip_entry_bytes: 128 * 1024 * 1024,
            insert_batch_size: 5000,
            max_concurrent_uploads: 8,
            upload_idle_timeout_secs: 30,
            upload_min_bytes_per_sec: 1024,
            integration_gateway_url: "http://127.0.0.1:7405".to_owned(),
            analytics_url: "http://127.0.0.1:7404".to_owned(),
            outbox_relay_interval_ms: 1000,
            outbox_batch_size: 100,
            outbox_delivery_timeout_ms: 5000,
            outbox_backoff_base_ms: 1000,
            outbox_backoff_max_secs: 300,
            outbox_retention_hours: 168,
            outbox_prune_interval_secs: 3600,
            project_url: "http://127.0.0.1:7402".to_owned(),
            project_timeout_ms: 2000,
            regroup_poll_interval_ms: 1000,
            regroup_batch_size: 500,
            regroup_lease_secs: 60,
        }
    }
}

impl FailureSettings {
    pub fn parse_limits(&self) -> ParseLimits {
        ParseLimits {
            max_depth: self.max_element_depth,
            max_attribute_bytes: self.max_attribute_bytes,
            max_stack_trace_bytes: self.max_stack_trace_bytes,
            max_message_bytes: self.max_message_bytes,
            max_output_bytes: self.max_output_bytes,
            max_event_bytes: self.max_xml_event_bytes,
        }
    }

    /// Uploads one project may have read at once: half of
    /// `max_concurrent_uploads` (at least one), so no project can take
    /// every slot of an instance from the others.
    pub fn max_uploads_per_project(&self) -> usize {
        (self.max_concurrent_uploads / 2).max(1)
    }

    /// How the outbox is relayed to the integration gateway.
    pub fn outbox_relay(&self) -> RelaySettings {
        self.outbox_knobs()
            .relay_to(&self.integration_gateway_url, INTEGRATION_GATEWAY)
    }

    fn outbox_knobs(&self) -> RelayKnobs {
        RelayKnobs {
            relay_interval_ms: self.outbox_relay_interval_ms,
            batch_size: self.outbox_batch_size,
            delivery_timeout_ms: self.outbox_delivery_timeout_ms,
            backoff_base_ms: self.outbox_backoff_base_ms,
            backoff_max_secs: self.outbox_backoff_max_secs,
            retention_hours: self.outbox_retention_hours,
            prune_interval_secs: self.outbox_prune_interval_secs,
        }
    }

    /// How the analytics queue is relayed to the analytics service: as the
    /// integration gateway's, to another receiver.
    pub fn analytics_relay(&self) -> RelaySettings {
        RelaySettings {
            receiver_url: self.analytics_url.clone(),
            receiver_audience: ANALYTICS_SERVICE,
            ..self.outbox_relay()
        }
    }

    /// How long a call to the project service may take.
    pub fn project_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.project_timeout_ms)
    }
}

/// The integration gateway's service name (its context tokens' audience).
const INTEGRATION_GATEWAY: &str = "integration-gateway";

/// The analytics service's name (its context tokens' audience).
const ANALYTICS_SERVICE: &str = "analytics-service";

impl ServiceSettings for FailureSettings {
    const DEFAULTS: &'static str = r#"
max_upload_bytes = 268435456
max_uncompressed_bytes = 268435456
max_decompression_ratio = 200
max_element_depth = 64
max_attribute_bytes = 65536
max_stack_trace_bytes = 65536
max_message_bytes = 8192
max_output_bytes = 16384
max_xml_event_bytes = 1048576
max_zip_entries = 10000
max_zip_entry_bytes = 134217728
insert_batch_size = 5000
max_concurrent_uploads = 8
upload_idle_timeout_secs = 30
upload_min_bytes_per_sec = 1024
integration_gateway_url = "http://127.0.0.1:7405"
analytics_url = "http://127.0.0.1:7404"
outbox_relay_interval_ms = 1000
outbox_batch_size = 100
outbox_delivery_timeout_ms = 5000
outbox_backoff_base_ms = 1000
outbox_backoff_max_secs = 300
outbox_retention_hours = 168
outbox_prune_interval_secs = 3600
project_url = "http://127.0.0.1:7402"
project_timeout_ms = 2000
regroup_poll_interval_ms = 1000
regroup_batch_size = 500
regroup_lease_secs = 60
"#;

    fn validate(&self, _environment: Environment, problems: &mut Vec<String>) {
        if self.max_upload_bytes == 0 || self.max_uncompressed_bytes == 0 {
            problems.push(
                "service.max_upload_bytes and max_uncompressed_bytes must be positive".into(),
            );
        }
        if self.max_decompression_ratio == 0 {
            problems.push("service.max_decompression_ratio must be at least 1".into());
        }
        if !(4..=1024).contains(&self.max_element_depth) {
            problems.push("service.max_element_depth must be between 4 and 1024".into());
        }
        if !(1..=50_000).contains(&self.insert_batch_size) {
            problems.push("service.insert_batch_size must be between 1 and 50000".into());
        }
        if self.max_concurrent_uploads == 0 {
            problems.push("service.max_concurrent_uploads must be at least 1".into());
        }
        if !(1..=3600).contains(&self.upload_idle_timeout_secs) {
            problems.push("service.upload_idle_timeout_secs must be between 1 and 3600".into());
        }
        if !(4096..=64 * 1024 * 1024).contains(&self.max_xml_event_bytes) {
            problems.push(
                "service.max_xml_event_bytes must be between 4096 and 67108864 (64 MiB)".into(),
            );
        }
        if !(self.project_url.starts_with("http://") || self.project_url.starts_with("https://")) {
            problems.push(format!(
                "service.project_url must be an http:// or https:// URL, not `{}`",
                self.project_url
            ));
        }
        if self.project_timeout_ms == 0 || self.regroup_poll_interval_ms == 0 {
            problems.push(
                "service.project_timeout_ms and regroup_poll_interval_ms must be positive".into(),
            );
        }
        if !(1..=10_000).contains(&self.regroup_batch_size) {
            problems.push("service.regroup_batch_size must be between 1 and 10000".into());
        }
        if !(1..=3600).contains(&self.regroup_lease_secs) {
            problems.push("service.regroup_lease_secs must be between 1 and 3600".into());
        }
        if self.max_zip_entries == 0 || self.max_zip_entry_bytes == 0 {
            problems
                .push("service.max_zip_entries and max_zip_entry_bytes must be positive".into());
        }
        self.validate_outbox(problems);
    }
}

impl FailureSettings {
    fn validate_outbox(&self, problems: &mut Vec<String>) {
        validate_receiver_url(
            "integration_gateway_url",
            &self.integration_gateway_url,
            problems,
        );
        validate_receiver_url("analytics_url", &self.analytics_url, problems);
        self.outbox_knobs().validate(problems);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_defaults_equal_the_default_value() {
        let parsed: FailureSettings = toml_defaults();
        assert_eq!(
            format!("{parsed:?}"),
            format!("{:?}", FailureSettings::default())
        );
    }

    fn toml_defaults() -> FailureSettings {
        toml::from_str(FailureSettings::DEFAULTS).unwrap()
    }

    #[test]
    fn outbox_settings_out_of_range_are_refused_at_startup() {
        let settings = FailureSettings {
            integration_gateway_url: "integration-gateway:8080".into(),
            outbox_batch_size: 0,
            outbox_backoff_base_ms: 600_000,
            ..FailureSettings::default()
        };
        let mut problems = Vec::new();
        settings.validate(Environment::Test, &mut problems);
        assert_eq!(problems.len(), 3, "{problems:?}");
        let mut problems = Vec::new();
        FailureSettings::default().validate(Environment::Test, &mut problems);
        assert!(problems.is_empty(), "{problems:?}");
    }
}
