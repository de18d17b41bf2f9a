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
use std::time::{Duration, Instant};

use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::EncodingKey;
use serde::Serialize;
use tenant_core::{Db, TenantTx};
use tokio::sync::RwLock;

use crate::crypto::{CryptoError, MasterKeys, Sealed};
use crate::error::AuthError;

#[derive(Debug, Clone)]
pub struct KeyPolicy {
    pub jwks_max_age: Duration,
    pub rotation_days: i64,
    /// How long a retired key stays published.
    pub retired_publication: Duration,
    pub refresh: Duration,
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

#[derive(Debug)]
pub struct Keyring {
    loaded_at: Instant,
    pub signing: SigningKey,
    pub published: Vec<PublicJwk>,
}

#[derive(Debug)]
pub struct KeyStore {
    db: Db,
    master: Arc<MasterKeys>,
    policy: KeyPolicy,
    cache: RwLock<Option<Arc<Keyring>>>,
}

const KEYRING_LOCK: &str = "SELECT pg_advisory_xact_lock(hashtext('faultline.auth.keyring'))";

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
            && keyring.loaded_at.elapsed() < self.policy.refresh
        {
            return Ok(keyring.clone());
        }
        let mut cache = self.cache.write().await;
        if let Some(keyring) = cache.as_ref()
            && keyring.loaded_at.elapsed() < self.policy.refresh
        {
            return Ok(keyring.clone());
        }
        let keyring = Arc::new(self.load().await?);
        *cache = Some(keyring.clone());
        Ok(keyring)
    }

    /// Creates a pending key; returns its kid.
    pub async fn rotate(&self) -> Result<String, AuthError> {
        let tx = self.db.unscoped_tx().await?;
        tx.execute(KEYRING_LOCK, &[]).await?;
        let kid = self
            .insert_key(&tx, "pending", self.activation_delay())
            .await?;
        tx.execute(
            "INSERT INTO auth.audit_events (id, kind, details) VALUES ($1, 'key_rotated', jsonb_build_object('kid', $2::text))",
            &[&uuid::Uuid::now_v7(), &kid],
        )
        .await?;
        tx.commit().await?;
        *self.cache.write().await = None;
        tracing::info!(
            kid,
            "signing key created; it signs once published long enough"
        );
        Ok(kid)
    }

    fn activation_delay(&self) -> Duration {
        self.policy.jwks_max_age * 2
    }

    async fn insert_key(
        &self,
        tx: &TenantTx,
        state: &str,
        activation_delay: Duration,
    ) -> Result<String, AuthError> {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).map_err(|_| CryptoError::Random)?;
        let pair =
            Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).map_err(|_| CryptoError::Malformed)?;
        let kid = format!("k{}", uuid::Uuid::now_v7().simple());
        let sealed = self.master.seal(pkcs8.as_ref(), kid.as_bytes())?;
        let delay_secs = activation_delay.as_secs_f64();
        tx.execute(
            "INSERT INTO auth.signing_keys
                 (kid, public_key, private_key_ciphertext, nonce, master_key_id, state, activates_at)
             VALUES ($1, $2, $3, $4, $5, $6, now() + make_interval(secs => $7))",
            &[
                &kid,
                &pair.public_key().as_ref(),
                &sealed.ciphertext,
                &sealed.nonce,
                &sealed.master_key_id,
                &state,
                &delay_secs,
            ],
        )
        .await?;
        Ok(kid)
    }

    async fn load(&self) -> Result<Keyring, AuthError> {
        let tx = self.db.unscoped_tx().await?;
        tx.execute(KEYRING_LOCK, &[]).await?;
        let live: i64 = tx
            .query_one(
                "SELECT count(*) FROM auth.signing_keys WHERE state IN ('pending', 'active')",
                &[],
            )
            .await?
            .get(0);
        if live == 0 {
            // First start: a key that signs at once (nothing verifies yet).
            self.insert_key(&tx, "active", Duration::ZERO).await?;
        }
        tx.execute(
            "UPDATE auth.signing_keys SET state = 'active' WHERE state = 'pending' AND activates_at <= now()",
            &[],
        )
        .await?;
        let publication = self.policy.retired_publication.as_secs_f64();
        tx.execute(
            "WITH newest AS (
                 SELECT kid FROM auth.signing_keys WHERE state = 'active'
                  ORDER BY activates_at DESC, kid DESC LIMIT 1)
             UPDATE auth.signing_keys k
                SET state = 'retired', retired_at = now(),
                    publish_until = now() + make_interval(secs => $1)
               FROM newest
              WHERE k.state = 'active' AND k.kid <> newest.kid",
            &[&publication],
        )
        .await?;
        let rotation_due: bool = tx
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM auth.signing_keys WHERE state = 'active'
                                   AND activates_at < now() - make_interval(days => $1::int))
                    AND NOT EXISTS (SELECT 1 FROM auth.signing_keys WHERE state = 'pending')",
                &[&i32::try_from(self.policy.rotation_days).unwrap_or(i32::MAX)],
            )
            .await?
            .get(0);
        if rotation_due {
            let kid = self
                .insert_key(&tx, "pending", self.activation_delay())
                .await?;
            tx.execute(
                "INSERT INTO auth.audit_events (id, kind, details) VALUES ($1, 'key_rotated', jsonb_build_object('kid', $2::text, 'scheduled', true))",
                &[&uuid::Uuid::now_v7(), &kid],
            )
            .await?;
            tracing::info!(kid, "scheduled key rotation: new key pending");
        }

        let rows = tx
            .query(
                "SELECT kid, public_key, state, private_key_ciphertext, nonce, master_key_id
                   FROM auth.signing_keys
                  WHERE state IN ('pending', 'active') OR publish_until > now()
                  ORDER BY activates_at DESC, kid DESC",
                &[],
            )
            .await?;
        tx.commit().await?;

        let mut signing = None;
        let mut published = Vec::with_capacity(rows.len());
        for row in rows {
            let kid: String = row.get("kid");
            let public_key: Vec<u8> = row.get("public_key");
            let state: String = row.get("state");
            if state == "active" && signing.is_none() {
                let sealed = Sealed {
                    ciphertext: row.get("private_key_ciphertext"),
                    nonce: row.get("nonce"),
                    master_key_id: row.get("master_key_id"),
                };
                let pkcs8 = self.master.open(&sealed, kid.as_bytes())?;
                signing = Some(SigningKey {
                    kid: kid.clone(),
                    key: EncodingKey::from_ed_der(&pkcs8),
                });
            }
            published.push(PublicJwk {
                kty: "OKP",
                crv: "Ed25519",
                alg: "EdDSA",
                usage: "sig",
                kid,
                x: URL_SAFE_NO_PAD.encode(public_key),
            });
        }
        let signing = signing.ok_or(AuthError::Crypto(CryptoError::Malformed))?;
        Ok(Keyring {
            loaded_at: Instant::now(),
            signing,
            published,
        })
    }
}
