//! Sealing and opening connection secrets with the project's data key
//! (see [`crate::sealing`] for the scheme), and `keys rewrap`, which moves
//! every data key to the newest master key.

use std::sync::Arc;

use secrecy::SecretString;
use tenant_core::{Db, TenantTx};
use uuid::Uuid;

use crate::domain::connections::last_four;
use crate::error::IntegrationError;
use crate::repository::connections::StoredSecret;
use crate::repository::project_keys;
use crate::sealing::{DataKey, MasterKeys, SealingError, secret_aad};

/// The master keys, shared by handlers and the delivery worker.
#[derive(Debug, Clone)]
pub struct SecretStore {
    keys: Arc<MasterKeys>,
}

impl SecretStore {
    pub fn new(keys: MasterKeys) -> Self {
        Self {
            keys: Arc::new(keys),
        }
    }

    /// The project's data key, made and stored (wrapped) on first use.
    pub async fn data_key(
        &self,
        tx: &TenantTx,
        project_id: Uuid,
    ) -> Result<DataKey, IntegrationError> {
        if let Some(stored) = project_keys::find(tx, project_id, false).await? {
            return Ok(self.keys.unwrap(project_id, &stored)?);
        }
        let (_, wrapped) = self.keys.new_data_key(project_id)?;
        // Another request may have stored one first: use whichever won.
        let stored = project_keys::insert_or_get(tx, project_id, &wrapped).await?;
        Ok(self.keys.unwrap(project_id, &stored)?)
    }

    /// Seals each of `secrets` for its connection and field.
    pub fn seal(
        key: &DataKey,
        project_id: Uuid,
        connection_id: Uuid,
        secrets: &[(&'static str, SecretString)],
    ) -> Result<Vec<StoredSecret>, SealingError> {
        secrets
            .iter()
            .map(|(field, secret)| {
                Ok(StoredSecret {
                    field: (*field).to_owned(),
                    sealed: key.seal(secret, &secret_aad(project_id, connection_id, field))?,
                    last_four: last_four(secret),
                })
            })
            .collect()
    }

    /// Opens the secret `field` of a connection, if it has one.
    pub fn open(
        key: &DataKey,
        project_id: Uuid,
        connection_id: Uuid,
        secrets: &[StoredSecret],
        field: &str,
    ) -> Result<Option<SecretString>, SealingError> {
        secrets
            .iter()
            .find(|s| s.field == field)
            .map(|s| key.open(&s.sealed, &secret_aad(project_id, connection_id, field)))
            .transpose()
    }
}

/// What `keys rewrap` did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RewrapReport {
    /// Data keys now wrapped by the newest master key.
    pub rewrapped: usize,
    /// Projects whose data key could not be unwrapped (its master key is
    /// not configured, or it fails authentication); left as they were.
    pub failed: Vec<Uuid>,
}

/// Re-wraps every data key not under the current master key with it, one
/// project per transaction (the row locked while it changes). Secrets are
/// untouched: they stay sealed by the same data keys.
pub async fn rewrap_data_keys(
    db: &Db,
    keys: &MasterKeys,
) -> Result<RewrapReport, IntegrationError> {
    let lookup = db.unscoped_tx().await?;
    let projects = project_keys::projects_not_under(&lookup, keys.current_id()).await?;
    lookup.commit().await?;
    let mut report = RewrapReport::default();
    for project_id in projects {
        let tx = db.worker_tx(project_id).await?;
        let Some(stored) = project_keys::find(&tx, project_id, true).await? else {
            continue;
        };
        if stored.master_key_id == keys.current_id() {
            continue;
        }
        match keys.unwrap(project_id, &stored) {
            Ok(data_key) => {
                let rewrapped = keys.wrap(project_id, &data_key)?;
                project_keys::replace(&tx, project_id, &rewrapped).await?;
                tx.commit().await?;
                report.rewrapped += 1;
            }
            Err(error) => {
                tracing::error!(%project_id, error = %error, "data key could not be unwrapped; left as it was");
                report.failed.push(project_id);
            }
        }
    }
    Ok(report)
}
