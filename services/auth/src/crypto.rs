//! Small, audited building blocks: random tokens, hashing, and sealing
//! secrets at rest with AES-256-GCM under the configured master keys.

use sha2::{Digest, Sha256};
use tenant_core::sealing::{KeyRing, SEALED_NONCE_LEN, SealingError};

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("the system random generator failed")]
    Random,
    #[error("master key `{0}` is not configured")]
    UnknownMasterKey(String),
    #[error("sealed data failed authentication")]
    Unseal,
    #[error("key material is malformed")]
    Malformed,
}

pub fn random_bytes<const N: usize>() -> Result<[u8; N], CryptoError> {
    let mut bytes = [0_u8; N];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| CryptoError::Random)?;
    Ok(bytes)
}

/// `len` characters from [0-9A-Za-z], uniformly (rejection sampling).
pub fn random_base62(len: usize) -> Result<String, CryptoError> {
    let mut out = String::with_capacity(len);
    while out.len() < len {
        for byte in random_bytes::<64>()? {
            // 248 = 4 * 62: bytes above it would bias the first symbols.
            if byte < 248 && out.len() < len {
                out.push(char::from(BASE62[usize::from(byte % 62)]));
            }
        }
    }
    Ok(out)
}

/// `value` in base62, left-padded with '0' to `width` characters.
pub fn base62_fixed(mut value: u64, width: usize) -> String {
    let mut digits = vec![b'0'; width];
    for slot in digits.iter_mut().rev() {
        *slot = BASE62[usize::try_from(value % 62).unwrap_or(0)];
        value /= 62;
    }
    String::from_utf8(digits).unwrap_or_default()
}

pub fn sha256(data: &[u8]) -> Vec<u8> {
    Sha256::digest(data).to_vec()
}

/// A sealed secret: ciphertext with its tag, the nonce, and which master
/// key sealed it.
#[derive(Debug, Clone)]
pub struct Sealed {
    pub ciphertext: Vec<u8>,
    pub nonce: Vec<u8>,
    pub master_key_id: String,
}

/// The master keys, by id. Only the current one seals.
#[derive(Debug)]
pub struct MasterKeys(KeyRing);

impl From<SealingError> for CryptoError {
    fn from(error: SealingError) -> Self {
        match error {
            SealingError::Random => Self::Random,
            SealingError::UnknownKey(id) => Self::UnknownMasterKey(id),
            SealingError::Malformed => Self::Malformed,
            SealingError::Unseal => Self::Unseal,
        }
    }
}

impl MasterKeys {
    pub fn new(current: &str, keys: Vec<(String, [u8; 32])>) -> Result<Self, CryptoError> {
        Ok(Self(KeyRing::new(current, keys)?))
    }

    /// Encrypts `plaintext`, binding it to `associated` (e.g. the row's id).
    pub fn seal(&self, plaintext: &[u8], associated: &[u8]) -> Result<Sealed, CryptoError> {
        let (master_key_id, sealed) = self.0.seal(plaintext, associated)?;
        let (nonce, ciphertext) = sealed.split_at(SEALED_NONCE_LEN);
        Ok(Sealed {
            ciphertext: ciphertext.to_vec(),
            nonce: nonce.to_vec(),
            master_key_id,
        })
    }

    pub fn open(&self, sealed: &Sealed, associated: &[u8]) -> Result<Vec<u8>, CryptoError> {
        if sealed.nonce.len() != SEALED_NONCE_LEN {
            return Err(CryptoError::Malformed);
        }
        let joined = [sealed.nonce.as_slice(), sealed.ciphertext.as_slice()].concat();
        Ok(self.0.open(&sealed.master_key_id, &joined, associated)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> MasterKeys {
        MasterKeys::new("k1", vec![("k1".into(), [7; 32]), ("k0".into(), [9; 32])]).unwrap()
    }

    #[test]
    fn sealed_data_opens_only_with_the_same_associated_data() {
        let keys = keys();
        let sealed = keys.seal(b"private key", b"kid-1").unwrap();
        assert_ne!(sealed.ciphertext, b"private key");
        assert_eq!(keys.open(&sealed, b"kid-1").unwrap(), b"private key");
        assert!(matches!(
            keys.open(&sealed, b"kid-2"),
            Err(CryptoError::Unseal)
        ));
    }

    #[test]
    fn every_seal_uses_a_fresh_nonce() {
        let keys = keys();
        let a = keys.seal(b"same", b"ad").unwrap();
        let b = keys.seal(b"same", b"ad").unwrap();
        assert_ne!(a.nonce, b.nonce);
        assert_ne!(a.ciphertext, b.ciphertext);
    }

    #[test]
    fn base62_is_fixed_width_and_random_tokens_use_only_base62() {
        assert_eq!(base62_fixed(0, 6), "000000");
        assert_eq!(base62_fixed(61, 2), "0z");
        assert_eq!(base62_fixed(u64::from(u32::MAX), 6).len(), 6);
        let token = random_base62(40).unwrap();
        assert_eq!(token.len(), 40);
        assert!(token.bytes().all(|b| b.is_ascii_alphanumeric()));
    }
}
