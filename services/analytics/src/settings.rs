//! The analytics service's own settings (`[service]`).

use std::time::Duration;

use serde::Deserialize;
use tenant_core::config::{Environment, ServiceSettings};

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
        }
    }
}

impl AnalyticsSettings {
    pub fn project_timeout(&self) -> Duration {
        Duration::from_millis(self.project_timeout_ms)
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
    }
}
