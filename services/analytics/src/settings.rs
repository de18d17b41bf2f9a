//! The analytics service's own settings (`[service]`).

use std::time::Duration;

use serde::Deserialize;
use tenant_core::config::{Environment, ServiceSettings};
use tenant_core::outbox::{RelayKnobs, RelaySettings, validate_receiver_url};

/// The analytics service's own settings: the project service (the
/// overview's memberships), the rollups' reconciliation, and the outbox
/// relay (`gate.failed` to the integration gateway) with the failure
/// service's names and defaults.
#[derive(Debug, Clone, Deserialize)]
pub struct AnalyticsSettings {
    /// Base URL of the project service, which lists a user's projects for
    /// the cross-project overview.
    pub project_url: String,
    /// How long a call to the project service may take.
    pub project_timeout_ms: u64,
    /// Pause between reconciliation rounds.
    pub reconcile_interval_secs: u64,
    /// How far back (days) the reconciliation looks for builds and groups.
    pub reconcile_days: u64,
    /// Slices computed again per project per round (the round's bound).
    pub reconcile_slices_per_round: i64,
    /// Groups computed again per project per round.
    pub reconcile_groups_per_round: i64,
    /// Rankings kept in memory (one per project, filter and limit).
    pub rankings_cache_entries: usize,
    /// How long kept rankings may be served from, at most.
    pub rankings_cache_ttl_secs: u64,
    /// How long a request waits for rankings recomputed after the
    /// rollups changed before it is answered with the ones kept from
    /// before.
    pub rankings_fresh_wait_ms: u64,
    /// Base URL of the integration gateway, which receives the outbox's
    /// events (`POST /internal/v1/events`).
    pub integration_gateway_url: String,
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
}

/// The same values as [`AnalyticsSettings::DEFAULTS`].
impl Default for AnalyticsSettings {
    fn default() -> Self {
        Self {
            project_url: "http://127.0.0.1:7402".to_owned(),
            project_timeout_ms: 2000,
            reconcile_interval_secs: 300,
            reconcile_days: 90,
            reconcile_slices_per_round: 20,
            reconcile_groups_per_round: 100,
            rankings_cache_entries: 256,
            rankings_cache_ttl_secs: 3600,
            rankings_fresh_wait_ms: 2000,
            integration_gateway_url: "http://127.0.0.1:7405".to_owned(),
            outbox_relay_interval_ms: 1000,
            outbox_batch_size: 100,
            outbox_delivery_timeout_ms: 5000,
            outbox_backoff_base_ms: 1000,
            outbox_backoff_max_secs: 300,
            outbox_retention_hours: 168,
            outbox_prune_interval_secs: 3600,
        }
    }
}

/// The integration gateway's service name (its context tokens' audience).
const INTEGRATION_GATEWAY: &str = "integration-gateway";

impl AnalyticsSettings {
    pub fn project_timeout(&self) -> Duration {
        Duration::from_millis(self.project_timeout_ms)
    }

    pub fn rankings_cache_ttl(&self) -> Duration {
        Duration::from_secs(self.rankings_cache_ttl_secs)
    }

    pub fn rankings_fresh_wait(&self) -> Duration {
        Duration::from_millis(self.rankings_fresh_wait_ms)
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
}

impl ServiceSettings for AnalyticsSettings {
    const DEFAULTS: &'static str = r#"
project_url = "http://127.0.0.1:7402"
project_timeout_ms = 2000
reconcile_interval_secs = 300
reconcile_days = 90
reconcile_slices_per_round = 20
reconcile_groups_per_round = 100
rankings_cache_entries = 256
rankings_cache_ttl_secs = 3600
rankings_fresh_wait_ms = 2000
integration_gateway_url = "http://127.0.0.1:7405"
outbox_relay_interval_ms = 1000
outbox_batch_size = 100
outbox_delivery_timeout_ms = 5000
outbox_backoff_base_ms = 1000
outbox_backoff_max_secs = 300
outbox_retention_hours = 168
outbox_prune_interval_secs = 3600
"#;

    fn validate(&self, _environment: Environment, problems: &mut Vec<String>) {
        let url = &self.project_url;
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            problems.push(format!(
                "service.project_url must be an http:// or https:// URL, not `{url}`"
            ));
        }
        if self.project_timeout_ms == 0 {
            problems.push("service.project_timeout_ms must be greater than 0".into());
        }
        if self.reconcile_interval_secs == 0 {
            problems.push("service.reconcile_interval_secs must be at least 1".into());
        }
        if self.reconcile_days == 0 || self.reconcile_days > 3660 {
            problems.push("service.reconcile_days must be between 1 and 3660".into());
        }
        if self.reconcile_slices_per_round < 1 || self.reconcile_groups_per_round < 1 {
            problems.push(
                "service.reconcile_slices_per_round and reconcile_groups_per_round must be at least 1"
                    .into(),
            );
        }
        if self.rankings_cache_entries > 100_000 {
            problems.push("service.rankings_cache_entries must be at most 100000".into());
        }
        if self.rankings_cache_ttl_secs > 86_400 {
            problems.push("service.rankings_cache_ttl_secs must be at most 86400".into());
        }
        if self.rankings_fresh_wait_ms > 60_000 {
            problems.push("service.rankings_fresh_wait_ms must be at most 60000".into());
        }
        validate_receiver_url(
            "integration_gateway_url",
            &self.integration_gateway_url,
            problems,
        );
        self.outbox_knobs().validate(problems);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_defaults_equal_the_default_value() {
        let parsed: AnalyticsSettings = toml::from_str(AnalyticsSettings::DEFAULTS).unwrap();
        assert_eq!(
            format!("{parsed:?}"),
            format!("{:?}", AnalyticsSettings::default())
        );
    }

    #[test]
    fn outbox_settings_out_of_range_are_refused_at_startup() {
        let settings = AnalyticsSettings {
            integration_gateway_url: "integration-gateway:8080".into(),
            outbox_batch_size: 0,
            ..AnalyticsSettings::default()
        };
        let mut problems = Vec::new();
        settings.validate(Environment::Test, &mut problems);
        assert_eq!(problems.len(), 2, "{problems:?}");
        let mut problems = Vec::new();
        AnalyticsSettings::default().validate(Environment::Test, &mut problems);
        assert!(problems.is_empty(), "{problems:?}");
    }
}
