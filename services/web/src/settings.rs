//! The web service's own settings (`[service]`).

use std::time::Duration;

use serde::Deserialize;
use tenant_core::config::{Environment, ServiceSettings};

#[derive(Debug, Clone, Deserialize)]
pub struct WebSettings {
    /// The gateway's base URL: every page is built from the public API
    /// there, as any client calls it.
    pub gateway_url: String,
    /// A session unused this long is forgotten (and its tokens with it).
    pub session_idle_minutes: u64,
    /// Marks the session cookie `Secure`: on whenever the dashboard is
    /// served over HTTPS (every environment but dev and test).
    pub secure_cookies: bool,
    /// How long one call to the public API may take.
    pub api_timeout_ms: u64,
    /// An access token this close to its expiry is refreshed before a
    /// call, so no call carries a token that lapses on the way.
    pub refresh_margin_secs: u64,
}

/// The same values as [`WebSettings::DEFAULTS`].
impl Default for WebSettings {
    fn default() -> Self {
        Self {
            gateway_url: "http://127.0.0.1:7400".to_owned(),
            session_idle_minutes: 720,
            secure_cookies: false,
            api_timeout_ms: 10_000,
            refresh_margin_secs: 30,
        }
    }
}

impl WebSettings {
    pub fn refresh_margin(&self) -> Duration {
        Duration::from_secs(self.refresh_margin_secs)
    }

    pub fn session_idle(&self) -> Duration {
        Duration::from_secs(self.session_idle_minutes.saturating_mul(60))
    }
}

impl ServiceSettings for WebSettings {
    const DEFAULTS: &'static str = r#"
gateway_url = "http://127.0.0.1:7400"
session_idle_minutes = 720
secure_cookies = false
api_timeout_ms = 10000
refresh_margin_secs = 30
"#;

    fn validate(&self, environment: Environment, problems: &mut Vec<String>) {
        let url = &self.gateway_url;
        if !(url.starts_with("http://") || url.starts_with("https://")) || url.len() < 10 {
            problems.push(format!(
                "service.gateway_url must be an http:// or https:// URL, not `{url}`"
            ));
        }
        if !(5..=60 * 24 * 30).contains(&self.session_idle_minutes) {
            problems.push("service.session_idle_minutes must be between 5 and 43200".into());
        }
        if !(100..=120_000).contains(&self.api_timeout_ms) {
            problems.push("service.api_timeout_ms must be between 100 and 120000".into());
        }
        if self.refresh_margin_secs > 3600 {
            problems.push("service.refresh_margin_secs must be at most 3600".into());
        }
        if !self.secure_cookies && !matches!(environment, Environment::Dev | Environment::Test) {
            problems.push(
                "service.secure_cookies must be true outside dev and test (the dashboard is served over HTTPS)"
                    .into(),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_defaults_equal_the_default_value() {
        let parsed: WebSettings = toml::from_str(WebSettings::DEFAULTS).unwrap();
        assert_eq!(
            format!("{parsed:?}"),
            format!("{:?}", WebSettings::default())
        );
    }

    #[test]
    fn insecure_cookies_are_refused_in_production() {
        let mut problems = Vec::new();
        WebSettings::default().validate(Environment::Prod, &mut problems);
        assert_eq!(problems.len(), 1, "{problems:?}");
        let mut problems = Vec::new();
        WebSettings::default().validate(Environment::Test, &mut problems);
        assert!(problems.is_empty(), "{problems:?}");
    }
}
