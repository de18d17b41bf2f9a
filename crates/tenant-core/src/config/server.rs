//! `[server]`: listeners, limits, timeouts, trusted proxies and TLS.

use std::net::IpAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

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
    /// How long a request body may go without a byte arriving while the
    /// service waits for it; past it the request is answered 408
    /// `request.body_timeout` and its connection closes. Between 100 and
    /// [`MAX_BODY_IDLE_TIMEOUT_MS`].
    pub body_idle_timeout_ms: u64,
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

/// Upper bound of `server.body_idle_timeout_ms`: a body that pauses longer
/// holds its connection (and, behind the gateway, an upstream request) for
/// nothing.
pub const MAX_BODY_IDLE_TIMEOUT_MS: u64 = 120_000;

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

    pub fn body_idle_timeout(&self) -> Duration {
        Duration::from_millis(self.body_idle_timeout_ms)
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

impl ServerSettings {
    pub(super) fn validate_listeners(&self, problems: &mut Vec<String>) {
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
        if !(100..=MAX_BODY_IDLE_TIMEOUT_MS).contains(&self.body_idle_timeout_ms) {
            problems.push(format!(
                "server.body_idle_timeout_ms must be between 100 and {MAX_BODY_IDLE_TIMEOUT_MS} (a stalled body holds a connection until then)"
            ));
        }
    }
}
