//! A member's own Jira connection: completing the OAuth flow, and an
//! access token that is fresh, refreshed under the connection's row lock
//! (one refresh per connection at a time; the rotated refresh token is
//! committed before the new access token is used).

use chrono::{Duration, Utc};
use secrecy::SecretString;
use tenant_core::{Db, TenantContext};
use uuid::Uuid;

use crate::IntegrationState;
use crate::error::IntegrationError;
use crate::jira_oauth::{AtlassianClient, OAuthError, Tokens};
use crate::repository::jira_users::{self, SealedTokens, UserConnection};
use crate::sealing::{DataKey, secret_aad};

/// Seconds before expiry from which an access token is refreshed first.
const EXPIRY_MARGIN_SECS: i64 = 30;

pub fn seal_tokens(
    key: &DataKey,
    project_id: Uuid,
    user_id: Uuid,
    tokens: &Tokens,
) -> Result<SealedTokens, IntegrationError> {
    Ok(SealedTokens {
        access: key.seal(
            &tokens.access_token,
            &secret_aad(project_id, user_id, "jira_access_token"),
        )?,
        refresh: key.seal(
            &tokens.refresh_token,
            &secret_aad(project_id, user_id, "jira_refresh_token"),
        )?,
        expires_at: Utc::now() + Duration::seconds(tokens.expires_in_secs.clamp(0, 86_400)),
    })
}

/// The member's connection and an access token valid for at least
/// [`EXPIRY_MARGIN_SECS`], refreshing (and committing the rotation) first
/// when needed. `invalid_grant` marks the connection `needs_reauth`.
pub async fn fresh_access_token(
    db: &Db,
    ctx: &TenantContext,
    state: &IntegrationState,
    project_id: Uuid,
    user_id: Uuid,
) -> Result<(UserConnection, SecretString), IntegrationError> {
    let tx = db.tenant_tx(ctx).await?;
    let connection = jira_users::find_connection(&tx, project_id, user_id, true)
        .await?
        .ok_or(IntegrationError::NotConnected)?;
    if connection.status == "needs_reauth" {
        return Err(IntegrationError::NeedsReauth);
    }
    let key = state.secrets.data_key(&tx, project_id).await?;
    if connection.access_expires_at > Utc::now() + Duration::seconds(EXPIRY_MARGIN_SECS) {
        let access = key.open(
            &connection.access_token_sealed,
            &secret_aad(project_id, user_id, "jira_access_token"),
        )?;
        tx.commit().await?;
        return Ok((connection, access));
    }
    let refresh = key.open(
        &connection.refresh_token_sealed,
        &secret_aad(project_id, user_id, "jira_refresh_token"),
    )?;
    let client = AtlassianClient::new(&state.outbound, &state.settings);
    match client.refresh(&refresh).await {
        Ok(tokens) => {
            let sealed = seal_tokens(&key, project_id, user_id, &tokens)?;
            jira_users::store_refreshed(&tx, project_id, user_id, &sealed).await?;
            tx.commit().await?;
            tracing::info!(%project_id, "Jira tokens rotated");
            Ok((connection, tokens.access_token))
        }
        Err(OAuthError::InvalidGrant(reason)) => {
            jira_users::mark_needs_reauth(&tx, project_id, user_id).await?;
            tx.commit().await?;
            tracing::warn!(%project_id, reason, "Jira refused the refresh token: needs reauthorisation");
            Err(IntegrationError::NeedsReauth)
        }
        Err(error) => Err(IntegrationError::OAuth(error)),
    }
}
