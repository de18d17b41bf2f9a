//! Sealing of what a session keeps at rest: the user's access and refresh
//! tokens and the session's CSRF token, with AES-256-GCM under the web
//! service's session key (`service.session_keys.<id>`), a random 96-bit
//! nonce per seal, stored as `nonce || ciphertext || tag` beside the key's
//! id. The associated data is the session's id hash, so a sealed value
//! copied to another session's row fails to open.
//!
//! Rotation: add a key under a new id and make it `service.session_key_id`;
//! sessions sealed under the old id keep opening while it is configured,
//! and are sealed again under the new one at their next token refresh.
//! Remove the old key once `service.session_idle_minutes` has passed.

use std::collections::HashMap;
use std::fmt;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};

#[derive(Debug, thiserror::Error)]
pub enum SealingError {
    #[error("the system random generator failed")]
    Random,
    #[error("session key `{0}` is not configured")]
    UnknownKey(String),
    #[error("session key `{0}` is not 32 bytes")]
    Malformed(String),
    #[error("a sealed session failed authentication (wrong key or row)")]
    Unseal,
}

/// The configured session keys by id, and the one that seals.
pub struct SessionKeys {
    current: String,
    keys: HashMap<String, LessSafeKey>,
}

/// Never shows key material.
impl fmt::Debug for SessionKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionKeys")
            .field("current", &self.current)
            .field("ids", &self.keys.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl SessionKeys {
    /// `keys` are raw 32-byte keys by id; `current` must be among them.
    pub fn new(current: &str, keys: Vec<(String, Vec<u8>)>) -> Result<Self, SealingError> {
        let mut opened = HashMap::new();
        for (id, bytes) in keys {
            let key = UnboundKey::new(&AES_256_GCM, &bytes)
                .map_err(|_| SealingError::Malformed(id.clone()))?;
            opened.insert(id, LessSafeKey::new(key));
        }
        if !opened.contains_key(current) {
            return Err(SealingError::UnknownKey(current.to_owned()));
        }
        Ok(Self {
            current: current.to_owned(),
            keys: opened,
        })
    }

    /// Seals `plaintext` under the current key: its id and the sealed bytes.
    pub fn seal(
        &self,
        plaintext: &[u8],
        associated: &[u8],
    ) -> Result<(String, Vec<u8>), SealingError> {
        let key = self
            .keys
            .get(&self.current)
            .ok_or_else(|| SealingError::UnknownKey(self.current.clone()))?;
        let mut nonce = [0_u8; NONCE_LEN];
        aws_lc_rs::rand::fill(&mut nonce).map_err(|_| SealingError::Random)?;
        let mut in_out = plaintext.to_vec();
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(associated),
            &mut in_out,
        )
        .map_err(|_| SealingError::Random)?;
        let mut sealed = nonce.to_vec();
        sealed.extend_from_slice(&in_out);
        Ok((self.current.clone(), sealed))
    }

    /// Opens what key `key_id` sealed for `associated`.
    pub fn open(
        &self,
        key_id: &str,
        sealed: &[u8],
        associated: &[u8],
    ) -> Result<Vec<u8>, SealingError> {
        let key = self
            .keys
            .get(key_id)
            .ok_or_else(|| SealingError::UnknownKey(key_id.to_owned()))?;
        if sealed.len() < NONCE_LEN {
            return Err(SealingError::Unseal);
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| SealingError::Unseal)?;
        let mut in_out = ciphertext.to_vec();
        let plaintext = key
            .open_in_place(nonce, Aad::from(associated), &mut in_out)
            .map_err(|_| SealingError::Unseal)?;
        Ok(plaintext.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(current: &str) -> SessionKeys {
        SessionKeys::new(
            current,
            vec![("a".into(), vec![1; 32]), ("b".into(), vec![2; 32])],
        )
        .unwrap()
    }

    #[test]
    fn a_sealed_value_opens_only_for_its_own_row_and_key() {
        let (id, sealed) = keys("a").seal(b"tokens", b"row-1").unwrap();
        assert_eq!(id, "a");
        assert_eq!(keys("b").open("a", &sealed, b"row-1").unwrap(), b"tokens");
        assert!(matches!(
            keys("a").open("a", &sealed, b"row-2"),
            Err(SealingError::Unseal)
        ));
        assert!(matches!(
            keys("a").open("b", &sealed, b"row-1"),
            Err(SealingError::Unseal)
        ));
        assert!(!sealed.windows(6).any(|w| w == b"tokens"));
    }

    #[test]
    fn keys_must_be_32_bytes_and_the_current_one_configured() {
        assert!(SessionKeys::new("a", vec![("a".into(), vec![1; 16])]).is_err());
        assert!(SessionKeys::new("c", vec![("a".into(), vec![1; 32])]).is_err());
        assert!(!format!("{:?}", keys("a")).contains("[1"));
    }
}
