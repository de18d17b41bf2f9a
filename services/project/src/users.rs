//! Users are the auth service's: members are added by email, looked up
//! through its internal API as this service, not as the end user.

use serde::Deserialize;
use tenant_core::TenantContext;
use tenant_core::client::{ServiceCallError, ServiceClient};
use uuid::Uuid;

use crate::domain::Email;
use crate::error::ProjectError;

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

/// Looks users up in the auth service.
#[derive(Debug, Clone)]
pub struct UserDirectory {
    auth: ServiceClient,
}

impl UserDirectory {
    pub fn new(auth: ServiceClient) -> Self {
        Self { auth }
    }

    /// The active user with `email`. `request_id` ties the call to the
    /// request that needs it.
    pub async fn find_by_email(
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
