//! The web service's own settings (`[service]`).

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use tenant_core::config::{Environment, ServiceSettings};

/// The published development session key (32 bytes, base64): used in dev
/// and test when none is configured, refused everywhere else.
const DEV_SESSION_KEY: &str = "ZmF1bHRsaW5lLWRldi1zZXNzaW9uLWtleS0zMmJ5dGU=";

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
    /// Which entry of `session_keys` seals sessions (the newest).
    pub session_key_id: String,
    /// Base64 of 32 random bytes each; older ids keep opening the sessions
    /// they sealed until those refresh or expire.
    #[serde(default)]
    pub session_keys: BTreeMap<String, SecretString>,
    /// How often revoked and idle sessions are deleted.
    pub session_cleanup_interval_secs: u64,
    /// How many sessions one cleanup statement deletes at most.
    pub session_cleanup_batch: i64,
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
            session_key_id: "dev".to_owned(),
            session_keys: BTreeMap::new(),
            session_cleanup_interval_secs: 300,
            session_cleanup_batch: 1000,
        }
    }
}

/// A configured key's bytes, when it is base64 of exactly 32 bytes.
fn decode_key(key: &str) -> Option<Vec<u8>> {
    STANDARD
        .decode(key.trim())
        .ok()
        .filter(|bytes| bytes.len() == 32)
}

impl WebSettings {
    pub fn refresh_margin(&self) -> Duration {
        Duration::from_secs(self.refresh_margin_secs)
    }

    pub fn session_idle(&self) -> Duration {
        Duration::from_secs(self.session_idle_minutes.saturating_mul(60))
    }

    pub fn session_cleanup_interval(&self) -> Duration {
        Duration::from_secs(self.session_cleanup_interval_secs)
    }

    /// The session keys by id (their bytes); in dev and test the
    /// development key stands in for a current key that is not configured.
    pub fn session_keys(&self, environment: Environment) -> Vec<(String, Vec<u8>)> {
        let mut keys: Vec<(String, Vec<u8>)> = self
            .session_keys
            .iter()
            .filter_map(|(id, key)| {
                decode_key(key.expose_secret()).map(|bytes| (id.clone(), bytes))
            })
            .collect();
        let dev_allowed = matches!(environment, Environment::Dev | Environment::Test);
        if dev_allowed && !self.session_keys.contains_key(&self.session_key_id) {
            keys.extend(
                decode_key(DEV_SESSION_KEY).map(|bytes| (self.session_key_id.clone(), bytes)),
            );
        }
        keys
    }
}

impl ServiceSettings for WebSettings {
    const DEFAULTS: &'static str = r#"
gateway_url = "http://127.0.0.1:7400"
session_idle_minutes = 720
secure_cookies = false
api_timeout_ms = 10000
refresh_margin_secs = 30
session_key_id = "dev"
session_cleanup_interval_secs = 300
session_cleanup_batch = 1000
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
        let dev_allowed = matches!(environment, Environment::Dev | Environment::Test);
        for (id, key) in &self.session_keys {
            match decode_key(key.expose_secret()) {
                None => problems.push(format!(
                    "service.session_keys.{id} must be base64 of exactly 32 bytes"
                )),
                Some(bytes) if !dev_allowed && is_weak(&bytes) => problems.push(format!(
                    "service.session_keys.{id} is weak (the development key, or too few distinct bytes): use 32 random bytes"
                )),
                Some(_) => {}
            }
        }
        if !dev_allowed && !self.session_keys.contains_key(&self.session_key_id) {
            problems.push(format!(
                "service.session_keys.{} is required outside dev and test: set FAULTLINE__SERVICE__SESSION_KEYS__{}",
                self.session_key_id,
                self.session_key_id.to_uppercase()
            ));
        }
        if !(1..=86_400).contains(&self.session_cleanup_interval_secs) {
            problems
                .push("service.session_cleanup_interval_secs must be between 1 and 86400".into());
        }
        if !(1..=100_000).contains(&self.session_cleanup_batch) {
            problems.push("service.session_cleanup_batch must be between 1 and 100000".into());
        }
        if !self.secure_cookies && !dev_allowed {
            problems.push(
                "service.secure_cookies must be true outside dev and test (the dashboard is served over HTTPS)"
                    .into(),
            );
        }
    }
}

/// The development key, or a key of fewer than 16 distinct bytes.
fn is_weak(bytes: &[u8]) -> bool {
    let distinct: std::collections::BTreeSet<&u8> = bytes.iter().collect();
    decode_key(DEV_SESSION_KEY).is_some_and(|dev| dev == bytes) || distinct.len() < 16
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
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[1].contains("secure_cookies"), "{problems:?}");
        let mut problems = Vec::new();
        WebSettings::default().validate(Environment::Test, &mut problems);
        assert!(problems.is_empty(), "{problems:?}");
    }

    #[test]
    fn production_needs_a_strong_session_key_of_its_own() {
        let mut settings = WebSettings {
            secure_cookies: true,
            ..WebSettings::default()
        };
        let mut problems = Vec::new();
        settings.validate(Environment::Prod, &mut problems);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("SESSION_KEYS__DEV"), "{problems:?}");

        settings
            .session_keys
            .insert("dev".into(), SecretString::from(DEV_SESSION_KEY));
        let mut problems = Vec::new();
        settings.validate(Environment::Prod, &mut problems);
        assert!(problems[0].contains("weak"), "{problems:?}");

        let strong: Vec<u8> = (0_u8..32).map(|i| i.wrapping_mul(41)).collect();
        settings
            .session_keys
            .insert("dev".into(), SecretString::from(STANDARD.encode(&strong)));
        let mut problems = Vec::new();
        settings.validate(Environment::Prod, &mut problems);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(
            settings.session_keys(Environment::Prod),
            [("dev".to_owned(), strong)]
        );
        assert!(
            WebSettings::default()
                .session_keys(Environment::Prod)
                .is_empty()
        );
        assert_eq!(
            WebSettings::default().session_keys(Environment::Test).len(),
            1
        );
    }
}
