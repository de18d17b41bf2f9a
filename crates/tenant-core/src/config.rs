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
use std::net::IpAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
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
http_enabled = true
max_request_headers = 64
max_request_header_bytes = 32768
client_request_timeout_ms = 5000
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
    /// Whether the public listener speaks plain HTTP on `port` (for
    /// deployments behind an ingress that terminates TLS). It and
    /// `tls.enabled` cannot both be off.
    pub http_enabled: bool,
    /// HTTPS on the public routes.
    pub tls: TlsSettings,
    /// Most header fields a request may carry; more is 431
    /// `request.headers_too_large`. At most [`HARD_MAX_REQUEST_HEADERS`].
    pub max_request_headers: usize,
    /// Most bytes all header fields of a request may take together, each
    /// counted as `name: value` plus its line end; more is 431.
    pub max_request_header_bytes: usize,
    /// How long a client has to send the head of its first request on a
    /// connection; 408 and the connection closes after that.
    pub client_request_timeout_ms: u64,
    /// How long a client has to acknowledge the close of its connection
    /// before it is dropped; 0 drops it at once.
    pub client_disconnect_timeout_ms: u64,
    /// How long an idle keep-alive connection stays open; 0 turns keep-alive off.
    pub keep_alive_secs: u64,
    /// The proxies in front of this listener (an ingress controller, a load
    /// balancer) whose `X-Forwarded-For` entries are believed. Only the
    /// gateway, the one service reached from outside, reads it.
    #[serde(default)]
    pub trusted_proxies: TrustedProxies,
}

/// `server.trusted_proxies`: networks (`10.0.0.0/8`) or single addresses,
/// as a list or one comma-separated string (as an environment variable
/// gives it). Empty by default: nothing is trusted and a client is its TCP
/// peer, so no client can name its own address.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<ipnet::IpNet>);

