//! The password hasher pool: argon2id (m = 19456 KiB, t = 2, p = 1), PHC
//! strings.
//!
//! Hashing is CPU- and memory-heavy by design, so it runs on the blocking
//! pool behind a semaphore: a login flood queues instead of exhausting
//! memory or starving the async workers. Unknown accounts are verified
//! against a dummy hash, so they cost the same work as wrong passwords.

use std::sync::Arc;

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use prometheus_client::metrics::counter::Counter;
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Semaphore;

use crate::crypto;

pub const MEMORY_KIB: u32 = 19_456;
pub const ITERATIONS: u32 = 2;
pub const PARALLELISM: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("password hashing failed: {0}")]
    Hash(String),
    #[error("the hashing pool is gone")]
    Pool,
}

/// The outcome of checking a password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verification {
    pub matches: bool,
    /// The stored hash used other parameters: store a new one.
    pub needs_rehash: bool,
}

#[derive(Clone)]
pub struct PasswordHasher {
    permits: Arc<Semaphore>,
    dummy_hash: Arc<str>,
    verifications: Counter,
}

impl std::fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordHasher")
            .field("available_permits", &self.permits.available_permits())
            .finish_non_exhaustive()
    }
}

fn argon2() -> Result<Argon2<'static>, PasswordError> {
    let params = Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, None)
        .map_err(|e| PasswordError::Hash(e.to_string()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

fn hash_blocking(password: &str) -> Result<String, PasswordError> {
    let salt_bytes =
        crypto::random_bytes::<16>().map_err(|e| PasswordError::Hash(e.to_string()))?;
    let salt =
        SaltString::encode_b64(&salt_bytes).map_err(|e| PasswordError::Hash(e.to_string()))?;
    Ok(argon2()?
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| PasswordError::Hash(e.to_string()))?
        .to_string())
}

fn verify_blocking(password: &str, phc: &str) -> Result<Verification, PasswordError> {
    let parsed = PasswordHash::new(phc).map_err(|e| PasswordError::Hash(e.to_string()))?;
    let matches = argon2()?
        .verify_password(password.as_bytes(), &parsed)
        .is_ok();
    let current = Params::try_from(&parsed).ok();
    let needs_rehash = parsed.algorithm.as_str() != "argon2id"
        || current.is_none_or(|p| {
            p.m_cost() != MEMORY_KIB || p.t_cost() != ITERATIONS || p.p_cost() != PARALLELISM
        });
    Ok(Verification {
        matches,
        needs_rehash,
    })
}

impl PasswordHasher {
    /// Computes the dummy hash once, so unknown users cost a real verification.
    pub async fn new(concurrency: usize, verifications: Counter) -> Result<Self, PasswordError> {
        let dummy =
            tokio::task::spawn_blocking(|| hash_blocking("faultline-dummy-password-for-timing"))
                .await
                .map_err(|_| PasswordError::Pool)??;
        Ok(Self {
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            dummy_hash: dummy.into(),
            verifications,
        })
    }

    pub async fn hash(&self, password: &SecretString) -> Result<String, PasswordError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| PasswordError::Pool)?;
        let password = password.clone();
        tokio::task::spawn_blocking(move || hash_blocking(password.expose_secret()))
            .await
            .map_err(|_| PasswordError::Pool)?
    }

    /// Verifies against `stored`, or against the dummy hash when there is no
    /// such account (the answer is then always "no match").
    pub async fn verify(
        &self,
        password: &SecretString,
        stored: Option<&str>,
    ) -> Result<Verification, PasswordError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| PasswordError::Pool)?;
        let known = stored.is_some();
        let phc: Arc<str> = stored.map_or_else(|| self.dummy_hash.clone(), Arc::from);
        let password = password.clone();
        self.verifications.inc();
        let verification =
            tokio::task::spawn_blocking(move || verify_blocking(password.expose_secret(), &phc))
                .await
                .map_err(|_| PasswordError::Pool)??;
        Ok(Verification {
            matches: verification.matches && known,
            needs_rehash: verification.needs_rehash && known,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_are_argon2id_phc_strings_with_the_chosen_parameters() {
        let hasher = PasswordHasher::new(1, Counter::default()).await.unwrap();
        let password = SecretString::from("correct horse battery staple");
        let phc = hasher.hash(&password).await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        let ok = hasher.verify(&password, Some(&phc)).await.unwrap();
        assert_eq!(
            ok,
            Verification {
                matches: true,
                needs_rehash: false
            }
        );
        let wrong = hasher
            .verify(
                &SecretString::from("wrong horse battery staple"),
                Some(&phc),
            )
            .await
            .unwrap();
        assert!(!wrong.matches);
    }

    #[tokio::test]
    async fn a_hash_with_other_parameters_matches_but_asks_for_a_rehash() {
        let hasher = PasswordHasher::new(1, Counter::default()).await.unwrap();
        let weaker = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(8192, 1, 1, None).unwrap(),
        );
        let salt = SaltString::encode_b64(&[1; 16]).unwrap();
        let phc = weaker
            .hash_password(b"an old but fine password", &salt)
            .unwrap()
            .to_string();
        let verification = hasher
            .verify(&SecretString::from("an old but fine password"), Some(&phc))
            .await
            .unwrap();
        assert_eq!(
            verification,
            Verification {
                matches: true,
                needs_rehash: true
            }
        );
    }

    #[tokio::test]
    async fn an_unknown_account_costs_a_real_verification_and_never_matches() {
        let counter = Counter::default();
        let hasher = PasswordHasher::new(1, counter.clone()).await.unwrap();
        let verification = hasher
            .verify(
                &SecretString::from("faultline-dummy-password-for-timing"),
                None,
            )
            .await
            .unwrap();
        assert!(!verification.matches);
        assert_eq!(counter.get(), 1);
    }
}
