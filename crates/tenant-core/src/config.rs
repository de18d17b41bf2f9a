//! Layered, typed configuration shared by every service.
//!
//! Sources, lowest priority first:
//! 1. embedded defaults (common ones here, service ones from [`ServiceSettings::DEFAULTS`]),
//!    plus development secrets when `environment` is not `prod`;
//! 2. an optional TOML file: `FAULTLINE_CONFIG` if set (then it must exist), else
//!    `config/<service>.toml` if present;
//! 3. environment variables `FAULTLINE__SECTION__KEY` (always last, so an operator
//!    can override anything without editing files).
//!
//! Everything is validated before a service binds a port: a bad value stops
//! startup with a message naming the key. In `prod`, secrets that are missing,
//! shorter than [`MIN_SECRET_LEN`] bytes or equal to a development default are
//! refused. Secrets are [`SecretString`]s, so they never show up in `Debug`
//! output or logs.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::ServiceSpec;

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

#[derive(Debug, Clone, Deserialize)]
pub struct ServerSettings {
    pub host: String,
    pub port: u16,
    pub admin_host: String,
    pub admin_port: u16,
    /// Defaults to the number of cores.
    pub workers: Option<usize>,
    /// How long in-flight requests may take to finish after SIGTERM.
    pub shutdown_timeout_secs: u64,
    /// How long readiness reports 503 before the listener closes, so load
    /// balancers stop sending traffic first.
    pub drain_delay_ms: u64,
    pub json_body_limit_bytes: usize,
}

impl ServerSettings {
    pub fn shutdown_timeout(&self) -> Duration {
        Duration::from_secs(self.shutdown_timeout_secs)
    }

    pub fn drain_delay(&self) -> Duration {
        Duration::from_millis(self.drain_delay_ms)
    }
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

#[derive(Debug, Clone, Deserialize)]
pub struct DatabaseSettings {
    pub host: String,
    pub port: u16,
    pub name: String,
    /// Runtime role: owns nothing, subject to row level security.
    pub app_user: String,
    pub app_password: Option<SecretString>,
    /// Schema owner: runs migrations only.
    pub owner_user: String,
    pub owner_password: Option<SecretString>,
    pub pool_max_size: usize,
    pub pool_wait_timeout_ms: u64,
    pub connect_timeout_ms: u64,
    pub recycle_timeout_ms: u64,
    pub statement_timeout_ms: u64,
    pub ready_timeout_ms: u64,
    pub migrate_on_start: bool,
}

impl DatabaseSettings {
    pub fn pool_wait_timeout(&self) -> Duration {
        Duration::from_millis(self.pool_wait_timeout_ms)
    }

    pub fn connect_timeout(&self) -> Duration {
        Duration::from_millis(self.connect_timeout_ms)
    }

    pub fn recycle_timeout(&self) -> Duration {
        Duration::from_millis(self.recycle_timeout_ms)
    }

    pub fn ready_timeout(&self) -> Duration {
        Duration::from_millis(self.ready_timeout_ms)
    }

    /// Connection settings for the runtime role.
    pub fn app_connection(&self, application_name: &str) -> tokio_postgres::Config {
        self.connection(&self.app_user, self.app_password.as_ref(), application_name)
    }

    /// Connection settings for the schema owner (migrations).
    pub fn owner_connection(&self, application_name: &str) -> tokio_postgres::Config {
        self.connection(
            &self.owner_user,
            self.owner_password.as_ref(),
            application_name,
        )
    }

