//! The auth service's own settings (`[service]`).

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use tenant_core::config::{Environment, ServiceSettings};

/// Used only outside `prod`, where no master key needs to be configured.
pub const DEV_MASTER_KEY: &str = "ZmF1bHRsaW5lLWRldi1tYXN0ZXIta2V5LTMyYnl0ZXM=";
pub const DEV_MASTER_KEY_ID: &str = "dev";

#[derive(Debug, Default, Deserialize)]
pub struct AuthSettings {
    /// `iss` of access tokens.
    pub issuer: String,
    /// `aud` of access tokens: the gateway checks it.
    pub audience: String,
    pub access_token_ttl_secs: i64,
    /// Leeway verifiers allow; keys stay published this much longer.
    pub token_leeway_secs: i64,
    pub refresh_idle_days: i64,
    pub refresh_family_days: i64,
    /// A rotated refresh token replayed this soon after its rotation by a
    /// concurrent client gets the current token instead of a revocation.
    pub refresh_grace_secs: i64,
    /// `Cache-Control: max-age` of the JWKS; a new key is published for two
    /// of these before it signs.
    pub jwks_max_age_secs: i64,
    pub key_rotation_days: i64,
    /// How often the keyring is reloaded from the database.
    pub keyring_refresh_secs: u64,
    /// Which entry of `master_keys` encrypts new private keys.
    pub master_key_id: String,
    /// Base64 of 32 random bytes each; older ids keep decrypting old keys.
    #[serde(default)]
    pub master_keys: BTreeMap<String, SecretString>,
    /// Concurrent argon2 computations (19 MiB each).
    pub password_hashing_concurrency: usize,
    /// Failed sign-ins of one account within `throttle_window_secs` that
    /// lock it, first for `throttle_base_backoff_secs`, doubling with each
    /// further failure up to `throttle_max_backoff_secs`.
    pub throttle_max_failures: i32,
    pub throttle_base_backoff_secs: i64,
    pub throttle_max_backoff_secs: i64,
    /// How long a failed sign-in counts.
    pub throttle_window_secs: i64,
    pub api_key_max_days: i64,
}

impl ServiceSettings for AuthSettings {
    const DEFAULTS: &'static str = r#"
issuer = "faultline"
audience = "faultline-api"
access_token_ttl_secs = 600
token_leeway_secs = 30
refresh_idle_days = 14
refresh_family_days = 60
refresh_grace_secs = 5
jwks_max_age_secs = 300
key_rotation_days = 90
keyring_refresh_secs = 30
master_key_id = "dev"
password_hashing_concurrency = 2
throttle_max_failures = 5
throttle_base_backoff_secs = 30
throttle_max_backoff_secs = 900
throttle_window_secs = 900
api_key_max_days = 365
"#;

    fn validate(&self, environment: Environment, problems: &mut Vec<String>) {
        if !(60..=3600).contains(&self.access_token_ttl_secs) {
            problems.push("service.access_token_ttl_secs must be between 60 and 3600".into());
        }
        if self.password_hashing_concurrency == 0 {
            problems.push("service.password_hashing_concurrency must be at least 1".into());
        }
        if self.throttle_max_failures < 1
            || self.throttle_base_backoff_secs < 1
            || self.throttle_window_secs < 1
        {
            problems.push("service.throttle_* values must be positive".into());
        }
        if self.throttle_max_backoff_secs < self.throttle_base_backoff_secs {
            problems.push(
                "service.throttle_max_backoff_secs must be at least service.throttle_base_backoff_secs"
                    .into(),
            );
        }
        if self.refresh_idle_days < 1 || self.refresh_family_days < self.refresh_idle_days {
            problems.push(
                "service.refresh_family_days must be at least service.refresh_idle_days (>= 1)"
                    .into(),
            );
        }
        for (id, key) in &self.master_keys {
            if decode_master_key(key.expose_secret()).is_none() {
                problems.push(format!(
                    "service.master_keys.{id} must be base64 of exactly 32 bytes"
                ));
            }
        }
        if environment == Environment::Prod {
            match self.master_keys.get(&self.master_key_id) {
                None => problems.push(format!(
                    "service.master_keys.{} is required in prod: set FAULTLINE__SERVICE__MASTER_KEYS__{}",
                    self.master_key_id,
                    self.master_key_id.to_uppercase()
                )),
                Some(key) if key.expose_secret() == DEV_MASTER_KEY => problems.push(format!(
                    "service.master_keys.{} is the development key and is refused in prod",
                    self.master_key_id
                )),
                Some(_) => {}
            }
        }
    }
}

impl AuthSettings {
    /// The master keys in force: configured ones, plus the development key
    /// outside prod when none is configured under the current id.
    pub fn master_keys(&self, environment: Environment) -> Vec<(String, [u8; 32])> {
        let mut keys: Vec<(String, [u8; 32])> = self
            .master_keys
            .iter()
            .filter_map(|(id, key)| Some((id.clone(), decode_master_key(key.expose_secret())?)))
            .collect();
        let has_current = keys.iter().any(|(id, _)| *id == self.master_key_id);
        if !has_current
            && environment != Environment::Prod
            && let Some(dev) = decode_master_key(DEV_MASTER_KEY)
        {
            keys.push((self.master_key_id.clone(), dev));
        }
        keys
    }
}

fn decode_master_key(encoded: &str) -> Option<[u8; 32]> {
    STANDARD.decode(encoded.trim()).ok()?.try_into().ok()
}

#[cfg(test)]
mod tests {
    use tenant_core::ServiceSpec;
    use tenant_core::config::load_with_overrides;

    use super::*;

    static AUTH: ServiceSpec = ServiceSpec {
        name: "auth-settings-test",
        schema: Some("auth"),
        migrations: &[],
    };
    const STRONG: &str = "a-production-secret-of-more-than-32-bytes";

    fn prod(extra: &[(&str, &str)]) -> Result<tenant_core::config::Settings<AuthSettings>, String> {
        let mut overrides: Vec<(&str, String)> = vec![
            ("environment", "prod".to_owned()),
            ("internal_token.keys.dev", STRONG.to_owned()),
            ("database.app_password", STRONG.to_owned()),
        ];
        overrides.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
        load_with_overrides(&AUTH, &overrides).map_err(|e| e.to_string())
    }

    #[test]
    fn prod_needs_a_real_master_key() {
        let missing = prod(&[]).unwrap_err();
        assert!(
            missing.contains("service.master_keys.dev is required in prod"),
            "{missing}"
        );
        let dev = prod(&[("service.master_keys.dev", DEV_MASTER_KEY)]).unwrap_err();
        assert!(dev.contains("is the development key"), "{dev}");
        let short = prod(&[("service.master_keys.dev", "c2hvcnQ=")]).unwrap_err();
        assert!(short.contains("exactly 32 bytes"), "{short}");
        let real = STANDARD.encode([42_u8; 32]);
        let settings = prod(&[("service.master_keys.dev", &real)]).unwrap();
        assert_eq!(settings.service.master_keys(Environment::Prod).len(), 1);
    }

    #[test]
    fn outside_prod_the_development_master_key_fills_in() {
        let settings = load_with_overrides::<AuthSettings>(&AUTH, &[]).unwrap();
        let keys = settings.service.master_keys(Environment::Dev);
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].0, "dev");
    }
}
