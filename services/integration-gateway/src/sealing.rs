//! Envelope encryption of connection secrets.
//!
//! Each project has its own data key (32 random bytes), stored only wrapped
//! by a master key from the settings, with the master key's id beside it.
//! Secrets are sealed with the project's data key. Both layers are
//! AES-256-GCM with a random 96-bit nonce per seal, stored as
//! `nonce || ciphertext || tag`. The associated data binds every
//! ciphertext to where it belongs: a wrapped data key to its project
//! (`data-key|<project>`), a secret to `<project>|<connection>|<field>`, so
//! a ciphertext copied to another project, connection or field fails to
//! open instead of yielding someone else's secret.
//!
//! Rotating a master key re-wraps data keys only (`keys rewrap`): secrets
//! are never re-encrypted, and a leaked data key exposes one project.

use std::fmt;

use secrecy::{ExposeSecret, SecretBox, SecretString};
pub use tenant_core::sealing::SealingError;
use tenant_core::sealing::{KeyRing, SealingKey, random_bytes};
use uuid::Uuid;

fn data_key_aad(project_id: Uuid) -> String {
    format!("data-key|{project_id}")
}

/// Where a secret belongs: its associated data.
pub fn secret_aad(project_id: Uuid, connection_id: Uuid, field: &str) -> String {
    format!("{project_id}|{connection_id}|{field}")
}

/// The configured master keys by id; only the current one wraps.
#[derive(Debug)]
pub struct MasterKeys(KeyRing);

/// A data key as stored: wrapped, with the id of the master key that
/// wrapped it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrappedKey {
    pub master_key_id: String,
    pub wrapped: Vec<u8>,
}

impl MasterKeys {
    pub fn new(current: &str, keys: Vec<(String, [u8; 32])>) -> Result<Self, SealingError> {
        KeyRing::new(current, keys).map(Self)
    }

    /// The id new data keys are wrapped with.
    pub fn current_id(&self) -> &str {
        self.0.current_id()
    }

    /// A new random data key for `project_id`, and its wrapped form to store.
    pub fn new_data_key(&self, project_id: Uuid) -> Result<(DataKey, WrappedKey), SealingError> {
        let key = DataKey::from_bytes(random_bytes::<32>()?)?;
        let wrapped = self.wrap(project_id, &key)?;
        Ok((key, wrapped))
    }

    /// Wraps `key` with the current master key.
    pub fn wrap(&self, project_id: Uuid, key: &DataKey) -> Result<WrappedKey, SealingError> {
        let (master_key_id, wrapped) = self.0.seal(
            key.bytes.expose_secret(),
            data_key_aad(project_id).as_bytes(),
        )?;
        Ok(WrappedKey {
            master_key_id,
            wrapped,
        })
    }

    /// Unwraps `project_id`'s stored data key.
    pub fn unwrap(&self, project_id: Uuid, stored: &WrappedKey) -> Result<DataKey, SealingError> {
        let bytes = self.0.open(
            &stored.master_key_id,
            &stored.wrapped,
            data_key_aad(project_id).as_bytes(),
        )?;
        let bytes: [u8; 32] = bytes.try_into().map_err(|_| SealingError::Malformed)?;
        DataKey::from_bytes(bytes)
    }
}

/// A project's data key, in memory only while a request or delivery
/// needs it; never in `Debug` output.
pub struct DataKey {
    bytes: SecretBox<[u8; 32]>,
    key: SealingKey,
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DataKey([redacted])")
    }
}

impl DataKey {
    fn from_bytes(bytes: [u8; 32]) -> Result<Self, SealingError> {
        let key = SealingKey::new(&bytes)?;
        Ok(Self {
            bytes: SecretBox::new(Box::new(bytes)),
            key,
        })
    }

    /// Seals `secret` for `aad` (see [`secret_aad`]).
    pub fn seal(&self, secret: &SecretString, aad: &str) -> Result<Vec<u8>, SealingError> {
        self.key
            .seal(secret.expose_secret().as_bytes(), aad.as_bytes())
    }

    /// Opens a secret sealed for `aad`; anything else fails.
    pub fn open(&self, sealed: &[u8], aad: &str) -> Result<SecretString, SealingError> {
        let bytes = self.key.open(sealed, aad.as_bytes())?;
        String::from_utf8(bytes)
            .map(SecretString::from)
            .map_err(|_| SealingError::Malformed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(current: &str) -> MasterKeys {
        MasterKeys::new(
            current,
            vec![("k1".into(), [7; 32]), ("k2".into(), [9; 32])],
        )
        .unwrap()
    }

    #[test]
    fn a_secret_opens_only_for_its_own_project_connection_and_field() {
        let project = Uuid::now_v7();
        let connection = Uuid::now_v7();
        let (key, _) = keys("k1").new_data_key(project).unwrap();
        let secret = SecretString::from("xoxb-very-secret");
        let sealed = key
            .seal(&secret, &secret_aad(project, connection, "bot_token"))
            .unwrap();
        assert!(!String::from_utf8_lossy(&sealed).contains("very-secret"));
        let opened = key
            .open(&sealed, &secret_aad(project, connection, "bot_token"))
            .unwrap();
        assert_eq!(opened.expose_secret(), "xoxb-very-secret");
        for aad in [
            secret_aad(Uuid::now_v7(), connection, "bot_token"),
            secret_aad(project, Uuid::now_v7(), "bot_token"),
            secret_aad(project, connection, "webhook_url"),
        ] {
            assert!(matches!(key.open(&sealed, &aad), Err(SealingError::Unseal)));
        }
    }

    #[test]
    fn every_seal_draws_a_fresh_nonce() {
        let (key, _) = keys("k1").new_data_key(Uuid::now_v7()).unwrap();
        let secret = SecretString::from("same");
        let a = key.seal(&secret, "ad").unwrap();
        let b = key.seal(&secret, "ad").unwrap();
        assert_ne!(
            a[..tenant_core::sealing::SEALED_NONCE_LEN],
            b[..tenant_core::sealing::SEALED_NONCE_LEN]
        );
        assert_ne!(a, b);
    }

    #[test]
    fn a_wrapped_data_key_opens_only_for_its_project_and_rewraps_under_the_newest_key() {
        let project = Uuid::now_v7();
        let old = keys("k1");
        let (key, wrapped) = old.new_data_key(project).unwrap();
        assert_eq!(wrapped.master_key_id, "k1");
        let sealed = key.seal(&SecretString::from("token"), "ad").unwrap();
        assert!(matches!(
            old.unwrap(Uuid::now_v7(), &wrapped),
            Err(SealingError::Unseal)
        ));

        let new = keys("k2");
        let rewrapped = new
            .wrap(project, &new.unwrap(project, &wrapped).unwrap())
            .unwrap();
        assert_eq!(rewrapped.master_key_id, "k2");
        let only_new = MasterKeys::new("k2", vec![("k2".into(), [9; 32])]).unwrap();
        let reopened = only_new.unwrap(project, &rewrapped).unwrap();
        assert_eq!(
            reopened.open(&sealed, "ad").unwrap().expose_secret(),
            "token"
        );
        assert!(matches!(
            only_new.unwrap(project, &wrapped),
            Err(SealingError::UnknownKey(_))
        ));
        assert!(format!("{reopened:?} {only_new:?}").find("[9").is_none());
    }
}
