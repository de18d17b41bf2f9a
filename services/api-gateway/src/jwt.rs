//! Access token verification against the auth service's JWKS.
//!
//! Before any signature work a token must be at most `max_token_bytes`,
//! have exactly three segments, and a header that says `alg: EdDSA`,
//! `typ: at+jwt` and a well-formed `kid`, with none of `jku`, `x5u`, `x5c`,
//! `jwk` (never followed) or `crit`. Keys come from the JWKS, refreshed
//! periodically; an unknown `kid` triggers at most one refetch per
//! `jwks_refetch_interval`. A verified token is cached until it expires, so
//! its signature is checked once.

use std::collections::HashMap;
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use prometheus_client::metrics::counter::Counter;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use tenant_core::cache::TtlCache;

/// A verified access token.
#[derive(Debug, Clone)]
pub struct VerifiedUser {
    pub user_id: Uuid,
    pub session_id: Uuid,
    pub platform_admin: bool,
    pub default_project: Option<Uuid>,
    pub kid: String,
}

#[derive(Debug, Deserialize)]
struct Claims {
    sub: Uuid,
    sid: Uuid,
    exp: i64,
    user_role: String,
    #[serde(default)]
    default_project: Option<Uuid>,
}

/// Why a token was refused; logged, never sent (clients get one answer).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenRefusal {
    #[error("token larger than the limit")]
    TooLarge,
    #[error("not a compact JWS")]
    Malformed,
    #[error("header refused: {0}")]
    Header(&'static str),
    #[error("unknown key id")]
    UnknownKey,
    #[error("verification failed: {0}")]
    Invalid(String),
}

/// Why the key set could not be refreshed; the keys held stay in use.
#[derive(Debug, thiserror::Error)]
#[error("the JWKS could not be fetched from the auth service")]
pub struct JwksUnavailable(#[source] reqwest::Error);

#[derive(Debug, Deserialize)]
struct Jwks {
    keys: Vec<Jwk>,
}

#[derive(Debug, Deserialize)]
struct Jwk {
    kty: String,
    #[serde(default)]
    crv: Option<String>,
    kid: String,
    #[serde(default)]
    x: Option<String>,
}

pub struct TokenVerifier {
    jwks_url: String,
    http: reqwest::Client,
    keys: RwLock<HashMap<String, DecodingKey>>,
    last_fetch: Mutex<Option<Instant>>,
    refetch_interval: Duration,
    validation: Validation,
    max_token_bytes: usize,
    verified: TtlCache<[u8; 32], VerifiedUser>,
    pub jwks_fetches: Counter,
    pub cache_hits: Counter,
    pub cache_misses: Counter,
}

impl std::fmt::Debug for TokenVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenVerifier")
            .field("jwks_url", &self.jwks_url)
            .finish_non_exhaustive()
    }
}

#[derive(Debug)]
pub struct VerifierConfig {
    pub jwks_url: String,
    pub issuer: String,
    pub audience: String,
    pub leeway_secs: u64,
    pub max_token_bytes: usize,
    pub refetch_interval: Duration,
    pub cache_size: usize,
}

const FORBIDDEN_HEADERS: [&str; 5] = ["jku", "x5u", "x5c", "jwk", "crit"];

