//! Layered, typed configuration shared by every service.
//!
//! Sources, lowest priority first:
//! 1. embedded defaults (common ones here, service ones from [`ServiceSettings::DEFAULTS`]),
//!    plus development secrets: the role passwords when `environment` is not
//!    `prod`, the internal-token key only in `dev` and only while no key is
//!    configured;
//! 2. an optional TOML file: `FAULTLINE_CONFIG` if set (then it must exist), else
//!    `config/<service>.toml` if present;
//! 3. environment variables `FAULTLINE__SECTION__KEY` (always last, so an operator
//!    can override anything without editing files).
//!
//! Everything is validated before a service binds a port: a bad value stops
//! startup with a message naming the key. In `prod`, secrets that are missing,
//! shorter than [`MIN_SECRET_LEN`] bytes or equal to a development default are
//! refused. The development internal-token key is published in this file, so
//! anyone could sign context tokens with it: it is accepted only in `dev`, and
//! only as the keyring's one key. Secrets are [`SecretString`]s, so they never show up in `Debug`
//! output or logs.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::ServiceSpec;

mod database;
mod server;

/// Secrets shorter than this are refused in production.
pub const MIN_SECRET_LEN: usize = 32;

/// Key id of the development internal-token key.
pub const DEV_INTERNAL_KEY_ID: &str = "dev";
const DEV_INTERNAL_KEY: &str = "faultline-dev-internal-token-key-not-for-production";

const COMMON_DEFAULTS: &str = r#"
environment = "dev"

[server]
host = "127.0.0.1"
port = 8080
admin_host = "127.0.0.1"
admin_port = 9090
shutdown_timeout_secs = 30
drain_delay_ms = 0
json_body_limit_bytes = 1048576
http_enabled = true
max_request_headers = 64
max_request_header_bytes = 32768
client_request_timeout_ms = 5000
body_idle_timeout_ms = 10000
client_disconnect_timeout_ms = 1000
keep_alive_secs = 5

[server.tls]
enabled = false
port = 8443
handshake_timeout_ms = 3000

[telemetry]
log_format = "pretty"
log_filter = "info"

[internal_token]
issuer = "faultline"
signing_key_id = "dev"
ttl_secs = 60
leeway_secs = 5
"#;

/// The password development and test clusters give a service role.
///
/// Only ever accepted outside `prod`; `scripts/postgres.sh` sets the same.
pub fn dev_role_password(role: &str) -> String {
    format!("faultline-dev-{role}")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    Dev,
    Test,
    Prod,
}

/// A service's own settings, found under `[service]`.
pub trait ServiceSettings: DeserializeOwned + Default + fmt::Debug {
    /// Embedded TOML defaults for the `[service]` section (keys without the prefix).
    const DEFAULTS: &'static str = "";

    /// Checks values that cannot be expressed by types alone.
    fn validate(&self, _environment: Environment, _problems: &mut Vec<String>) {}
}

/// For services that have no settings of their own yet.
#[derive(Debug, Default, Deserialize)]
pub struct NoServiceSettings {}

impl ServiceSettings for NoServiceSettings {}

#[derive(Debug, Deserialize)]
pub struct Settings<S = NoServiceSettings> {
    pub environment: Environment,
    pub server: ServerSettings,
    pub telemetry: TelemetrySettings,
    pub internal_token: InternalTokenSettings,
    /// Present for every service that owns a schema.
    pub database: Option<DatabaseSettings>,
    #[serde(default)]
    pub service: S,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Json,
    Pretty,
}

