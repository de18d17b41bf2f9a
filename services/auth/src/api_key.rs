//! The CI API key format: `flt_` + 32 base62 characters + a 6-character
//! base62 CRC32 of those 32. The checksum lets the gateway and this service
//! reject junk (typos, truncation, other vendors' tokens) without a
//! database query, and lets secret scanners recognise a leaked key.

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
