//! Calls to the project service, which owns memberships: whether a user
//! is a member of a project (a group's assignee must be).

use serde::Deserialize;
use tenant_core::client::{ServiceCallError, ServiceClient};
use tenant_core::context::{InternalTokenError, InternalTokenIssuer};
use tenant_core::{Role, TenantContext};
use uuid::Uuid;

use crate::Settings;
use crate::error::FailureError;

/// The principal id this service uses when it calls others on its own
/// behalf (fixed, so the project service's logs can name the caller).
pub const FAILURE_SERVICE_PRINCIPAL: Uuid =
    Uuid::from_u128(0x0000_0000_0000_7000_8000_6661_696c_7572);

/// Why the client could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum ProjectClientError {
    #[error("cannot sign calls to the project service")]
    Token(#[from] InternalTokenError),
    #[error("cannot build the HTTP client for the project service")]
    Http(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// The project service's internal access API.
#[derive(Debug, Clone)]
pub struct ProjectClient {
    project: ServiceClient,
}

/// The part of the project service's access answer used here.
#[derive(Debug, Deserialize)]
struct Access {
    project_id: Uuid,
    role: Role,
}

impl ProjectClient {
    /// A client for `service.project_url`, signing with this service's
    /// internal-token key.
    pub fn new(settings: &Settings) -> Result<Self, ProjectClientError> {
        let issuer = InternalTokenIssuer::new(&settings.internal_token)?;
        let project = ServiceClient::new(
            &settings.service.project_url,
            "project-service",
            issuer,
            settings.service.project_timeout(),
        )
        .map_err(|error| ProjectClientError::Http(Box::new(error)))?;
        Ok(Self { project })
    }

    /// The role `user` has in `project_id`, `None` when they are not a
    /// member (or the project is gone). Asked as this service, with the
    /// request's id so the call joins the request's trace.
    pub async fn member_role(
        &self,
        project_id: Uuid,
        user: Uuid,
        request_id: &str,
    ) -> Result<Option<Role>, FailureError> {
        let context = TenantContext::service(FAILURE_SERVICE_PRINCIPAL, request_id);
        let path = format!("/internal/v1/access?user={user}&project={project_id}");
        match self.project.get_json::<Access>(&path, &context).await {
            Ok(access) if access.project_id == project_id => Ok(Some(access.role)),
            Ok(_) => Ok(None),
            Err(error) if error.status().map(|status| status.as_u16()) == Some(404) => Ok(None),
            Err(error) => Err(FailureError::Dependency(error)),
        }
    }
}

impl From<ServiceCallError> for FailureError {
    fn from(error: ServiceCallError) -> Self {
        Self::Dependency(error)
    }
}
