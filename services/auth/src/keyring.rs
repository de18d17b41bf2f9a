//! The signing keyring: Ed25519 keys whose private halves are sealed at
//! rest, moving pending -> active -> retired.
//!
//! A new key is published (JWKS) as pending for two JWKS cache lifetimes
//! before it signs, so every verifier has it before the first token it
//! signs arrives. A retired key stays published until every token it signed
//! has expired (token lifetime + leeway + keyring refresh). Rotation happens
//! on `auth-service keys rotate` and automatically once the active key is
//! older than `key_rotation_days`. Replicas serialize state changes with an
//! advisory lock and cache the keyring for `keyring_refresh_secs`.

use std::sync::Arc;
use std::time::Duration;

use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use jsonwebtoken::EncodingKey;
use serde_json::json;
use tenant_core::Db;
use tokio::sync::RwLock;

use crate::crypto::{CryptoError, MasterKeys};
use crate::domain::audit::AuditEvent;
use crate::domain::signing_keys::{KeyPolicy, KeyState, Keyring, PublicJwk, SigningKey};
use crate::error::AuthError;
use crate::repository::audit;
use crate::repository::signing_keys::{self, NewSigningKey};

#[derive(Debug)]
pub struct KeyStore {
    db: Db,
    master: Arc<MasterKeys>,
    policy: KeyPolicy,
    cache: RwLock<Option<Arc<Keyring>>>,
}

impl KeyStore {
    pub fn new(db: Db, master: Arc<MasterKeys>, policy: KeyPolicy) -> Self {
        Self {
            db,
            master,
            policy,
            cache: RwLock::new(None),
        }
    }

    pub fn max_age_secs(&self) -> u64 {
        self.policy.jwks_max_age.as_secs()
    }

    /// The keyring, reloaded when older than the refresh interval.
    pub async fn current(&self) -> Result<Arc<Keyring>, AuthError> {
        if let Some(keyring) = self.cache.read().await.as_ref()
            && keyring.is_fresh(self.policy.refresh)
        {
            return Ok(keyring.clone());
        }
        let mut cache = self.cache.write().await;
        if let Some(keyring) = cache.as_ref()
            && keyring.is_fresh(self.policy.refresh)
        {
            return Ok(keyring.clone());
        }
        let keyring = Arc::new(self.load().await?);
        *cache = Some(keyring.clone());
        Ok(keyring)
    }

    /// Creates a pending key; returns its kid.
    pub async fn rotate(&self) -> Result<String, AuthError> {
        let key = self.generate(KeyState::Pending, self.policy.activation_delay())?;
        let tx = self.db.unscoped_tx().await?;
        signing_keys::lock_keyring(&tx).await?;
        signing_keys::insert(&tx, &key).await?;
        audit::record(
            &tx,
            AuditEvent::new("key_rotated").details(json!({ "kid": key.kid })),
        )
        .await?;
        tx.commit().await?;
        *self.cache.write().await = None;
        tracing::info!(
            kid = key.kid,
            "signing key created; it signs once published long enough"
        );
        Ok(key.kid)
    }

    /// A fresh key pair, its private half sealed under its kid.
    fn generate(
        &self,
        state: KeyState,
        activation_delay: Duration,
    ) -> Result<NewSigningKey, AuthError> {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).map_err(|_| CryptoError::Random)?;
        let pair =
            Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).map_err(|_| CryptoError::Malformed)?;
        let kid = format!("k{}", uuid::Uuid::now_v7().simple());
        let private_key = self.master.seal(pkcs8.as_ref(), kid.as_bytes())?;
        Ok(NewSigningKey {
            kid,
            public_key: pair.public_key().as_ref().to_vec(),
            private_key,
            state,
            activation_delay,
        })
    }

    /// Brings the stored keyring up to date (first key, activations,
    /// retirements, a scheduled rotation) and reads it.
    async fn load(&self) -> Result<Keyring, AuthError> {
        let tx = self.db.unscoped_tx().await?;
        signing_keys::lock_keyring(&tx).await?;
        if signing_keys::count_live(&tx).await? == 0 {
            // First start: a key that signs at once (nothing verifies yet).
            let first = self.generate(KeyState::Active, Duration::ZERO)?;
            signing_keys::insert(&tx, &first).await?;
        }
        signing_keys::activate_due(&tx).await?;
        signing_keys::retire_superseded(&tx, self.policy.retired_publication).await?;
        if signing_keys::rotation_due(&tx, self.policy.rotation_days).await? {
            let key = self.generate(KeyState::Pending, self.policy.activation_delay())?;
            signing_keys::insert(&tx, &key).await?;
            audit::record(
                &tx,
                AuditEvent::new("key_rotated")
                    .details(json!({ "kid": key.kid, "scheduled": true })),
            )
            .await?;
            tracing::info!(kid = key.kid, "scheduled key rotation: new key pending");
        }
        let keys = signing_keys::published(&tx).await?;
        tx.commit().await?;

        let mut signing = None;
        let mut published = Vec::with_capacity(keys.len());
        for key in keys {
            if key.state == KeyState::Active && signing.is_none() {
                let pkcs8 = self.master.open(&key.private_key, key.kid.as_bytes())?;
                signing = Some(SigningKey {
                    kid: key.kid.clone(),
                    key: EncodingKey::from_ed_der(&pkcs8),
                });
            }
            published.push(PublicJwk::ed25519(key.kid, &key.public_key));
        }
        let signing = signing.ok_or(AuthError::Crypto(CryptoError::Malformed))?;
        Ok(Keyring::new(signing, published))
    }
}