#[derive(Debug, Clone, Deserialize)]
pub struct TelemetrySettings {
    pub log_format: LogFormat,
    /// `tracing` env-filter directives, e.g. `info,tenant_core=debug`.
    pub log_filter: String,
    /// OTLP/HTTP endpoint (e.g. `http://collector:4318`); tracing export is off when unset.
    pub otlp_endpoint: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct InternalTokenSettings {
    pub issuer: String,
    /// Which entry of `keys` signs new tokens; the others only verify (rotation).
    pub signing_key_id: String,
    #[serde(default)]
    pub keys: BTreeMap<String, SecretString>,
    pub ttl_secs: u64,
    pub leeway_secs: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration could not be read: {0}")]
    Load(#[from] config::ConfigError),
    #[error("FAULTLINE_CONFIG points to {0}, which does not exist")]
    MissingFile(PathBuf),
    #[error("invalid configuration:\n  - {}", .0.join("\n  - "))]
    Invalid(Vec<String>),
}

/// Loads settings from the standard sources (see the module docs).
pub fn load<S: ServiceSettings>(spec: &ServiceSpec) -> Result<Settings<S>, ConfigError> {
    load_with_overrides(spec, &[])
}

/// Loads settings, then applies `overrides` (`("server.port", "0")`) above
/// every other source. Tests use it to point a service at their own database.
pub fn load_with_overrides<S: ServiceSettings>(
    spec: &ServiceSpec,
    overrides: &[(&str, String)],
) -> Result<Settings<S>, ConfigError> {
    let file = config_file(spec)?;
    let layered = |dev_defaults: DevDefaults| -> Result<config::Config, ConfigError> {
        // Defaults go in key by key, so an override of one key in a table
        // (`service.upstreams.auth.url`) keeps its siblings.
        let mut builder = config::Config::builder();
        for (prefix, text) in [("", COMMON_DEFAULTS), ("service", S::DEFAULTS)] {
            let defaults = config::Config::builder()
                .add_source(config::File::from_str(text, config::FileFormat::Toml))
                .build()?
                .try_deserialize::<config::Map<String, config::Value>>()?;
            for (key, value) in flatten(prefix.to_owned(), defaults) {
                builder = builder.set_default(key, value)?;
            }
        }
        // Services without a schema get the defaults too, so database
        // settings from a shared environment still parse; they are dropped
        // after loading.
        for (key, value) in database_defaults(spec.schema.unwrap_or("unused")) {
            builder = builder.set_default(key, value)?;
        }
        if dev_defaults.internal_key {
            builder = builder.set_default(
                format!("internal_token.keys.{DEV_INTERNAL_KEY_ID}"),
                DEV_INTERNAL_KEY,
            )?;
        }
        if dev_defaults.role_passwords {
            if let Some(schema) = spec.schema {
                builder = builder
                    .set_default(
                        "database.app_password",
                        dev_role_password(&format!("{schema}_app")),
                    )?
                    .set_default(
                        "database.owner_password",
                        dev_role_password(&format!("{schema}_owner")),
                    )?;
            }
        }
        if let Some(path) = &file {
            builder = builder.add_source(config::File::from(path.as_path()));
        }
        builder = builder.add_source(
            config::Environment::with_prefix("FAULTLINE")
                .prefix_separator("__")
                .separator("__")
                .try_parsing(true),
        );
        for (key, value) in overrides {
            builder = builder.set_override(*key, value.as_str())?;
        }
        Ok(builder.build()?)
    };

    let configured = layered(DevDefaults::NONE)?;
    let environment: Environment = configured.get("environment")?;
    let keys_configured = configured
        .get_table("internal_token.keys")
        .is_ok_and(|keys| !keys.is_empty());
    let mut settings: Settings<S> = layered(DevDefaults {
        internal_key: environment == Environment::Dev && !keys_configured,
        role_passwords: environment != Environment::Prod,
    })?
    .try_deserialize()?;
    if spec.schema.is_none() {
        settings.database = None;
    }
    settings.validate(spec)?;
    Ok(settings)
}

/// Which development secrets the embedded defaults supply.
#[derive(Debug, Clone, Copy)]
struct DevDefaults {
    /// The published internal-token key: only in `dev`, and only while no
    /// key is configured, so it never sits in a keyring beside real keys.
    internal_key: bool,
    /// The role passwords `scripts/postgres.sh` sets: outside `prod`.
    role_passwords: bool,
}

impl DevDefaults {
    const NONE: Self = Self {
        internal_key: false,
        role_passwords: false,
    };
}

/// `{a: {b: 1}}` -> `[("a.b", 1)]`; arrays are leaves.
fn flatten(
    prefix: String,
    table: config::Map<String, config::Value>,
) -> Vec<(String, config::Value)> {
    let mut out = Vec::new();
    for (key, value) in table {
        let path = if prefix.is_empty() {
            key
        } else {
            format!("{prefix}.{key}")
        };
        match value.clone().into_table() {
            Ok(inner) if !inner.is_empty() => out.extend(flatten(path, inner)),
            _ => out.push((path, value)),
        }
    }
    out
}

fn config_file(spec: &ServiceSpec) -> Result<Option<PathBuf>, ConfigError> {
    #[expect(
        clippy::disallowed_methods,
        reason = "the one place the configuration file is located, before settings exist"
    )]
    let chosen = std::env::var_os("FAULTLINE_CONFIG");
    if let Some(path) = chosen {
        let path = PathBuf::from(path);
        return if path.is_file() {
            Ok(Some(path))
        } else {
            Err(ConfigError::MissingFile(path))
        };
    }
    let conventional = PathBuf::from(format!("config/{}.toml", spec.name));
    Ok(conventional.is_file().then_some(conventional))
}

