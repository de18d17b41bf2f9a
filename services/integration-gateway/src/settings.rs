//! The integration gateway's own settings (`[service]`).

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use tenant_core::config::{Environment, ServiceSettings};
use tenant_core::outbox::Backoff;

/// The development master key, published here: used only in `dev`, and
/// only when no key is configured under `master_key_id`.
pub const DEV_MASTER_KEY: &str = "ZmF1bHRsaW5lLWRldi1pbnRlZ3JhdGlvbi1rZXktMzI=";

#[derive(Debug, Clone, Deserialize)]
pub struct IntegrationSettings {
    /// Which entry of `master_keys` wraps new data keys, and the one
    /// `keys rewrap` moves every data key to (the newest).
    pub master_key_id: String,
    /// Base64 of 32 random bytes each; older ids keep unwrapping the data
    /// keys they wrapped until `keys rewrap` has moved them.
    #[serde(default)]
    pub master_keys: BTreeMap<String, SecretString>,
    /// Plain `http://` targets (development and tests, against local mock
    /// receivers); refused in prod.
    pub allow_http: bool,
    /// Loopback targets (127.0.0.0/8, ::1), for the same mock receivers;
    /// refused in prod. Every other private or special address stays
    /// refused whatever this says.
    pub allow_loopback: bool,
    /// How long one call to a third party may take, connect included.
    pub outbound_timeout_ms: u64,
    /// The largest answer read from a third party; a longer one fails the
    /// delivery.
    pub max_response_bytes: usize,
    /// Slack's Web API (`chat.postMessage` for bot tokens).
    pub slack_api_url: String,
    /// GitHub's REST API.
    pub github_api_url: String,
    /// Pause between delivery rounds when nothing is due.
    pub delivery_poll_interval_ms: u64,
    /// Deliveries sent per project per round.
    pub delivery_batch_size: i64,
    /// Attempts after which a delivery is dead-lettered.
    pub delivery_max_attempts: i32,
    /// Wait after a first failed attempt; doubles per further failure.
    pub delivery_backoff_base_ms: u64,
    /// The longest wait between attempts (also caps `Retry-After`).
    pub delivery_backoff_max_secs: u64,
    /// Consecutive failed attempts of one connection that open its circuit.
    pub breaker_failure_threshold: i32,
    /// How long an open circuit holds that connection's deliveries back.
    pub breaker_open_secs: u64,
    /// Base URL of the failure service: group details for issues, issue
    /// links on groups, resolving groups whose issue is done.
    pub failure_url: String,
    /// How long a call to the failure service may take.
    pub failure_timeout_ms: u64,
    /// The dashboard's base URL, for the link back from an issue to its
    /// group.
    pub web_url: String,
    /// How often linked Jira issues are read for their status.
    pub jira_sync_interval_ms: u64,
    /// The longest `Retry-After` a Jira call waits out before it gives up
    /// (a create answers the caller, so it cannot wait for ever).
    pub jira_max_retry_after_secs: u64,
    /// The OAuth 2.0 (3LO) app members connect their own Jira account
    /// with; per-user connections are off while it is empty.
    pub jira_oauth_client_id: String,
    #[serde(default)]
    pub jira_oauth_client_secret: Option<SecretString>,
    pub jira_oauth_authorize_url: String,
    pub jira_oauth_token_url: String,
    /// Where Atlassian sends the browser back: the dashboard's page that
    /// posts the `code` and `state` to the callback endpoint.
    pub jira_oauth_redirect_uri: String,
    /// Atlassian's API gateway: accessible resources, and each site's API
    /// under `/ex/jira/{cloud_id}`.
    pub jira_api_url: String,
}

