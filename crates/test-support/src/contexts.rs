//! Tenant contexts as the gateway would send them, built in one line.

use tenant_core::{Principal, PrincipalKind, ProjectAccess, Role, TenantContext};
use uuid::Uuid;

/// The request id every context built here carries.
pub const REQUEST_ID: &str = "test-request";

/// A signed-in user with `role` in `project_id`.
pub fn user(project_id: Uuid, role: Role) -> TenantContext {
    in_project(Uuid::now_v7(), PrincipalKind::User, project_id, role)
}

/// An API key with `role` in `project_id`, as CI uploaders call.
pub fn api_key(project_id: Uuid, role: Role) -> TenantContext {
    in_project(Uuid::now_v7(), PrincipalKind::ApiKey, project_id, role)
}

/// `principal` of `kind` with `role` in `project_id`.
pub fn in_project(
    principal: Uuid,
    kind: PrincipalKind,
    project_id: Uuid,
    role: Role,
) -> TenantContext {
    TenantContext::new(
        Principal {
            id: principal,
            kind,
        },
        Some(ProjectAccess { project_id, role }),
        REQUEST_ID,
    )
}

/// A signed-in user outside any project.
pub fn signed_in(user_id: Uuid) -> TenantContext {
    TenantContext::new(
        Principal {
            id: user_id,
            kind: PrincipalKind::User,
        },
        None,
        REQUEST_ID,
    )
}

/// Another Faultline service (the gateway, a relay) calling an internal route.
pub fn service() -> TenantContext {
    TenantContext::service(Uuid::now_v7(), REQUEST_ID)
}

/// A caller without credentials on a public route (sign up, log in).
pub fn anonymous() -> TenantContext {
    TenantContext::new(
        Principal {
            id: Uuid::nil(),
            kind: PrincipalKind::Anonymous,
        },
        None,
        REQUEST_ID,
    )
}
