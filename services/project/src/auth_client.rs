//! Calls to the auth service, as this service rather than as an end user.
//!
//! Users are the auth service's: members are added by email, looked up
//! through its internal API. And the auth service is told whose role
//! changed, so it revokes API keys created by members who may no longer
//! create them.

use serde::{Deserialize, Serialize};
use serde_json::json;
use tenant_core::client::{ServiceCallError, ServiceClient};
use tenant_core::context::InternalTokenIssuer;
use tenant_core::email::Email;
use tenant_core::{Role, TenantContext};
use uuid::Uuid;

use crate::error::ProjectError;
use crate::{Settings, StartupError};

/// The principal id this service uses when it calls others on its own
/// behalf (fixed, so the auth service's logs can name the caller).
pub const PROJECT_SERVICE_PRINCIPAL: Uuid =
    Uuid::from_u128(0x0000_0000_0000_7000_8000_7072_6f6a_6563);

/// A user as the auth service describes it.
#[derive(Debug, Clone, Deserialize)]
pub struct DirectoryUser {
    pub id: Uuid,
    pub email: String,
    pub display_name: String,
    #[serde(default)]
    pub disabled: bool,
}

/// What the auth service is told about one member: their role now (none
/// when they are no longer a member) as of a change of the access feed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MemberAccess {
    pub project_id: Uuid,
    pub user_id: Uuid,
    pub role: Option<Role>,
    pub as_of_seq: i64,
}

/// The auth service's internal API.
#[derive(Debug, Clone)]
pub struct AuthClient {
    auth: ServiceClient,
}

impl AuthClient {
    /// A client for `service.auth_url`, signing with this service's
    /// internal-token key.
    pub fn new(settings: &Settings) -> Result<Self, StartupError> {
        let issuer = InternalTokenIssuer::new(&settings.internal_token)
            .map_err(|error| StartupError::AuthClient(Box::new(error)))?;
        let auth = ServiceClient::new(
            &settings.service.auth_url,
            "auth-service",
            issuer,
            settings.service.auth_timeout(),
        )
        .map_err(|error| StartupError::AuthClient(Box::new(error)))?;
        Ok(Self { auth })
    }

    /// The active user with `email`. `request_id` ties the call to the
    /// request that needs it.
    pub async fn find_user_by_email(
        &self,
        email: &Email,
        request_id: &str,
    ) -> Result<DirectoryUser, ProjectError> {
        let context = TenantContext::service(PROJECT_SERVICE_PRINCIPAL, request_id);
        let path = format!(
            "/internal/v1/users?email={}",
            percent_encode(email.as_str())
        );
        match self.auth.get_json::<DirectoryUser>(&path, &context).await {
            Ok(user) if user.disabled => Err(ProjectError::UserDisabled),
            Ok(user) => Ok(user),
            // Only the lookup's own 404: a missing route is an outage, not
            // an unknown user.
            Err(ServiceCallError::Status { status, code, .. })
                if status.as_u16() == 404 && code == "user.not_found" =>
            {
                Err(ProjectError::UnknownUser)
            }
            Err(error) => Err(ProjectError::Auth(error)),
        }
    }

    /// Tells the auth service the current role of each of `members`; it
    /// ignores a report older than one it already applied.
    pub async fn report_member_access(&self, members: &[MemberAccess]) -> Result<(), ProjectError> {
        let context = TenantContext::service(PROJECT_SERVICE_PRINCIPAL, "key-creator-relay");
        self.auth
            .post_json::<_, serde_json::Value>(
                "/internal/v1/api-keys/member-access",
                &json!({ "members": members }),
                &context,
            )
            .await
            .map_err(ProjectError::Auth)?;
        Ok(())
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters, so an
/// address like `a+b@example.com` reaches the auth service intact.
fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_keep_plus_signs_and_ats() {
        assert_eq!(percent_encode("a+b@x.io"), "a%2Bb%40x.io");
        assert_eq!(percent_encode("é"), "%C3%A9");
    }
}
