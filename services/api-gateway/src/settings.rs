//! The gateway's own settings (`[service]`).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;
use tenant_core::config::{Environment, ServiceSettings};

#[derive(Debug, Clone, Deserialize)]
pub struct Upstream {
    pub url: String,
    /// The service name the upstream verifies context tokens against.
    pub audience: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct GatewaySettings {
    /// The route table; the built-in `deploy/config/routes.toml` when unset.
    pub routes_file: Option<String>,
    /// Where backends live, by the names the route table uses.
    #[serde(default)]
    pub upstreams: BTreeMap<String, Upstream>,
    /// Which upstream publishes the JWKS and introspects API keys.
    pub auth_upstream: String,
    /// Which upstream answers access questions.
    pub project_upstream: String,
    /// Which upstream serves the web dashboard: every path outside `/api`
    /// and `/internal` goes there. Unset, those paths answer 404.
    #[serde(default)]
    pub pages_upstream: Option<String>,
    /// Version for unversioned `/api/...` paths without a vendor media type.
    pub default_version: u32,

    pub token_issuer: String,
    pub token_audience: String,
    pub token_leeway_secs: u64,
    pub max_token_bytes: usize,
    /// An unknown `kid` refetches the JWKS at most this often.
    pub jwks_refetch_interval_secs: u64,
    /// The JWKS is refreshed this often regardless.
    pub jwks_refresh_secs: u64,
    pub verified_token_cache_size: usize,

    pub api_key_cache_secs: u64,
    pub api_key_negative_cache_secs: u64,
    pub api_key_cache_size: usize,

    pub access_cache_secs: u64,
    pub access_cache_size: usize,
    /// How often the project service's change sequence and the auth
    /// service's session revocations are polled.
    pub poll_interval_ms: u64,

    pub connect_timeout_ms: u64,
    pub internal_call_timeout_ms: u64,
    /// Consecutive transport failures that open an upstream's breaker.
    pub breaker_failure_threshold: u32,
    /// How long an open breaker refuses before letting one probe through.
    pub breaker_open_ms: u64,

    /// Requests per minute for a principal on routes without a project.
    pub principal_rate_per_minute: u32,
    /// How many requests a principal may send at once.
    pub principal_burst: u32,
    /// Requests per minute without credentials (sign-up, log-in, refresh)
    /// from one client address (an IPv6 /64), weighed by `rate_cost`.
    pub anonymous_rate_per_minute: u32,
    pub anonymous_burst: u32,
    /// The same for every address together: a ceiling that keeps a
    /// distributed flood from queueing up the auth service's password
    /// hashing. Size it to what the auth replicas can hash.
    pub anonymous_global_rate_per_minute: u32,
    pub anonymous_global_burst: u32,
    /// Redis for limits shared by every gateway replica; in-memory when unset.
    pub redis_url: Option<String>,
    /// Slower Redis answers count as failures (local fallback).
    pub redis_timeout_ms: u64,
    /// Gateway replicas sharing the limits; without Redis each enforces its share.
    pub replicas: u32,
    /// Origins allowed for CORS; none by default. A list, or one
    /// comma-separated string (as an environment variable gives it).
    #[serde(default, deserialize_with = "list_or_comma_separated")]
    pub cors_allowed_origins: Vec<String>,
}

/// Cached access answers, API key principals and session states stay in
/// use while their feed was read within this many poll intervals (at least
/// 2 s); after that every request asks the owning service again until the
/// feed answers.
const FEED_POLLS_TRUSTED: u32 = 5;

impl GatewaySettings {
    /// How long the background feeds wait between polls when idle.
    pub fn poll_interval(&self) -> Duration {
        Duration::from_millis(self.poll_interval_ms.max(50))
    }

    /// How long after its last complete read a feed's caches are trusted.
    pub fn feed_trusted_for(&self) -> Duration {
        (self.poll_interval() * FEED_POLLS_TRUSTED).max(Duration::from_secs(2))
    }
}

fn list_or_comma_separated<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum ListOrString {
        List(Vec<String>),
        String(String),
    }
    Ok(match ListOrString::deserialize(deserializer)? {
        ListOrString::List(list) => list,
        ListOrString::String(text) => text
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
    })
}

