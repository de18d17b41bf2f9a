//! The analytics service's own settings (`[service]`).

use std::time::Duration;

use serde::Deserialize;
use tenant_core::config::{Environment, ServiceSettings};
use tenant_core::outbox::{Backoff, RelaySettings};

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

    /// How the outbox is relayed to the integration gateway.
    pub fn outbox_relay(&self) -> RelaySettings {
        RelaySettings {
            receiver_url: self.integration_gateway_url.clone(),
            receiver_audience: INTEGRATION_GATEWAY,
            interval: Duration::from_millis(self.outbox_relay_interval_ms),
            batch_size: self.outbox_batch_size,
            timeout: Duration::from_millis(self.outbox_delivery_timeout_ms),
            backoff: Backoff {
                base: Duration::from_millis(self.outbox_backoff_base_ms),
                max: Duration::from_secs(self.outbox_backoff_max_secs),
            },
            retention: Duration::from_secs(self.outbox_retention_hours.saturating_mul(3600)),
            prune_interval: Duration::from_secs(self.outbox_prune_interval_secs),
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
        let url = &self.integration_gateway_url;
        if !(url.starts_with("http://") || url.starts_with("https://")) || url.len() < 10 {
            problems.push(format!(
                "service.integration_gateway_url must be an http:// or https:// URL, not `{url}`"
            ));
        }
        if !(10..=3_600_000).contains(&self.outbox_relay_interval_ms) {
            problems.push(
                "service.outbox_relay_interval_ms must be between 10 and 3600000 (an hour)".into(),
            );
        }
        // A full batch must fit in the gateway's JSON body limit (1 MiB by
        // default): a gate.failed event is under 5 KiB.
        if !(1..=200).contains(&self.outbox_batch_size) {
            problems.push("service.outbox_batch_size must be between 1 and 200".into());
        }
        if !(100..=60_000).contains(&self.outbox_delivery_timeout_ms) {
            problems
                .push("service.outbox_delivery_timeout_ms must be between 100 and 60000".into());
        }
        if self.outbox_backoff_base_ms == 0
            || u128::from(self.outbox_backoff_base_ms)
                > u128::from(self.outbox_backoff_max_secs) * 1000
        {
            problems.push(
                "service.outbox_backoff_base_ms must be positive and at most outbox_backoff_max_secs"
                    .into(),
            );
        }
        if !(1..=86_400).contains(&self.outbox_backoff_max_secs) {
            problems.push("service.outbox_backoff_max_secs must be between 1 and 86400".into());
        }
        if self.outbox_retention_hours == 0 || self.outbox_retention_hours > 24 * 366 {
            problems.push("service.outbox_retention_hours must be between 1 and 8784".into());
        }
        if !(1..=86_400).contains(&self.outbox_prune_interval_secs) {
            problems.push("service.outbox_prune_interval_secs must be between 1 and 86400".into());
        }
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
