//! Signing keys as verifiers see them (the JWKS) and as the issuer holds
//! them, and the policy that moves a key from pending to active to
//! retired.

use std::str::FromStr;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::EncodingKey;
use serde::Serialize;

#[derive(Debug, Clone)]
pub struct KeyPolicy {
    pub jwks_max_age: Duration,
    pub rotation_days: i64,
    /// How long a retired key stays published.
    pub retired_publication: Duration,
    /// How often the keyring is reloaded.
    pub refresh: Duration,
}

impl KeyPolicy {
    /// How long a new key is published before it signs: two JWKS cache
    /// lifetimes, so every verifier has it before its first token arrives.
    pub fn activation_delay(&self) -> Duration {
        self.jwks_max_age * 2
    }
}

/// Where a key is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    /// Published, not signing yet.
    Pending,
    /// Signs new tokens.
    Active,
    /// Published until the tokens it signed have expired.
    Retired,
}

impl KeyState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Active => "active",
            Self::Retired => "retired",
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("`{0}` is not a signing key state")]
pub struct UnknownKeyState(String);

impl FromStr for KeyState {
    type Err = UnknownKeyState;

    fn from_str(state: &str) -> Result<Self, Self::Err> {
        match state {
            "pending" => Ok(Self::Pending),
            "active" => Ok(Self::Active),
            "retired" => Ok(Self::Retired),
            other => Err(UnknownKeyState(other.to_owned())),
        }
    }
}

/// One key as the JWKS publishes it.
#[derive(Debug, Clone, Serialize)]
pub struct PublicJwk {
    pub kty: &'static str,
    pub crv: &'static str,
    pub alg: &'static str,
    #[serde(rename = "use")]
    pub usage: &'static str,
    pub kid: String,
    pub x: String,
}

impl PublicJwk {
    /// The JWK of an Ed25519 public key.
    pub fn ed25519(kid: String, public_key: &[u8]) -> Self {
        Self {
            kty: "OKP",
            crv: "Ed25519",
            alg: "EdDSA",
            usage: "sig",
            kid,
            x: URL_SAFE_NO_PAD.encode(public_key),
        }
    }
}

pub struct SigningKey {
    pub kid: String,
    pub key: EncodingKey,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

/// The key that signs now and every key verifiers may need.
#[derive(Debug)]
pub struct Keyring {
    loaded_at: Instant,
    pub signing: SigningKey,
    pub published: Vec<PublicJwk>,
}

impl Keyring {
    pub fn new(signing: SigningKey, published: Vec<PublicJwk>) -> Self {
        Self {
            loaded_at: Instant::now(),
            signing,
            published,
        }
    }

    /// Loaded less than `refresh` ago.
    pub fn is_fresh(&self, refresh: Duration) -> bool {
        self.loaded_at.elapsed() < refresh
    }
}
