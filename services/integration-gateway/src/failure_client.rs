//! Calls to the failure service, which owns failure groups: a group's
//! details for an issue, the issue link shown on the group, resolving a
//! group whose issue is done. Never its tables.

use std::time::Duration;

use serde_json::{Value, json};
use tenant_core::TenantContext;
use tenant_core::client::{ServiceCallError, ServiceClient};
use tenant_core::context::{InternalTokenError, InternalTokenIssuer};
use uuid::Uuid;

use crate::Settings;
use crate::domain::jira::GroupForIssue;

/// The principal id this service uses when it calls others on its own
/// behalf (fixed, so the failure service's activity log can name it).
pub const INTEGRATION_PRINCIPAL: Uuid = Uuid::from_u128(0x0000_0000_0000_7000_8000_696e_7467_7277);

#[derive(Debug, thiserror::Error)]
pub enum FailureClientError {
    #[error("cannot sign calls to the failure service")]
    Token(#[from] InternalTokenError),
    #[error("cannot build the HTTP client for the failure service")]
    Http(#[source] reqwest::Error),
}

/// The failure service's API, called as this service in one project.
#[derive(Debug, Clone)]
pub struct FailureClient {
    failure: ServiceClient,
}

fn as_service(project_id: Uuid) -> TenantContext {
    TenantContext::service_in_project(
        INTEGRATION_PRINCIPAL,
        project_id,
        Uuid::now_v7().to_string(),
    )
}

impl FailureClient {
    pub fn new(settings: &Settings) -> Result<Self, FailureClientError> {
        let issuer = InternalTokenIssuer::new(&settings.internal_token)?;
        let failure = ServiceClient::new(
            &settings.service.failure_url,
            "failure-service",
            issuer,
            Duration::from_millis(settings.service.failure_timeout_ms),
        )
        .map_err(FailureClientError::Http)?;
        Ok(Self { failure })
    }

    /// The v2 group; `None` when the project has no such group.
    pub async fn group(
        &self,
        project_id: Uuid,
        group_id: Uuid,
    ) -> Result<Option<GroupForIssue>, ServiceCallError> {
        let path = format!("/v2/projects/{project_id}/failures/{group_id}");
        match self.failure.get_json(&path, &as_service(project_id)).await {
            Ok(group) => Ok(Some(group)),
            Err(error) if error.status() == Some(reqwest::StatusCode::NOT_FOUND) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Records the group's issue (or its new status) on the group.
    pub async fn record_link(
        &self,
        project_id: Uuid,
        group_id: Uuid,
        provider: &str,
        key: &str,
        url: &str,
        status: &str,
    ) -> Result<(), ServiceCallError> {
        let path = format!(
            "/internal/v1/projects/{project_id}/failure-groups/{group_id}/issue-links/{provider}"
        );
        let body = json!({"key": key, "url": url, "status": status});
        let _: Value = self
            .failure
            .put_json(&path, &body, &as_service(project_id))
            .await?;
        Ok(())
    }

    /// Resolves the group (its issue is done).
    pub async fn resolve_group(
        &self,
        project_id: Uuid,
        group_id: Uuid,
    ) -> Result<(), ServiceCallError> {
        let path = format!("/v2/projects/{project_id}/failures/{group_id}");
        let body = json!({"status": "resolved"});
        let _: Value = self
            .failure
            .patch_json(&path, &body, &as_service(project_id))
            .await?;
        Ok(())
    }
}