impl TrustedProxies {
    pub fn contains(&self, address: IpAddr) -> bool {
        let address = address.to_canonical();
        self.0.iter().any(|network| network.contains(&address))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn parse_entry(entry: &str) -> Option<ipnet::IpNet> {
        entry
            .parse::<ipnet::IpNet>()
            .ok()
            .or_else(|| entry.parse::<IpAddr>().ok().map(ipnet::IpNet::from))
            .map(|network| network.trunc())
    }
}

impl FromStr for TrustedProxies {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        text.split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(|entry| {
                Self::parse_entry(entry).ok_or_else(|| {
                    format!(
                        "server.trusted_proxies: `{entry}` is neither an address nor a network \
                         such as 10.0.0.0/8"
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
    }
}

impl<'de> Deserialize<'de> for TrustedProxies {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum ListOrString {
            List(Vec<String>),
            String(String),
        }
        let text = match ListOrString::deserialize(deserializer)? {
            ListOrString::List(list) => list.join(","),
            ListOrString::String(text) => text,
        };
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// The most header fields actix-http parses in an HTTP/1 request head;
/// beyond it actix answers 431 itself, with an empty body.
pub const HARD_MAX_REQUEST_HEADERS: usize = 96;

/// Upper bound of `server.max_request_header_bytes`, well below the 128 KiB
/// request head actix-http buffers at most (beyond which it answers 431
/// itself, with an empty body).
pub const HARD_MAX_REQUEST_HEADER_BYTES: usize = 65_536;

impl ServerSettings {
    pub fn shutdown_timeout(&self) -> Duration {
        Duration::from_secs(self.shutdown_timeout_secs)
    }

    pub fn drain_delay(&self) -> Duration {
        Duration::from_millis(self.drain_delay_ms)
    }

    pub fn client_request_timeout(&self) -> Duration {
        Duration::from_millis(self.client_request_timeout_ms)
    }

    pub fn client_disconnect_timeout(&self) -> Duration {
        Duration::from_millis(self.client_disconnect_timeout_ms)
    }

    /// `None` when keep-alive is off.
    pub fn keep_alive(&self) -> Option<Duration> {
        (self.keep_alive_secs > 0).then(|| Duration::from_secs(self.keep_alive_secs))
    }
}

/// `[server.tls]`: an HTTPS listener for the public routes, beside (or
/// instead of) the plain one. The admin listener is always plain HTTP.
#[derive(Debug, Clone, Deserialize)]
pub struct TlsSettings {
    pub enabled: bool,
    /// Port of the HTTPS listener, on `server.host`; `0` picks a free port.
    pub port: u16,
    /// PEM file with the certificate chain, leaf first.
    pub cert_path: Option<PathBuf>,
    /// PEM file with the private key (PKCS#8, PKCS#1 or SEC1).
    pub key_path: Option<PathBuf>,
    /// How long a client has to complete the TLS handshake.
    pub handshake_timeout_ms: u64,
}

/// Why the TLS certificate or key cannot be used; each names its key.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{key} is required when server.tls.enabled is true")]
    Missing { key: &'static str },
    #[error("{key}: cannot read {}: {source}", path.display())]
    Unreadable {
        key: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{key}: {} is not valid PEM: {reason}", path.display())]
    NotPem {
        key: &'static str,
        path: PathBuf,
        reason: String,
    },
    #[error("{key}: {} holds no {what}", path.display())]
    Empty {
        key: &'static str,
        path: PathBuf,
        what: &'static str,
    },
    #[error(
        "server.tls.key_path and server.tls.cert_path do not make a usable pair \
         (unsupported key, unparsable certificate, or a key that does not match it): {0}"
    )]
    Pair(#[source] rustls::Error),
}

impl TlsSettings {
    pub fn handshake_timeout(&self) -> Duration {
        Duration::from_millis(self.handshake_timeout_ms)
    }

    /// Reads the certificate chain and key and builds the rustls server
    /// configuration (aws-lc-rs provider, TLS 1.2 and 1.3, ALPN added by
    /// actix). Used by validation and again by the host when it binds.
    pub fn server_config(&self) -> Result<rustls::ServerConfig, TlsError> {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};

        const CERT: &str = "server.tls.cert_path";
        const KEY: &str = "server.tls.key_path";
        let read = |key: &'static str, path: Option<&PathBuf>| {
            let path = path.ok_or(TlsError::Missing { key })?;
            std::fs::read(path)
                .map(|bytes| (path.clone(), bytes))
                .map_err(|source| TlsError::Unreadable {
                    key,
                    path: path.clone(),
                    source,
                })
        };
        let not_pem = |key: &'static str, path: &PathBuf, error: rustls::pki_types::pem::Error| {
            TlsError::NotPem {
                key,
                path: path.clone(),
                reason: error.to_string(),
            }
        };

        let (cert_path, cert_pem) = read(CERT, self.cert_path.as_ref())?;
        let chain = CertificateDer::pem_slice_iter(&cert_pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|error| not_pem(CERT, &cert_path, error))?;
        if chain.is_empty() {
            return Err(TlsError::Empty {
                key: CERT,
                path: cert_path,
                what: "CERTIFICATE block",
            });
        }
        let (key_path, key_pem) = read(KEY, self.key_path.as_ref())?;
        let private_key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|error| match error {
            rustls::pki_types::pem::Error::NoItemsFound => TlsError::Empty {
                key: KEY,
                path: key_path.clone(),
                what: "PRIVATE KEY block",
            },
            error => not_pem(KEY, &key_path, error),
        })?;

        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(TlsError::Pair)?
            .with_no_client_auth()
            .with_single_cert(chain, private_key)
            .map_err(TlsError::Pair)
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

impl ServerSettings {
    fn validate_listeners(&self, problems: &mut Vec<String>) {
        let tls = &self.tls;
        if !self.http_enabled && !tls.enabled {
            problems.push(
                "server.http_enabled and server.tls.enabled are both false: \
                 the service would have no public listener"
                    .into(),
            );
        }
        if tls.enabled {
            if tls.port != 0
                && (tls.port == self.admin_port || (self.http_enabled && tls.port == self.port))
            {
                problems.push(
                    "server.tls.port must differ from server.port and server.admin_port".into(),
                );
            }
            if tls.handshake_timeout_ms == 0 {
                problems.push("server.tls.handshake_timeout_ms must be greater than 0".into());
            }
            // Files readable, PEM parses, key matches the certificate.
            if let Err(error) = tls.server_config() {
                problems.push(error.to_string());
            }
        }
        if !(1..=HARD_MAX_REQUEST_HEADERS).contains(&self.max_request_headers) {
            problems.push(format!(
                "server.max_request_headers must be between 1 and {HARD_MAX_REQUEST_HEADERS}"
            ));
        }
        if !(1024..=HARD_MAX_REQUEST_HEADER_BYTES).contains(&self.max_request_header_bytes) {
            problems.push(format!(
                "server.max_request_header_bytes must be between 1024 and {HARD_MAX_REQUEST_HEADER_BYTES}"
            ));
        }
        if self.client_request_timeout_ms == 0 {
            problems.push(
                "server.client_request_timeout_ms must be greater than 0 (0 would let slow clients hold connections forever)"
                    .into(),
            );
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
    fn in_dev_a_configured_key_keeps_the_development_key_out_of_the_keyring() {
        let alone = load(&[]).unwrap().internal_token.keys;
        assert_eq!(alone.keys().collect::<Vec<_>>(), ["dev"]);

        let settings = load(&[
            ("internal_token.keys.blue", STRONG),
            ("internal_token.signing_key_id", "blue"),
        ])
        .unwrap();
        assert_eq!(settings.environment, Environment::Dev);
        assert_eq!(
            settings.internal_token.keys.keys().collect::<Vec<_>>(),
            ["blue"]
        );

        let message = load(&[
            ("internal_token.keys.blue", STRONG),
            ("internal_token.keys.dev", DEV_INTERNAL_KEY),
            ("internal_token.signing_key_id", "blue"),
        ])
        .unwrap_err()
        .to_string();
        assert!(
            message.contains(
                "internal_token.keys.dev is a development default and is refused beside other keys"
            ),
            "{message}"
        );
    }

    #[test]
    fn outside_dev_the_development_key_is_neither_supplied_nor_accepted() {
        let message = load(&[("environment", "test")]).unwrap_err().to_string();
        assert!(
            message.contains("internal_token.keys is missing"),
            "{message}"
        );
        let message = load(&[
            ("environment", "test"),
            ("internal_token.keys.dev", DEV_INTERNAL_KEY),
        ])
        .unwrap_err()
        .to_string();
        assert!(
            message.contains(
                "internal_token.keys.dev is a development default and is refused in test"
            ),
            "{message}"
        );
        let settings = load(&[
            ("environment", "test"),
            ("internal_token.keys.dev", "a key of the test suite's own"),
        ])
        .unwrap();
        assert_eq!(settings.internal_token.keys.len(), 1);
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
    fn listeners_default_to_plain_http_only_with_limits_and_timeouts() {
        let server = load(&[]).unwrap().server;
        assert!(server.http_enabled);
        assert!(!server.tls.enabled);
        assert_eq!(server.tls.port, 8443);
        assert_eq!(
            (server.max_request_headers, server.max_request_header_bytes),
            (64, 32768)
        );
        assert_eq!(server.client_request_timeout(), Duration::from_secs(5));
        assert_eq!(server.keep_alive(), Some(Duration::from_secs(5)));
        let server = load(&[("server.keep_alive_secs", "0")]).unwrap().server;
        assert_eq!(server.keep_alive(), None);
        let message = load(&[("server.client_request_timeout_ms", "0")])
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("server.client_request_timeout_ms"),
            "{message}"
        );
        let message = load(&[("server.max_request_header_bytes", "1000000")])
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("server.max_request_header_bytes must be between 1024 and 65536"),
            "{message}"
        );
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

    #[test]
    fn trusted_proxies_are_networks_or_addresses_and_nothing_is_trusted_by_default() {
        let none = load(&[]).unwrap().server.trusted_proxies;
        assert!(none.is_empty());
        assert!(!none.contains("127.0.0.1".parse().unwrap()));

        let trusted = load(&[("server.trusted_proxies", "10.1.0.0/16, 192.0.2.7,fd00::/8")])
            .unwrap()
            .server
            .trusted_proxies;
        for inside in ["10.1.200.3", "192.0.2.7", "fd00::1", "::ffff:10.1.0.9"] {
            assert!(trusted.contains(inside.parse().unwrap()), "{inside}");
        }
        for outside in ["10.2.0.1", "192.0.2.8", "2001:db8::1"] {
            assert!(!trusted.contains(outside.parse().unwrap()), "{outside}");
        }

        let error = load(&[("server.trusted_proxies", "10.0.0.0/8,ingress-nginx")])
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("server.trusted_proxies: `ingress-nginx`"),
            "{error}"
        );
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
