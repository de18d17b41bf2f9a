//! A delivery through a GitHub connection: the one Faultline comment on
//! each open pull request of the event's commit, updated in place (found
//! by its stored id, else by its marker among the pull request's
//! comments, else created).

use std::time::Duration;

use tenant_core::TenantTx;
use uuid::Uuid;

use crate::domain::github::{PR_COMMENT_MARKER, PullRequestComment};
use crate::error::IntegrationError;
use crate::github::{GithubClient, GithubError};
use crate::notify::Outcome;
use crate::outbound::OutboundPolicy;
use crate::repository::connections::ConnectionForSending;
use crate::repository::deliveries::ClaimedDelivery;
use crate::repository::pull_request_comments;
use crate::sealing::DataKey;
use crate::secrets::SecretStore;
use crate::settings::IntegrationSettings;

fn failed(error: &GithubError) -> Outcome {
    Outcome::Failed {
        error: error.to_string(),
        status: error.status(),
        retry_after: error.retry_after(),
        permanent: !error.is_transient(),
    }
}

/// Updates the comment of every open pull request of the event's commit.
pub async fn update_comments(
    tx: &TenantTx,
    policy: &OutboundPolicy,
    settings: &IntegrationSettings,
    project_id: Uuid,
    key: &DataKey,
    connection: &ConnectionForSending,
    delivery: &ClaimedDelivery,
) -> Result<Outcome, IntegrationError> {
    let Some(sha) = delivery.payload.get("commit_sha").and_then(|s| s.as_str()) else {
        return Ok(Outcome::Delivered { status: 204 });
    };
    let setting = |name: &str| {
        connection
            .settings
            .get(name)
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_owned()
    };
    let Some(token) =
        SecretStore::open(key, project_id, connection.id, &connection.secrets, "token")?
    else {
        return Ok(Outcome::Failed {
            error: "the connection's GitHub token cannot be opened".to_owned(),
            status: None,
            retry_after: None,
            permanent: true,
        });
    };
    let client = GithubClient::new(
        policy,
        &settings.github_api_url,
        &setting("owner"),
        &setting("repo"),
        token,
        Duration::from_secs(settings.jira_max_retry_after_secs),
    );
    let pulls = match client.open_pulls_of_commit(sha).await {
        Ok(pulls) => pulls,
        Err(error) => return Ok(failed(&error)),
    };
    for number in pulls {
        let (stored_id, state) =
            pull_request_comments::lock(tx, project_id, connection.id, number).await?;
        let mut comment: PullRequestComment = serde_json::from_value(state).unwrap_or_default();
        if !comment.apply(&delivery.kind, &delivery.payload) {
            continue;
        }
        let body = comment.render();
        let updated = match stored_id {
            Some(id) => match client.update_comment(id, &body).await {
                Ok(true) => Some(id),
                Ok(false) => None,
                Err(error) => return Ok(failed(&error)),
            },
            None => None,
        };
        let id = match updated {
            Some(id) => id,
            None => {
                let found = match client.find_comment(number, PR_COMMENT_MARKER).await {
                    Ok(found) => found,
                    Err(error) => return Ok(failed(&error)),
                };
                match found {
                    Some(id) => match client.update_comment(id, &body).await {
                        Ok(_) => id,
                        Err(error) => return Ok(failed(&error)),
                    },
                    None => match client.create_comment(number, &body).await {
                        Ok(id) => id,
                        Err(error) => return Ok(failed(&error)),
                    },
                }
            }
        };
        let state = serde_json::to_value(&comment).unwrap_or_default();
        pull_request_comments::save(tx, project_id, connection.id, number, id, &state).await?;
    }
    Ok(Outcome::Delivered { status: 200 })
}
