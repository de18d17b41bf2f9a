//! Sealing secrets at rest: AES-256-GCM with a random 96-bit nonce per
//! seal, stored as `nonce || ciphertext || tag`, under keys named by id.
//!
//! One implementation for every service that keeps a secret (the auth
//! service's signing keys, the integration gateway's data keys, the web
//! service's sessions), so there is one place to audit. The associated
//! data always names where a sealed value belongs (a row, a project and
//! field): a value copied anywhere else fails to open rather than yield
//! someone else's secret.

use std::collections::HashMap;
use std::fmt;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};

/// The bytes of a nonce at the front of every sealed value.
pub const SEALED_NONCE_LEN: usize = NONCE_LEN;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealingError {
    #[error("the system random generator failed")]
    Random,
    #[error("key `{0}` is not configured")]
    UnknownKey(String),
    #[error("key material is malformed")]
    Malformed,
    #[error("sealed data failed authentication (wrong key or associated data)")]
    Unseal,
}

/// `N` bytes from the system's random generator.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], SealingError> {
    let mut bytes = [0_u8; N];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| SealingError::Random)?;
    Ok(bytes)
}

/// One AES-256 key; never shown by `Debug`.
pub struct SealingKey(LessSafeKey);

impl fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SealingKey([redacted])")
    }
}

impl SealingKey {
    /// From 32 raw bytes.
    pub fn new(bytes: &[u8]) -> Result<Self, SealingError> {
        let key = UnboundKey::new(&AES_256_GCM, bytes).map_err(|_| SealingError::Malformed)?;
        Ok(Self(LessSafeKey::new(key)))
    }

    /// `plaintext` sealed for `associated` under a fresh nonce.
    pub fn seal(&self, plaintext: &[u8], associated: &[u8]) -> Result<Vec<u8>, SealingError> {
        let nonce = random_bytes::<NONCE_LEN>()?;
        let mut in_out = plaintext.to_vec();
        self.0
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(associated),
                &mut in_out,
            )
            .map_err(|_| SealingError::Malformed)?;
        let mut sealed = Vec::with_capacity(NONCE_LEN + in_out.len());
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&in_out);
        Ok(sealed)
    }

    /// Opens what [`SealingKey::seal`] sealed for `associated`; anything
    /// else (another key, other associated data, altered bytes) fails.
    pub fn open(&self, sealed: &[u8], associated: &[u8]) -> Result<Vec<u8>, SealingError> {
        if sealed.len() < NONCE_LEN {
            return Err(SealingError::Unseal);
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| SealingError::Unseal)?;
        let mut in_out = ciphertext.to_vec();
        let plaintext = self
            .0
            .open_in_place(nonce, Aad::from(associated), &mut in_out)
            .map_err(|_| SealingError::Unseal)?;
        Ok(plaintext.to_vec())
    }
}

/// The configured keys by id; only the current one seals, every one opens
/// what it sealed, so a key can be rotated without re-sealing at once.
pub struct KeyRing {
    current: String,
    keys: HashMap<String, SealingKey>,
}

/// Never shows key material: the ids only.
impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut ids: Vec<&String> = self.keys.keys().collect();
        ids.sort();
        f.debug_struct("KeyRing")
            .field("current", &self.current)
            .field("ids", &ids)
            .finish()
    }
}

impl KeyRing {
    /// `keys` are raw 32-byte keys by id; `current` must be among them.
    pub fn new<K: AsRef<[u8]>>(
        current: &str,
        keys: impl IntoIterator<Item = (String, K)>,
    ) -> Result<Self, SealingError> {
        let keys = keys
            .into_iter()
            .map(|(id, bytes)| Ok((id, SealingKey::new(bytes.as_ref())?)))
            .collect::<Result<HashMap<_, _>, SealingError>>()?;
        if !keys.contains_key(current) {
            return Err(SealingError::UnknownKey(current.to_owned()));
        }
        Ok(Self {
            current: current.to_owned(),
            keys,
        })
    }

    /// The id new values are sealed under.
    pub fn current_id(&self) -> &str {
        &self.current
    }

    /// The key `id`.
    pub fn key(&self, id: &str) -> Result<&SealingKey, SealingError> {
        self.keys
            .get(id)
            .ok_or_else(|| SealingError::UnknownKey(id.to_owned()))
    }

    /// Seals under the current key: its id and the sealed bytes.
    pub fn seal(
        &self,
        plaintext: &[u8],
        associated: &[u8],
    ) -> Result<(String, Vec<u8>), SealingError> {
        let sealed = self.key(&self.current)?.seal(plaintext, associated)?;
        Ok((self.current.clone(), sealed))
    }

    /// Opens what key `key_id` sealed for `associated`.
    pub fn open(
        &self,
        key_id: &str,
        sealed: &[u8],
        associated: &[u8],
    ) -> Result<Vec<u8>, SealingError> {
        self.key(key_id)?.open(sealed, associated)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(current: &str) -> KeyRing {
        KeyRing::new(
            current,
            [("a".to_owned(), [1_u8; 32]), ("b".to_owned(), [2_u8; 32])],
        )
        .unwrap()
    }

    #[test]
    fn a_sealed_value_opens_only_with_its_key_and_associated_data() {
        let (id, sealed) = ring("a").seal(b"tokens", b"row-1").unwrap();
        assert_eq!(id, "a");
        assert!(!sealed.windows(6).any(|w| w == b"tokens"));
        // Any ring holding key `a` opens it, whichever key is current.
        assert_eq!(ring("b").open("a", &sealed, b"row-1").unwrap(), b"tokens");
        assert_eq!(
            ring("a").open("a", &sealed, b"row-2"),
            Err(SealingError::Unseal)
        );
        assert_eq!(
            ring("a").open("b", &sealed, b"row-1"),
            Err(SealingError::Unseal)
        );
        assert_eq!(
            ring("a").open("c", &sealed, b"row-1"),
            Err(SealingError::UnknownKey("c".into()))
        );
        let mut altered = sealed.clone();
        let last = altered.len() - 1;
        altered[last] ^= 1;
        assert_eq!(
            ring("a").open("a", &altered, b"row-1"),
            Err(SealingError::Unseal)
        );
        assert_eq!(
            ring("a").open("a", &sealed[..5], b"row-1"),
            Err(SealingError::Unseal)
        );
    }

    #[test]
    fn every_seal_draws_a_fresh_nonce() {
        let key = SealingKey::new(&[3; 32]).unwrap();
        let a = key.seal(b"same", b"ad").unwrap();
        let b = key.seal(b"same", b"ad").unwrap();
        assert_ne!(a[..SEALED_NONCE_LEN], b[..SEALED_NONCE_LEN]);
        assert_ne!(a, b);
    }

    #[test]
    fn keys_are_32_bytes_the_current_one_configured_and_never_shown() {
        assert_eq!(
            KeyRing::new("a", [("a".to_owned(), [1_u8; 16])]).unwrap_err(),
            SealingError::Malformed
        );
        assert_eq!(
            KeyRing::new("c", [("a".to_owned(), [1_u8; 32])]).unwrap_err(),
            SealingError::UnknownKey("c".into())
        );
        let shown = format!("{:?}", ring("a"));
        assert!(shown.contains("\"a\"") && !shown.contains("[1"), "{shown}");
        assert_eq!(
            format!("{:?}", SealingKey::new(&[1; 32]).unwrap()),
            "SealingKey([redacted])"
        );
    }
}