impl ServiceSettings for GatewaySettings {
    const DEFAULTS: &'static str = r#"
auth_upstream = "auth"
project_upstream = "project"
default_version = 1
token_issuer = "faultline"
token_audience = "faultline-api"
token_leeway_secs = 30
max_token_bytes = 8192
jwks_refetch_interval_secs = 30
jwks_refresh_secs = 300
verified_token_cache_size = 100000
api_key_cache_secs = 30
api_key_negative_cache_secs = 10
api_key_cache_size = 50000
access_cache_secs = 300
access_cache_size = 100000
poll_interval_ms = 1000
connect_timeout_ms = 2000
internal_call_timeout_ms = 2000
breaker_failure_threshold = 5
breaker_open_ms = 5000
principal_rate_per_minute = 600
principal_burst = 120
anonymous_rate_per_minute = 120
anonymous_burst = 60
anonymous_global_rate_per_minute = 6000
anonymous_global_burst = 1000
redis_timeout_ms = 20
replicas = 1

[upstreams.auth]
url = "http://127.0.0.1:7401"
audience = "auth-service"

[upstreams.project]
url = "http://127.0.0.1:7402"
audience = "project-service"

[upstreams.failure]
url = "http://127.0.0.1:7403"
audience = "failure-service"

[upstreams.analytics]
url = "http://127.0.0.1:7404"
audience = "analytics-service"

[upstreams.integration]
url = "http://127.0.0.1:7405"
audience = "integration-gateway"

[upstreams.web]
url = "http://127.0.0.1:7406"
audience = "web-service"
"#;

    fn validate(&self, _environment: Environment, problems: &mut Vec<String>) {
        for name in [&self.auth_upstream, &self.project_upstream]
            .into_iter()
            .chain(self.pages_upstream.as_ref())
        {
            if !self.upstreams.contains_key(name) {
                problems.push(format!("service.upstreams.{name} is not configured"));
            }
        }
        for (name, upstream) in &self.upstreams {
            if let Err(problem) = crate::upstream::Origin::parse(&upstream.url) {
                problems.push(format!("service.upstreams.{name}.url {problem}"));
            }
        }
        if self.max_token_bytes == 0 || self.max_token_bytes > 65_536 {
            problems.push("service.max_token_bytes must be between 1 and 65536".into());
        }
        for (name, value) in [
            ("principal_rate_per_minute", self.principal_rate_per_minute),
            ("principal_burst", self.principal_burst),
            ("anonymous_rate_per_minute", self.anonymous_rate_per_minute),
            ("anonymous_burst", self.anonymous_burst),
            (
                "anonymous_global_rate_per_minute",
                self.anonymous_global_rate_per_minute,
            ),
            ("anonymous_global_burst", self.anonymous_global_burst),
        ] {
            if value == 0 {
                problems.push(format!("service.{name} must be greater than 0"));
            }
        }
        if self.anonymous_global_rate_per_minute < self.anonymous_rate_per_minute
            || self.anonymous_global_burst < self.anonymous_burst
        {
            problems.push(
                "service.anonymous_global_rate_per_minute and service.anonymous_global_burst \
                 must be at least the per-address service.anonymous_rate_per_minute and \
                 service.anonymous_burst"
                    .into(),
            );
        }
        if self.cors_allowed_origins.iter().any(|origin| origin == "*") {
            problems.push("service.cors_allowed_origins must list origins, not `*`".into());
        }
    }
}

#[cfg(test)]
mod tests {
    use tenant_core::config::load_with_overrides;

    use super::*;

    fn load(overrides: &[(&str, &str)]) -> Result<GatewaySettings, String> {
        let overrides: Vec<(&str, String)> = overrides
            .iter()
            .map(|(key, value)| (*key, (*value).to_owned()))
            .collect();
        load_with_overrides::<GatewaySettings>(&crate::SPEC, &overrides)
            .map(|settings| settings.service)
            .map_err(|error| error.to_string())
    }

    #[test]
    fn callers_without_credentials_are_limited_by_default_and_the_ceiling_is_above_one_address() {
        let defaults = load(&[]).unwrap();
        assert_eq!(
            (defaults.anonymous_rate_per_minute, defaults.anonymous_burst),
            (120, 60)
        );
        assert_eq!(
            (
                defaults.anonymous_global_rate_per_minute,
                defaults.anonymous_global_burst
            ),
            (6000, 1000)
        );

        let zero = load(&[("service.anonymous_burst", "0")]).unwrap_err();
        assert!(
            zero.contains("service.anonymous_burst must be greater than 0"),
            "{zero}"
        );
        let below = load(&[("service.anonymous_global_rate_per_minute", "100")]).unwrap_err();
        assert!(
            below.contains("service.anonymous_global_rate_per_minute"),
            "{below}"
        );
    }
}
