//! `web.sessions`: sessions kept in PostgreSQL, so a restart signs nobody
//! out and every replica serves every browser. Rows are found by the
//! SHA-256 of the cookie's id; the tokens are sealed
//! ([`crate::domain::sealing`]) with the row's id hash as associated data.
//! Not tenant data (a session spans the user's projects), so it is read in
//! an unscoped transaction.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tenant_core::{Db, DbError};

use crate::domain::sealing::{SealingError, SessionKeys};
use crate::domain::sessions::{Session, Tokens, id_hash};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the session store failed")]
    Db(#[from] DbError),
    #[error("a session cannot be sealed")]
    Sealing(#[from] SealingError),
    #[error("a session's sealed content is malformed")]
    Malformed(#[from] serde_json::Error),
}

/// What is sealed: every secret of the session.
#[derive(Serialize, Deserialize)]
struct Sealed {
    csrf: String,
    access_token: String,
    refresh_token: String,
}

/// How often a session's `last_used_at` is written at most: reading a
/// page does not write a row each time.
const TOUCH_EVERY_SECS: f64 = 60.0;

#[derive(Debug)]
pub struct SessionStore {
    db: Db,
    keys: SessionKeys,
    idle: Duration,
}

impl SessionStore {
    pub fn new(db: Db, keys: SessionKeys, idle: Duration) -> Self {
        Self { db, keys, idle }
    }

    fn seal(
        &self,
        hash: &[u8],
        csrf: &str,
        tokens: &Tokens,
    ) -> Result<(String, Vec<u8>), StoreError> {
        let sealed = serde_json::to_vec(&Sealed {
            csrf: csrf.to_owned(),
            access_token: tokens.access_token.clone(),
            refresh_token: tokens.refresh_token.clone(),
        })?;
        Ok(self.keys.seal(&sealed, hash)?)
    }

    /// Starts and stores a session for `email` with its tokens.
    #[tracing::instrument(skip_all, err)]
    pub async fn start(&self, email: String, tokens: Tokens) -> Result<Session, StoreError> {
        let session = Session::new(email, tokens);
        let hash = id_hash(&session.id);
        let (key_id, sealed) = self.seal(&hash, &session.csrf_token, &session.tokens)?;
        let tx = self.db.unscoped_tx().await?;
        tx.execute(
            "INSERT INTO web.sessions (id_hash, email, key_id, sealed, access_expires_at)
             VALUES ($1, $2, $3, $4, $5)",
            &[
                &hash,
                &session.email,
                &key_id,
                &sealed,
                &session.tokens.access_expires_at,
            ],
        )
        .await?;
        tx.commit().await?;
        Ok(session)
    }

    /// The live session with this id (not revoked, used within the idle
    /// limit), marked as used. A session that no longer opens (its key
    /// was removed) is as good as gone: the user signs in again.
    #[tracing::instrument(skip_all, err)]
    pub async fn find(&self, id: &str) -> Result<Option<Session>, StoreError> {
        let hash = id_hash(id);
        let idle = self.idle.as_secs_f64();
        let tx = self.db.unscoped_tx().await?;
        let row = tx
            .query_opt(
                "SELECT email, key_id, sealed, access_expires_at,
                        last_used_at < now() - make_interval(secs => $3) AS stale
                   FROM web.sessions
                  WHERE id_hash = $1 AND revoked_at IS NULL
                    AND last_used_at > now() - make_interval(secs => $2)",
                &[&hash, &idle, &TOUCH_EVERY_SECS],
            )
            .await?;
        let Some(row) = row else {
            tx.commit().await?;
            return Ok(None);
        };
        if row.try_get::<_, bool>("stale").map_err(DbError::from)? {
            tx.execute(
                "UPDATE web.sessions SET last_used_at = now() WHERE id_hash = $1",
                &[&hash],
            )
            .await?;
        }
        tx.commit().await?;
        let key_id: String = row.try_get("key_id").map_err(DbError::from)?;
        let sealed: Vec<u8> = row.try_get("sealed").map_err(DbError::from)?;
        let opened = match self.keys.open(&key_id, &sealed, &hash) {
            Ok(opened) => opened,
            Err(error) => {
                tracing::warn!(%error, key_id, "a stored session does not open; its user signs in again");
                return Ok(None);
            }
        };
        let secrets: Sealed = serde_json::from_slice(&opened)?;
        Ok(Some(Session {
            id: id.to_owned(),
            email: row.try_get("email").map_err(DbError::from)?,
            csrf_token: secrets.csrf,
            tokens: Tokens {
                access_token: secrets.access_token,
                refresh_token: secrets.refresh_token,
                access_expires_at: row
                    .try_get::<_, DateTime<Utc>>("access_expires_at")
                    .map_err(DbError::from)?,
            },
            forwarded_for: None,
        }))
    }

    /// Replaces a session's tokens after a refresh (sealed under the
    /// current key, so a rotation moves sessions as they refresh).
    #[tracing::instrument(skip_all, err)]
    pub async fn update_tokens(
        &self,
        session: &Session,
        tokens: &Tokens,
    ) -> Result<(), StoreError> {
        let hash = id_hash(&session.id);
        let (key_id, sealed) = self.seal(&hash, &session.csrf_token, tokens)?;
        let tx = self.db.unscoped_tx().await?;
        tx.execute(
            "UPDATE web.sessions SET key_id = $2, sealed = $3, access_expires_at = $4
              WHERE id_hash = $1 AND revoked_at IS NULL",
            &[&hash, &key_id, &sealed, &tokens.access_expires_at],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Revokes a session: its cookie names nothing from now on, and its
    /// sealed tokens are erased. Whether it was live.
    #[tracing::instrument(skip_all, err)]
    pub async fn end(&self, id: &str) -> Result<bool, StoreError> {
        let hash = id_hash(id);
        let tx = self.db.unscoped_tx().await?;
        let ended = tx
            .execute(
                "UPDATE web.sessions SET revoked_at = now(), sealed = '\\x'::bytea
                  WHERE id_hash = $1 AND revoked_at IS NULL",
                &[&hash],
            )
            .await?;
        tx.commit().await?;
        Ok(ended == 1)
    }

    /// Deletes at most `batch` revoked or idle sessions; how many. Rows
    /// another replica is deleting are skipped, not waited for.
    #[tracing::instrument(skip_all, err)]
    pub async fn clean_up(&self, batch: i64) -> Result<u64, StoreError> {
        let idle = self.idle.as_secs_f64();
        let tx = self.db.unscoped_tx().await?;
        let deleted = tx
            .execute(
                "DELETE FROM web.sessions WHERE id_hash IN (
                     SELECT id_hash FROM web.sessions
                      WHERE revoked_at IS NOT NULL
                         OR last_used_at < now() - make_interval(secs => $1)
                      LIMIT $2
                        FOR UPDATE SKIP LOCKED)",
                &[&idle, &batch],
            )
            .await?;
        tx.commit().await?;
        Ok(deleted)
    }
}
