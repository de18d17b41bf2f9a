//! `auth.signing_keys`: the keyring, private halves sealed. Replicas
//! serialise changes with an advisory lock held by the transaction.

use std::time::Duration;

use tenant_core::{DbError, TenantTx};

use super::Parsed;
use crate::crypto::Sealed;
use crate::domain::signing_keys::KeyState;

/// Waits for, then holds until the transaction ends, the keyring's lock.
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn lock_keyring(tx: &TenantTx) -> Result<(), DbError> {
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtext('faultline.auth.keyring'))",
        &[],
    )
    .await?;
    Ok(())
}

/// Keys that sign or are about to.
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn count_live(tx: &TenantTx) -> Result<i64, DbError> {
    Ok(tx
        .query_one(
            "SELECT count(*) FROM auth.signing_keys WHERE state IN ('pending', 'active')",
            &[],
        )
        .await?
        .try_get(0)?)
}

/// A new key pair, its private half sealed under the kid.
#[derive(Debug)]
pub struct NewSigningKey {
    pub kid: String,
    pub public_key: Vec<u8>,
    pub private_key: Sealed,
    pub state: KeyState,
    /// Published this long before it may sign.
    pub activation_delay: Duration,
}

#[tracing::instrument(skip_all, fields(kid = %key.kid), err(level = "warn"))]
pub async fn insert(tx: &TenantTx, key: &NewSigningKey) -> Result<(), DbError> {
    tx.execute(
        "INSERT INTO auth.signing_keys
             (kid, public_key, private_key_ciphertext, nonce, master_key_id, state, activates_at)
         VALUES ($1, $2, $3, $4, $5, $6, now() + make_interval(secs => $7))",
        &[
            &key.kid,
            &key.public_key,
            &key.private_key.ciphertext,
            &key.private_key.nonce,
            &key.private_key.master_key_id,
            &key.state.as_str(),
            &key.activation_delay.as_secs_f64(),
        ],
    )
    .await?;
    Ok(())
}

/// Pending keys published long enough start signing.
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn activate_due(tx: &TenantTx) -> Result<(), DbError> {
    tx.execute(
        "UPDATE auth.signing_keys SET state = 'active' WHERE state = 'pending' AND activates_at <= now()",
        &[],
    )
    .await?;
    Ok(())
}

/// Retires every active key but the newest; each stays published for
/// `publication` more.
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn retire_superseded(tx: &TenantTx, publication: Duration) -> Result<(), DbError> {
    tx.execute(
        "WITH newest AS (
             SELECT kid FROM auth.signing_keys WHERE state = 'active'
              ORDER BY activates_at DESC, kid DESC LIMIT 1)
         UPDATE auth.signing_keys k
            SET state = 'retired', retired_at = now(),
                publish_until = now() + make_interval(secs => $1)
           FROM newest
          WHERE k.state = 'active' AND k.kid <> newest.kid",
        &[&publication.as_secs_f64()],
    )
    .await?;
    Ok(())
}

/// An active key is older than `rotation_days` and no successor is pending.
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn rotation_due(tx: &TenantTx, rotation_days: i64) -> Result<bool, DbError> {
    Ok(tx
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM auth.signing_keys WHERE state = 'active'
                               AND activates_at < now() - make_interval(days => $1::int))
                AND NOT EXISTS (SELECT 1 FROM auth.signing_keys WHERE state = 'pending')",
            &[&i32::try_from(rotation_days).unwrap_or(i32::MAX)],
        )
        .await?
        .try_get(0)?)
}

/// A key verifiers may need, newest first.
#[derive(Debug)]
pub struct PublishedKey {
    pub kid: String,
    pub public_key: Vec<u8>,
    pub state: KeyState,
    pub private_key: Sealed,
}

/// Pending and active keys, and retired ones still published, newest first.
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn published(tx: &TenantTx) -> Result<Vec<PublishedKey>, DbError> {
    tx.query(
        "SELECT kid, public_key, state, private_key_ciphertext, nonce, master_key_id
           FROM auth.signing_keys
          WHERE state IN ('pending', 'active') OR publish_until > now()
          ORDER BY activates_at DESC, kid DESC",
        &[],
    )
    .await?
    .iter()
    .map(|row| {
        Ok(PublishedKey {
            kid: row.try_get("kid")?,
            public_key: row.try_get("public_key")?,
            state: row.try_get::<_, Parsed<KeyState>>("state")?.0,
            private_key: Sealed {
                ciphertext: row.try_get("private_key_ciphertext")?,
                nonce: row.try_get("nonce")?,
                master_key_id: row.try_get("master_key_id")?,
            },
        })
    })
    .collect()
}
