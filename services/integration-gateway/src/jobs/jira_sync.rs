//! The Jira status sync.
//!
//! Every `service.jira_sync_interval_ms` it finds the projects with Jira
//! issues whose group it has not resolved yet (the `issue_link_projects`
//! view: ids only), and per project reads each issue's status from Jira,
//! one issue per transaction. Replicas may read the same issue in one
//! round; recording a status and resolving a group twice changes nothing
//! the first did not. The status is recorded here and
//! on the group in the failure service; an issue whose status category is
//! `done` resolves its group through the failure service's API. A Jira
//! that cannot be read is tried again at the next round.

use std::sync::{Arc, Weak};
use std::time::Duration;

use tenant_core::Db;
use uuid::Uuid;

use crate::error::IntegrationError;
use crate::failure_client::FailureClient;
use crate::jira::JiraClient;
use crate::outbound::OutboundPolicy;
use crate::repository::connections;
use crate::repository::issue_links::{self, IssueLink};
use crate::secrets::SecretStore;
use crate::settings::IntegrationSettings;

/// Issues read per project per round.
const ISSUES_PER_ROUND: i64 = 100;

/// Reads linked Jira issues; held by the routes, so it stops with the
/// service.
#[derive(Debug)]
pub struct JiraSync {
    db: Db,
    secrets: SecretStore,
    policy: OutboundPolicy,
    settings: Arc<IntegrationSettings>,
    failure: FailureClient,
}

impl JiraSync {
    pub fn new(
        db: Db,
        secrets: SecretStore,
        policy: OutboundPolicy,
        settings: Arc<IntegrationSettings>,
        failure: FailureClient,
    ) -> Self {
        Self {
            db,
            secrets,
            policy,
            settings,
            failure,
        }
    }

    /// One round; how many groups it resolved.
    pub async fn round(&self) -> Result<usize, IntegrationError> {
        let lookup = self.db.unscoped_tx().await?;
        let projects = issue_links::projects_to_sync(&lookup).await?;
        lookup.commit().await?;
        let mut resolved = 0;
        for project_id in projects {
            let tx = self.db.worker_tx(project_id).await?;
            let links = issue_links::to_sync(&tx, project_id, ISSUES_PER_ROUND).await?;
            tx.commit().await?;
            for link in links {
                match self.sync_one(project_id, &link).await {
                    Ok(true) => resolved += 1,
                    Ok(false) => {}
                    Err(error) => tracing::warn!(
                        %project_id,
                        issue = %link.issue_key,
                        error = %tenant_core::error::error_chain(&error),
                        "Jira issue not synced this round"
                    ),
                }
            }
        }
        Ok(resolved)
    }

    /// Reads one issue; true when its group was resolved now.
    async fn sync_one(&self, project_id: Uuid, link: &IssueLink) -> Result<bool, IntegrationError> {
        let tx = self.db.worker_tx(project_id).await?;
        let Some(connection) =
            connections::for_sending(&tx, project_id, link.connection_id).await?
        else {
            return Ok(false);
        };
        let key = self.secrets.data_key(&tx, project_id).await?;
        let Some(token) = SecretStore::open(
            &key,
            project_id,
            connection.id,
            &connection.secrets,
            "api_token",
        )?
        else {
            return Ok(false);
        };
        let setting = |name: &str| {
            connection
                .settings
                .get(name)
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_owned()
        };
        let client = JiraClient::new(
            &self.policy,
            &setting("site_url"),
            &setting("email"),
            &token,
            Duration::from_secs(self.settings.jira_max_retry_after_secs),
        );
        let (status, done) = client
            .issue_status(&link.issue_key)
            .await
            .map_err(IntegrationError::Jira)?;
        self.failure
            .record_link(
                project_id,
                link.group_id,
                "jira",
                &link.issue_key,
                &link.issue_url,
                &status,
            )
            .await
            .map_err(IntegrationError::Failure)?;
        if done {
            self.failure
                .resolve_group(project_id, link.group_id)
                .await
                .map_err(IntegrationError::Failure)?;
        }
        issue_links::record_sync(&tx, project_id, link.group_id, &status, done, done).await?;
        tx.commit().await?;
        if done {
            tracing::info!(%project_id, group_id = %link.group_id, issue = %link.issue_key, "Jira issue done: group resolved");
        }
        Ok(done)
    }
}

/// Runs rounds every `interval` until the service holding `sync` stops.
pub fn spawn_jira_sync(sync: Weak<JiraSync>, interval: Duration) {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(interval).await;
            let Some(strong) = sync.upgrade() else {
                return;
            };
            if let Err(error) = strong.round().await {
                tracing::warn!(error = %tenant_core::error::error_chain(&error), "Jira sync round failed");
            }
        }
    });
}
