//! Small, audited building blocks: random tokens, hashing, and sealing
//! secrets at rest with AES-256-GCM under the configured master keys.

use std::collections::HashMap;
use std::fmt;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use sha2::{Digest, Sha256};

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
pub struct MasterKeys {
    current: String,
    keys: HashMap<String, LessSafeKey>,
}

impl fmt::Debug for MasterKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MasterKeys")
            .field("current", &self.current)
            .field("ids", &self.keys.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl MasterKeys {
    pub fn new(current: &str, keys: Vec<(String, [u8; 32])>) -> Result<Self, CryptoError> {
        let keys = keys
            .into_iter()
            .map(|(id, bytes)| {
                let key =
                    UnboundKey::new(&AES_256_GCM, &bytes).map_err(|_| CryptoError::Malformed)?;
                Ok((id, LessSafeKey::new(key)))
            })
            .collect::<Result<HashMap<_, _>, CryptoError>>()?;
        if !keys.contains_key(current) {
            return Err(CryptoError::UnknownMasterKey(current.to_owned()));
        }
        Ok(Self {
            current: current.to_owned(),
            keys,
        })
    }

    /// Encrypts `plaintext`, binding it to `associated` (e.g. the row's id).
    pub fn seal(&self, plaintext: &[u8], associated: &[u8]) -> Result<Sealed, CryptoError> {
        let key = self
            .keys
            .get(&self.current)
            .ok_or_else(|| CryptoError::UnknownMasterKey(self.current.clone()))?;
        let nonce_bytes = random_bytes::<NONCE_LEN>()?;
        let mut in_out = plaintext.to_vec();
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce_bytes),
            Aad::from(associated),
            &mut in_out,
        )
        .map_err(|_| CryptoError::Malformed)?;
        Ok(Sealed {
            ciphertext: in_out,
            nonce: nonce_bytes.to_vec(),
            master_key_id: self.current.clone(),
        })
    }

    pub fn open(&self, sealed: &Sealed, associated: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let key = self
            .keys
            .get(&sealed.master_key_id)
            .ok_or_else(|| CryptoError::UnknownMasterKey(sealed.master_key_id.clone()))?;
        let nonce =
            Nonce::try_assume_unique_for_key(&sealed.nonce).map_err(|_| CryptoError::Malformed)?;
        let mut in_out = sealed.ciphertext.clone();
        let plaintext = key
            .open_in_place(nonce, Aad::from(associated), &mut in_out)
            .map_err(|_| CryptoError::Unseal)?;
        Ok(plaintext.to_vec())
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
