//! Who an API key is, asked of the auth service and cached.

use std::sync::atomic::Ordering;
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use serde::Deserialize;
use sha2::Digest;
use tenant_core::Role;
use tenant_core::client::ServiceCallError;
use uuid::Uuid;

use super::Lookups;

/// Who an API key is.
#[derive(Debug, Clone, Deserialize)]
pub struct KeyPrincipal {
    /// The key's id.
    pub principal_id: Uuid,
    pub project_id: Uuid,
    pub role: Role,
    /// Answers are cached no longer than this.
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
}

impl Lookups {
    /// `None` for unknown, expired or revoked keys. Refusals are cached
    /// briefly; a key's principal is cached while the revocation feed,
    /// which drops it when the key is revoked, is current.
    #[tracing::instrument(skip_all, err(level = "warn"))]
    pub async fn introspect(
        &self,
        key: &str,
        request_id: &str,
    ) -> Result<Option<KeyPrincipal>, ServiceCallError> {
        let digest: [u8; 32] = sha2::Sha256::digest(key.as_bytes()).into();
        match self.api_keys.get(&digest) {
            Some(None) => return Ok(None),
            Some(Some(principal)) if self.revocation_feed.is_current(self.feed_trusted_for) => {
                return Ok(Some(principal));
            }
            _ => {}
        }
        let epoch = self.api_key_epoch.load(Ordering::SeqCst);
        let answer = self
            .auth
            .post_json::<_, KeyPrincipal>(
                "/internal/v1/api-keys/introspect",
                &serde_json::json!({ "key": key }),
                &self.context(request_id),
            )
            .await;
        let (value, ttl) = match answer {
            Ok(principal) => {
                let ttl = match principal.expires_at {
                    Some(at) => self
                        .api_key_ttl
                        .min((at - Utc::now()).to_std().unwrap_or(Duration::ZERO)),
                    None => self.api_key_ttl,
                };
                (Some(principal), ttl)
            }
            Err(error) if error.status() == Some(StatusCode::UNAUTHORIZED) => {
                (None, self.api_key_negative_ttl)
            }
            Err(error) => return Err(error),
        };
        if !ttl.is_zero() {
            self.api_keys.insert(digest, value.clone(), ttl);
            if self.api_key_epoch.load(Ordering::SeqCst) != epoch {
                self.api_keys.remove(&digest);
            }
        }
        Ok(value)
    }
}
