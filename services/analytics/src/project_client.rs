//! Calls to the project service, which owns memberships: the projects a
//! user is a member of, for the cross-project overview.

use serde::Deserialize;
use tenant_core::TenantContext;
use tenant_core::client::ServiceClient;
use tenant_core::context::{InternalTokenError, InternalTokenIssuer};
use uuid::Uuid;

use crate::Settings;
use crate::error::AnalyticsError;

/// The principal id this service uses when it calls others on its own
/// behalf (fixed, so the project service's logs can name the caller).
pub const ANALYTICS_SERVICE_PRINCIPAL: Uuid =
    Uuid::from_u128(0x0000_0000_0000_7000_8000_616e_616c_7974);

/// Why the client could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum ProjectClientError {
    #[error("cannot sign calls to the project service")]
    Token(#[from] InternalTokenError),
    #[error("cannot build the HTTP client for the project service")]
    Http(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// The project service's internal membership API.
#[derive(Debug, Clone)]
pub struct ProjectClient {
    project: ServiceClient,
}

#[derive(Debug, Deserialize)]
struct MemberProjects {
    project_ids: Vec<Uuid>,
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

    /// The ids of the projects `user` is a member of now, asked as this
    /// service with the request's id so the call joins its trace.
    pub async fn member_projects(
        &self,
        user: Uuid,
        request_id: &str,
    ) -> Result<Vec<Uuid>, AnalyticsError> {
        let context = TenantContext::service(ANALYTICS_SERVICE_PRINCIPAL, request_id);
        let path = format!("/internal/v1/users/{user}/projects");
        let answer: MemberProjects = self
            .project
            .get_json(&path, &context)
            .await
            .map_err(AnalyticsError::Dependency)?;
        Ok(answer.project_ids)
    }
}
