//! The project service's own settings (`[service]`).

use serde::Deserialize;
use tenant_core::config::{Environment, ServiceSettings};

#[derive(Debug, Default, Deserialize)]
pub struct ProjectServiceSettings {
    /// Base URL of the auth service, for looking users up by email.
    pub auth_url: String,
    /// How long a call to the auth service may take.
    pub auth_timeout_ms: u64,
    /// How many entries of the access change feed are kept. A gateway that
    /// falls further behind is told to drop its whole cache.
    pub access_changes_retained: i64,
    /// How often membership changes are relayed to the auth service (which
    /// revokes API keys of members removed or demoted below admin).
    pub key_creator_relay_interval_ms: u64,
}

impl ServiceSettings for ProjectServiceSettings {
    const DEFAULTS: &'static str = r#"
auth_url = "http://127.0.0.1:7401"
auth_timeout_ms = 2000
access_changes_retained = 100000
key_creator_relay_interval_ms = 1000
"#;

    fn validate(&self, _environment: Environment, problems: &mut Vec<String>) {
        if !(self.auth_url.starts_with("http://") || self.auth_url.starts_with("https://")) {
            problems.push(format!(
                "service.auth_url must be an http:// or https:// URL, not `{}`",
                self.auth_url
            ));
        }
        if self.auth_timeout_ms == 0 {
            problems.push("service.auth_timeout_ms must be greater than 0".into());
        }
        if self.key_creator_relay_interval_ms == 0 {
            problems.push("service.key_creator_relay_interval_ms must be greater than 0".into());
        }
        if self.access_changes_retained < 1 {
            problems.push("service.access_changes_retained must be at least 1".into());
        }
    }
}

impl ProjectServiceSettings {
    pub fn auth_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.auth_timeout_ms)
    }
}