impl Default for IntegrationSettings {
    fn default() -> Self {
        Self {
            master_key_id: "dev".to_owned(),
            master_keys: BTreeMap::new(),
            allow_http: false,
            allow_loopback: false,
            outbound_timeout_ms: 10_000,
            max_response_bytes: 1024 * 1024,
            slack_api_url: "https://slack.com/api".to_owned(),
            github_api_url: "https://api.github.com".to_owned(),
            delivery_poll_interval_ms: 1000,
            delivery_batch_size: 50,
            delivery_max_attempts: 8,
            delivery_backoff_base_ms: 2000,
            delivery_backoff_max_secs: 600,
            breaker_failure_threshold: 5,
            breaker_open_secs: 60,
            failure_url: "http://127.0.0.1:7403".to_owned(),
            failure_timeout_ms: 5000,
            web_url: "http://127.0.0.1:7400".to_owned(),
            jira_sync_interval_ms: 60_000,
            jira_max_retry_after_secs: 30,
            jira_oauth_client_id: String::new(),
            jira_oauth_client_secret: None,
            jira_oauth_authorize_url: "https://auth.atlassian.com/authorize".to_owned(),
            jira_oauth_token_url: "https://auth.atlassian.com/oauth/token".to_owned(),
            jira_oauth_redirect_uri: "http://127.0.0.1:7400/integrations/jira/callback".to_owned(),
            jira_api_url: "https://api.atlassian.com".to_owned(),
        }
    }
}

impl ServiceSettings for IntegrationSettings {
    const DEFAULTS: &'static str = r#"
master_key_id = "dev"
allow_http = false
allow_loopback = false
outbound_timeout_ms = 10000
max_response_bytes = 1048576
slack_api_url = "https://slack.com/api"
github_api_url = "https://api.github.com"
delivery_poll_interval_ms = 1000
delivery_batch_size = 50
delivery_max_attempts = 8
delivery_backoff_base_ms = 2000
delivery_backoff_max_secs = 600
breaker_failure_threshold = 5
breaker_open_secs = 60
failure_url = "http://127.0.0.1:7403"
failure_timeout_ms = 5000
web_url = "http://127.0.0.1:7400"
jira_sync_interval_ms = 60000
jira_max_retry_after_secs = 30
jira_oauth_client_id = ""
jira_oauth_authorize_url = "https://auth.atlassian.com/authorize"
jira_oauth_token_url = "https://auth.atlassian.com/oauth/token"
jira_oauth_redirect_uri = "http://127.0.0.1:7400/integrations/jira/callback"
jira_api_url = "https://api.atlassian.com"
"#;

    fn validate(&self, environment: Environment, problems: &mut Vec<String>) {
        for (id, key) in &self.master_keys {
            match decode_master_key(key.expose_secret()) {
                None => problems.push(format!(
                    "service.master_keys.{id} must be base64 of exactly 32 bytes"
                )),
                Some(bytes) if environment != Environment::Dev && is_weak(&bytes) => problems
                    .push(format!(
                        "service.master_keys.{id} is weak (the development key, or too few distinct bytes): use 32 random bytes"
                    )),
                Some(_) => {}
            }
        }
        if environment != Environment::Dev && !self.master_keys.contains_key(&self.master_key_id) {
            problems.push(format!(
                "service.master_keys.{} is required outside dev: set FAULTLINE__SERVICE__MASTER_KEYS__{}",
                self.master_key_id,
                self.master_key_id.to_uppercase()
            ));
        }
        if environment == Environment::Prod && (self.allow_http || self.allow_loopback) {
            problems.push(
                "service.allow_http and service.allow_loopback are for development and tests, refused in prod"
                    .into(),
            );
        }
        if self.outbound_timeout_ms == 0 || self.max_response_bytes == 0 {
            problems.push(
                "service.outbound_timeout_ms and service.max_response_bytes must be positive"
                    .into(),
            );
        }
        if self.delivery_batch_size < 1 || self.delivery_max_attempts < 1 {
            problems.push(
                "service.delivery_batch_size and service.delivery_max_attempts must be at least 1"
                    .into(),
            );
        }
        if self.delivery_backoff_base_ms == 0
            || Duration::from_millis(self.delivery_backoff_base_ms)
                > Duration::from_secs(self.delivery_backoff_max_secs)
        {
            problems.push(
                "service.delivery_backoff_base_ms must be positive and at most service.delivery_backoff_max_secs"
                    .into(),
            );
        }
        if self.breaker_failure_threshold < 1 {
            problems.push("service.breaker_failure_threshold must be at least 1".into());
        }
    }
}