fn database_defaults(schema: &str) -> Vec<(&'static str, String)> {
    vec![
        ("database.host", "127.0.0.1".into()),
        ("database.port", "5432".into()),
        ("database.name", "faultline".into()),
        ("database.app_user", format!("{schema}_app")),
        ("database.owner_user", format!("{schema}_owner")),
        ("database.pool_max_size", "16".into()),
        ("database.pool_wait_timeout_ms", "2000".into()),
        ("database.connect_timeout_ms", "2000".into()),
        ("database.statement_timeout_ms", "15000".into()),
        ("database.jit", "false".into()),
        ("database.plan_cache_mode", "force_custom_plan".into()),
        ("database.ready_timeout_ms", "1000".into()),
        ("database.migrate_on_start", "false".into()),
    ]
}

impl<S: ServiceSettings> Settings<S> {
    fn validate(&self, spec: &ServiceSpec) -> Result<(), ConfigError> {
        let mut problems = Vec::new();
        let prod = self.environment == Environment::Prod;

        if self.server.json_body_limit_bytes == 0 {
            problems.push("server.json_body_limit_bytes must be greater than 0".into());
        }
        if self.server.workers == Some(0) {
            problems.push("server.workers must be greater than 0 when set".into());
        }
        if self.server.port != 0 && self.server.port == self.server.admin_port {
            problems.push("server.admin_port must differ from server.port".into());
        }
        self.server.validate_listeners(&mut problems);
        if let Err(error) = self
            .telemetry
            .log_filter
            .parse::<tracing_subscriber::EnvFilter>()
        {
            problems.push(format!(
                "telemetry.log_filter is not a valid filter: {error}"
            ));
        }

        let token = &self.internal_token;
        if !(1..=60).contains(&token.ttl_secs) {
            problems.push("internal_token.ttl_secs must be between 1 and 60".into());
        }
        if token.keys.is_empty() {
            problems.push(
                "internal_token.keys is missing: set FAULTLINE__INTERNAL_TOKEN__KEYS__<KID>".into(),
            );
        } else if !token.keys.contains_key(&token.signing_key_id) {
            problems.push(format!(
                "internal_token.signing_key_id `{}` has no entry in internal_token.keys",
                token.signing_key_id
            ));
        }
        // Only a development keyring may hold the published key: anywhere
        // else, or beside a real key, it would let anyone who can reach a
        // service sign a context token it accepts.
        let dev_key_allowed = self.environment == Environment::Dev && token.keys.len() == 1;
        for (kid, secret) in &token.keys {
            let key = format!("internal_token.keys.{kid}");
            if secret.expose_secret() == DEV_INTERNAL_KEY && !dev_key_allowed {
                let place = match self.environment {
                    Environment::Dev => "beside other keys",
                    Environment::Test => "in test",
                    Environment::Prod => "in prod",
                };
                problems.push(format!(
                    "{key} is a development default and is refused {place}: set {}",
                    env_name(&key)
                ));
                continue;
            }
            check_secret(&key, Some(secret), prod, &[], &mut problems);
        }

        match (&self.database, spec.schema) {
            (None, Some(_)) => problems.push("database settings are missing".into()),
            (Some(db), Some(schema)) => {
                if db.pool_max_size == 0 {
                    problems.push("database.pool_max_size must be greater than 0".into());
                }
                check_secret(
                    "database.app_password",
                    db.app_password.as_ref(),
                    prod,
                    &[&dev_role_password(&format!("{schema}_app"))],
                    &mut problems,
                );
                // The owner password is only needed where migrations run.
                if db.migrate_on_start || db.owner_password.is_some() {
                    check_secret(
                        "database.owner_password",
                        db.owner_password.as_ref(),
                        prod,
                        &[&dev_role_password(&format!("{schema}_owner"))],
                        &mut problems,
                    );
                }
            }
            (_, None) => {}
        }

        self.service.validate(self.environment, &mut problems);

        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::Invalid(problems))
        }
    }
}

/// The environment variable that sets `key`.
fn env_name(key: &str) -> String {
    format!("FAULTLINE__{}", key.replace('.', "__").to_uppercase())
}

/// Outside production a missing secret is tolerated (local trust auth);
/// in production it must be present, long and not a published default.
fn check_secret(
    key: &str,
    secret: Option<&SecretString>,
    prod: bool,
    dev_defaults: &[&str],
    problems: &mut Vec<String>,
) {
    if !prod {
        return;
    }
    let env_name = env_name(key);
    match secret.map(ExposeSecret::expose_secret) {
        None => problems.push(format!("{key} is required in prod: set {env_name}")),
        Some(value) if dev_defaults.contains(&value) => problems.push(format!(
            "{key} is a development default and is refused in prod: set {env_name}"
        )),
        Some(value) if value.len() < MIN_SECRET_LEN => problems.push(format!(
            "{key} is shorter than {MIN_SECRET_LEN} bytes and is refused in prod: set {env_name}"
        )),
        Some(_) => {}
    }
}

pub use database::{DatabaseSettings, PlanCacheMode};
pub use server::{ServerSettings, TlsError, TlsSettings, TrustedProxies};

#[cfg(test)]
mod tests;