    fn connection(
        &self,
        user: &str,
        password: Option<&SecretString>,
        application_name: &str,
    ) -> tokio_postgres::Config {
        let mut config = tokio_postgres::Config::new();
        config
            .host(&self.host)
            .port(self.port)
            .dbname(&self.name)
            .user(user)
            .application_name(application_name)
            .connect_timeout(self.connect_timeout())
            .options(format!(
                "-c statement_timeout={}",
                self.statement_timeout_ms
            ));
        if let Some(password) = password {
            config.password(password.expose_secret());
        }
        config
    }
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
    let layered = |dev_defaults: bool| -> Result<config::Config, ConfigError> {
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
        if dev_defaults {
            builder = builder.set_default(
                format!("internal_token.keys.{DEV_INTERNAL_KEY_ID}"),
                DEV_INTERNAL_KEY,
            )?;
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

    let environment: Environment = layered(false)?.get("environment")?;
    let mut settings: Settings<S> = layered(environment != Environment::Prod)?.try_deserialize()?;
    if spec.schema.is_none() {
        settings.database = None;
    }
    settings.validate(spec)?;
    Ok(settings)
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
    if let Some(path) = std::env::var_os("FAULTLINE_CONFIG") {
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
        ("database.recycle_timeout_ms", "1000".into()),
        ("database.statement_timeout_ms", "15000".into()),
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
        for (kid, secret) in &token.keys {
            check_secret(
                &format!("internal_token.keys.{kid}"),
                Some(secret),
                prod,
                &[DEV_INTERNAL_KEY],
                &mut problems,
            );
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
    let env_name = format!("FAULTLINE__{}", key.replace('.', "__").to_uppercase());
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

#[cfg(test)]
mod tests {
    use super::*;

    static WITH_SCHEMA: ServiceSpec = ServiceSpec {
        name: "config-test",
        schema: Some("failure"),
        migrations: &[],
    };

    fn load(overrides: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let overrides: Vec<(&str, String)> = overrides
            .iter()
            .map(|(k, v)| (*k, (*v).to_owned()))
            .collect();
        load_with_overrides(&WITH_SCHEMA, &overrides)
    }

    const STRONG: &str = "a-production-secret-of-more-than-32-bytes";

    #[test]
    fn dev_starts_with_embedded_defaults() {
        let settings = load(&[]).unwrap();
        assert_eq!(settings.environment, Environment::Dev);
        let database = settings.database.unwrap();
        assert_eq!(database.app_user, "failure_app");
        assert_eq!(database.owner_user, "failure_owner");
    }

    #[test]
    fn prod_with_a_default_secret_refuses_naming_the_key() {
        let error = load(&[
            ("environment", "prod"),
            ("internal_token.keys.dev", DEV_INTERNAL_KEY),
            ("database.app_password", STRONG),
        ])
        .unwrap_err();
        let message = error.to_string();
        assert!(
            message.contains("internal_token.keys.dev is a development default"),
            "{message}"
        );
        assert!(
            message.contains("FAULTLINE__INTERNAL_TOKEN__KEYS__DEV"),
            "{message}"
        );

        let error = load(&[
            ("environment", "prod"),
            ("internal_token.keys.dev", STRONG),
            ("database.app_password", "faultline-dev-failure_app"),
        ])
        .unwrap_err();
        assert!(
            error
                .to_string()
                .contains("database.app_password is a development default"),
            "{error}"
        );
    }

    #[test]
    fn prod_with_missing_or_short_secrets_refuses_naming_each_key() {
        let message = load(&[("environment", "prod")]).unwrap_err().to_string();
        assert!(
            message.contains("internal_token.keys is missing"),
            "{message}"
        );
        assert!(
            message.contains("database.app_password is required in prod"),
            "{message}"
        );

        let message = load(&[
            ("environment", "prod"),
            ("internal_token.keys.dev", "short"),
            ("database.app_password", STRONG),
        ])
        .unwrap_err()
        .to_string();
        assert!(
            message.contains("internal_token.keys.dev is shorter than 32 bytes"),
            "{message}"
        );
    }

    #[test]
    fn prod_with_strong_secrets_starts() {
        let settings = load(&[
            ("environment", "prod"),
            ("internal_token.keys.dev", STRONG),
            ("database.app_password", STRONG),
        ])
        .unwrap();
        assert_eq!(settings.environment, Environment::Prod);
    }

    #[test]
    fn secrets_never_appear_in_debug_output() {
        let settings = load(&[
            ("database.app_password", STRONG),
            ("internal_token.keys.dev", STRONG),
        ])
        .unwrap();
        let debug = format!("{settings:?}");
        assert!(!debug.contains(STRONG), "{debug}");
        assert!(!debug.contains(DEV_INTERNAL_KEY), "{debug}");
    }

    #[test]
    fn invalid_values_are_refused_naming_the_key() {
        let message = load(&[("internal_token.ttl_secs", "3600")])
            .unwrap_err()
            .to_string();
        assert!(message.contains("internal_token.ttl_secs"), "{message}");
        let message = load(&[("internal_token.signing_key_id", "missing")])
            .unwrap_err()
            .to_string();
        assert!(message.contains("signing_key_id `missing`"), "{message}");
        let error = load(&[("server.port", "not-a-port")])
            .unwrap_err()
            .to_string();
        assert!(error.contains("server.port"), "{error}");
    }
}

#[cfg(test)]
mod nested_override_tests {
    use super::*;

    #[derive(Debug, Default, Deserialize)]
    struct Nested {
        upstreams: BTreeMap<String, Upstream>,
    }

    #[derive(Debug, Deserialize)]
    struct Upstream {
        url: String,
        audience: String,
    }

    impl ServiceSettings for Nested {
        const DEFAULTS: &'static str =
            "[upstreams.auth]\nurl = \"http://a\"\naudience = \"auth-service\"\n";
    }

    static SPEC: ServiceSpec = ServiceSpec {
        name: "nested-test",
        schema: None,
        migrations: &[],
    };

    #[test]
    fn overriding_one_key_of_a_table_keeps_its_siblings() {
        let settings: Settings<Nested> = load_with_overrides(
            &SPEC,
            &[("service.upstreams.auth.url", "http://b".to_owned())],
        )
        .unwrap();
        let auth = &settings.service.upstreams["auth"];
        assert_eq!(
            (auth.url.as_str(), auth.audience.as_str()),
            ("http://b", "auth-service")
        );
    }
}