impl TokenVerifier {
    pub fn new(config: VerifierConfig, http: reqwest::Client) -> Self {
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.algorithms = vec![Algorithm::EdDSA];
        validation.set_issuer(&[config.issuer]);
        validation.set_audience(&[config.audience]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = config.leeway_secs;
        Self {
            jwks_url: config.jwks_url,
            http,
            keys: RwLock::new(HashMap::new()),
            last_fetch: Mutex::new(None),
            refetch_interval: config.refetch_interval,
            validation,
            max_token_bytes: config.max_token_bytes,
            verified: TtlCache::new(config.cache_size),
            jwks_fetches: Counter::default(),
            cache_hits: Counter::default(),
            cache_misses: Counter::default(),
        }
    }

    /// Fetches the JWKS and replaces the key set; tokens of keys that left
    /// the set stop verifying at once, cached or not.
    #[tracing::instrument(skip_all, err(level = "warn"))]
    pub async fn refresh(&self) -> Result<(), JwksUnavailable> {
        if let Ok(mut last) = self.last_fetch.lock() {
            *last = Some(Instant::now());
        }
        self.jwks_fetches.inc();
        let jwks: Jwks = self
            .http
            .get(&self.jwks_url)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(JwksUnavailable)?
            .json()
            .await
            .map_err(JwksUnavailable)?;
        let keys: HashMap<String, DecodingKey> = jwks
            .keys
            .into_iter()
            .filter(|k| k.kty == "OKP" && k.crv.as_deref() == Some("Ed25519"))
            .filter_map(|k| {
                Some((
                    k.kid,
                    DecodingKey::from_ed_components(k.x.as_deref()?).ok()?,
                ))
            })
            .collect();
        self.verified
            .remove_where(|_, user| !keys.contains_key(&user.kid));
        if let Ok(mut current) = self.keys.write() {
            *current = keys;
        }
        Ok(())
    }

    fn key(&self, kid: &str) -> Option<DecodingKey> {
        self.keys.read().ok()?.get(kid).cloned()
    }

    /// Whether no key has been loaded yet (the auth service was not up).
    pub fn has_no_keys(&self) -> bool {
        self.keys.read().map(|keys| keys.is_empty()).unwrap_or(true)
    }

    /// Refetches for an unknown kid, unless that happened recently. While
    /// no key set was ever loaded (the gateway started before the auth
    /// service), nothing can verify without one, so a tenth of a second is
    /// recent enough: the first token auth hands out finds its key.
    async fn key_after_refetch(&self, kid: &str) -> Option<DecodingKey> {
        let interval = if self.has_no_keys() {
            Duration::from_millis(100)
        } else {
            self.refetch_interval
        };
        let due = self
            .last_fetch
            .lock()
            .ok()
            .is_some_and(|last| last.is_none_or(|at| at.elapsed() >= interval));
        if due {
            let _ = self.refresh().await;
        }
        self.key(kid)
    }

    pub async fn verify(&self, token: &str) -> Result<VerifiedUser, TokenRefusal> {
        if token.len() > self.max_token_bytes {
            return Err(TokenRefusal::TooLarge);
        }
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        if let Some(user) = self.verified.get(&digest) {
            self.cache_hits.inc();
            return Ok(user);
        }
        self.cache_misses.inc();
        let kid = check_header(token)?;
        let key = match self.key(&kid) {
            Some(key) => key,
            None => self
                .key_after_refetch(&kid)
                .await
                .ok_or(TokenRefusal::UnknownKey)?,
        };
        let claims = jsonwebtoken::decode::<Claims>(token, &key, &self.validation)
            .map_err(|e| TokenRefusal::Invalid(e.to_string()))?
            .claims;
        let user = VerifiedUser {
            user_id: claims.sub,
            session_id: claims.sid,
            platform_admin: claims.user_role == "admin",
            default_project: claims.default_project,
            kid,
        };
        let remaining = claims.exp - chrono::Utc::now().timestamp();
        if remaining > 0 {
            self.verified.insert(
                digest,
                user.clone(),
                Duration::from_secs(remaining.unsigned_abs()),
            );
        }
        Ok(user)
    }
}

/// The structural checks, returning the `kid`.
fn check_header(token: &str) -> Result<String, TokenRefusal> {
    let mut segments = token.split('.');
    let (Some(header), Some(_), Some(_), None) = (
        segments.next(),
        segments.next(),
        segments.next(),
        segments.next(),
    ) else {
        return Err(TokenRefusal::Malformed);
    };
    let bytes = URL_SAFE_NO_PAD
        .decode(header)
        .map_err(|_| TokenRefusal::Malformed)?;
    let header: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&bytes).map_err(|_| TokenRefusal::Malformed)?;
    if header.get("alg").and_then(|v| v.as_str()) != Some("EdDSA") {
        return Err(TokenRefusal::Header("alg must be EdDSA"));
    }
    if !matches!(
        header.get("typ").and_then(|v| v.as_str()),
        Some("at+jwt" | "application/at+jwt")
    ) {
        return Err(TokenRefusal::Header("typ must be at+jwt"));
    }
    if FORBIDDEN_HEADERS
        .iter()
        .any(|name| header.contains_key(*name))
    {
        return Err(TokenRefusal::Header(
            "jku, x5u, x5c, jwk and crit are refused",
        ));
    }
    let kid = header
        .get("kid")
        .and_then(|v| v.as_str())
        .ok_or(TokenRefusal::Header("kid missing"))?;
    let sane = !kid.is_empty()
        && kid.len() <= 64
        && kid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !sane {
        return Err(TokenRefusal::Header("kid malformed"));
    }
    Ok(kid.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(json: &str) -> String {
        format!("{}.e30.c2ln", URL_SAFE_NO_PAD.encode(json))
    }

    #[test]
    fn headers_are_checked_before_any_key_work() {
        let ok = header(r#"{"alg":"EdDSA","typ":"at+jwt","kid":"k1"}"#);
        assert_eq!(check_header(&ok), Ok("k1".to_owned()));
        for refused in [
            r#"{"alg":"none","typ":"at+jwt","kid":"k1"}"#,
            r#"{"alg":"HS256","typ":"at+jwt","kid":"k1"}"#,
            r#"{"alg":"EdDSA","typ":"JWT","kid":"k1"}"#,
            r#"{"alg":"EdDSA","typ":"at+jwt","kid":"../../dev/null"}"#,
            r#"{"alg":"EdDSA","typ":"at+jwt","kid":"k1","jku":"https://evil.example/jwks"}"#,
            r#"{"alg":"EdDSA","typ":"at+jwt","kid":"k1","crit":["exp"]}"#,
            r#"{"alg":"EdDSA","typ":"at+jwt"}"#,
        ] {
            assert!(check_header(&header(refused)).is_err(), "{refused}");
        }
        assert_eq!(check_header("a.b"), Err(TokenRefusal::Malformed));
        assert_eq!(check_header("a.b.c.d"), Err(TokenRefusal::Malformed));
        assert_eq!(check_header("flr_abcdef"), Err(TokenRefusal::Malformed));
    }
}
