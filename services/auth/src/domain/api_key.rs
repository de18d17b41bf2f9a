//! API keys for CI agents: their format, the roles and names they may
//! have, and how they are listed and introspected.
//!
//! The format: `flt_` + 32 base62 characters + a 6-character base62 CRC32
//! of those 32. The checksum lets the gateway and this service reject junk
//! (typos, truncation, other vendors' tokens) without a database query,
//! and lets secret scanners recognise a leaked key.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tenant_core::Role;
use uuid::Uuid;

use super::Invalid;
use crate::crypto::{self, CryptoError};

pub const PREFIX: &str = "flt_";
const BODY_LEN: usize = 32;
const CHECKSUM_LEN: usize = 6;
pub const KEY_LEN: usize = PREFIX.len() + BODY_LEN + CHECKSUM_LEN;

/// A key whose shape and checksum are right (it may still be unknown).
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ApiKey({}…)", self.display_prefix())
    }
}

fn checksum(body: &str) -> String {
    crypto::base62_fixed(u64::from(crc32fast::hash(body.as_bytes())), CHECKSUM_LEN)
}

impl ApiKey {
    pub fn generate() -> Result<Self, CryptoError> {
        let body = crypto::random_base62(BODY_LEN)?;
        let checksum = checksum(&body);
        Ok(Self(format!("{PREFIX}{body}{checksum}")))
    }

    /// Checks shape and checksum only.
    pub fn parse(candidate: &str) -> Option<Self> {
        let rest = candidate.strip_prefix(PREFIX)?;
        if candidate.len() != KEY_LEN || !rest.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return None;
        }
        let (body, sum) = rest.split_at(BODY_LEN);
        (checksum(body) == sum).then(|| Self(candidate.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn hash(&self) -> Vec<u8> {
        crypto::sha256(self.0.as_bytes())
    }

    /// What lists show: `flt_` and the first four characters.
    pub fn display_prefix(&self) -> String {
        self.0.chars().take(PREFIX.len() + 4).collect()
    }

    pub fn last_four(&self) -> String {
        self.0[self.0.len() - 4..].to_owned()
    }
}

/// The roles an API key may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ApiKeyRole {
    Viewer,
    Member,
}

impl ApiKeyRole {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Viewer => "viewer",
            Self::Member => "member",
        }
    }
}

/// A project role above member, which no API key may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("API keys may have the viewer or member role only")]
pub struct RoleTooHigh;

impl TryFrom<Role> for ApiKeyRole {
    type Error = RoleTooHigh;

    fn try_from(role: Role) -> Result<Self, Self::Error> {
        match role {
            Role::Viewer => Ok(Self::Viewer),
            Role::Member => Ok(Self::Member),
            Role::Admin | Role::Owner => Err(RoleTooHigh),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("`{0}` is not an API key role")]
pub struct UnknownApiKeyRole(String);

impl FromStr for ApiKeyRole {
    type Err = UnknownApiKeyRole;

    fn from_str(role: &str) -> Result<Self, Self::Err> {
        match role {
            "viewer" => Ok(Self::Viewer),
            "member" => Ok(Self::Member),
            other => Err(UnknownApiKeyRole(other.to_owned())),
        }
    }
}

/// What people call a key: 1..=100 characters after trimming.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyName(String);

impl ApiKeyName {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let name = raw.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(Invalid {
                field: "name",
                message: "must be 1 to 100 characters",
            });
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An API key as listed (the key itself is shown once, at creation).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = ApiKey)]
pub struct ApiKeyRecord {
    pub id: Uuid,
    pub project_id: Uuid,
    pub name: String,
    pub role: ApiKeyRole,
    /// `flt_` and the key's first four characters.
    pub display_prefix: String,
    pub last_four: String,
    pub created_by: Uuid,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
}

/// A new API key, with the key itself (never shown again).
#[derive(Serialize, utoipa::ToSchema)]
pub struct CreatedApiKey {
    #[serde(flatten)]
    pub record: ApiKeyRecord,
    pub key: String,
}

impl std::fmt::Debug for CreatedApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedApiKey")
            .field("record", &self.record)
            .finish_non_exhaustive()
    }
}

/// A live key found by its hash.
#[derive(Debug, Clone)]
pub struct LiveApiKey {
    pub id: Uuid,
    pub project_id: Uuid,
    pub role: ApiKeyRole,
    pub expires_at: DateTime<Utc>,
}

/// Who an API key is, as the gateway learns it.
#[derive(Debug, Serialize)]
pub struct Introspection {
    pub principal_id: Uuid,
    pub project_id: Uuid,
    pub role: ApiKeyRole,
    /// The gateway caches the answer no longer than this.
    pub expires_at: DateTime<Utc>,
}

impl From<LiveApiKey> for Introspection {
    fn from(key: LiveApiKey) -> Self {
        Self {
            principal_id: key.id,
            project_id: key.project_id,
            role: key.role,
            expires_at: key.expires_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_key_parses_and_has_the_documented_shape() {
        let key = ApiKey::generate().unwrap();
        assert_eq!(key.expose().len(), KEY_LEN);
        assert!(key.expose().starts_with("flt_"));
        assert_eq!(ApiKey::parse(key.expose()), Some(key.clone()));
        assert_eq!(key.display_prefix().len(), 8);
        assert!(!format!("{key:?}").contains(&key.expose()[8..]));
    }

    #[test]
    fn any_single_character_change_breaks_the_checksum() {
        let key = ApiKey::generate().unwrap();
        let text = key.expose();
        for position in PREFIX.len()..text.len() {
            let mut bytes = text.as_bytes().to_vec();
            bytes[position] = if bytes[position] == b'a' { b'b' } else { b'a' };
            let altered = String::from_utf8(bytes).unwrap();
            assert!(ApiKey::parse(&altered).is_none(), "accepted {altered}");
        }
        assert!(ApiKey::parse(&text[..text.len() - 1]).is_none());
        assert!(ApiKey::parse("flt_").is_none());
        assert!(ApiKey::parse(&text.replace("flt_", "flx_")).is_none());
    }
}