impl IntegrationSettings {
    /// The master keys in force: the configured ones, plus the development
    /// key in `dev` when none is configured under `master_key_id`.
    pub fn master_keys(&self, environment: Environment) -> Vec<(String, [u8; 32])> {
        let mut keys: Vec<(String, [u8; 32])> = self
            .master_keys
            .iter()
            .filter_map(|(id, key)| Some((id.clone(), decode_master_key(key.expose_secret())?)))
            .collect();
        if environment == Environment::Dev
            && !keys.iter().any(|(id, _)| *id == self.master_key_id)
            && let Some(dev) = decode_master_key(DEV_MASTER_KEY)
        {
            keys.push((self.master_key_id.clone(), dev));
        }
        keys
    }

    pub fn backoff(&self) -> Backoff {
        Backoff {
            base: Duration::from_millis(self.delivery_backoff_base_ms),
            max: Duration::from_secs(self.delivery_backoff_max_secs),
        }
    }

    pub fn outbound_timeout(&self) -> Duration {
        Duration::from_millis(self.outbound_timeout_ms)
    }
}

fn decode_master_key(encoded: &str) -> Option<[u8; 32]> {
    STANDARD.decode(encoded.trim()).ok()?.try_into().ok()
}

/// The development key, or bytes too repetitive to be random (fewer than
/// 16 distinct values among 32: a typed phrase, a repeated byte).
fn is_weak(key: &[u8; 32]) -> bool {
    let dev = decode_master_key(DEV_MASTER_KEY);
    let mut seen = [false; 256];
    for byte in key {
        seen[usize::from(*byte)] = true;
    }
    dev.as_ref() == Some(key) || seen.iter().filter(|s| **s).count() < 16
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_key(encoded: &str) -> IntegrationSettings {
        IntegrationSettings {
            master_key_id: "k1".into(),
            master_keys: BTreeMap::from([("k1".to_owned(), SecretString::from(encoded))]),
            ..IntegrationSettings::default()
        }
    }

    fn problems(settings: &IntegrationSettings, environment: Environment) -> Vec<String> {
        let mut problems = Vec::new();
        settings.validate(environment, &mut problems);
        problems
    }

    #[test]
    fn outside_dev_a_missing_weak_or_development_master_key_is_refused() {
        let missing = IntegrationSettings::default();
        assert_eq!(problems(&missing, Environment::Prod).len(), 1);
        assert_eq!(problems(&missing, Environment::Test).len(), 1);
        assert!(problems(&missing, Environment::Dev).is_empty());
        assert_eq!(missing.master_keys(Environment::Dev).len(), 1);
        assert!(missing.master_keys(Environment::Prod).is_empty());

        let development = with_key(DEV_MASTER_KEY);
        assert_eq!(problems(&development, Environment::Prod).len(), 1);
        let repeated = with_key(&STANDARD.encode([7_u8; 32]));
        assert_eq!(problems(&repeated, Environment::Test).len(), 1);
        let short = with_key(&STANDARD.encode([1_u8; 16]));
        assert_eq!(problems(&short, Environment::Dev).len(), 1);
        let random: Vec<u8> = (0_u8..32).map(|i| i.wrapping_mul(37) ^ 0x5a).collect();
        assert!(problems(&with_key(&STANDARD.encode(random)), Environment::Prod).is_empty());
    }

    #[test]
    fn plain_http_and_loopback_targets_are_refused_in_prod() {
        let random: Vec<u8> = (0_u8..32).map(|i| i.wrapping_mul(37) ^ 0x5a).collect();
        let mut settings = with_key(&STANDARD.encode(random));
        settings.allow_loopback = true;
        assert_eq!(problems(&settings, Environment::Prod).len(), 1);
        assert!(problems(&settings, Environment::Test).is_empty());
    }
}
