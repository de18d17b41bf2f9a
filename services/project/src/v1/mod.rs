//! Version 1 of the public API (the gateway maps `/api/v1/...` here) and
//! the internal API the gateway authorizes with.

pub mod access;
pub mod members;
pub mod openapi;
pub mod projects;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tenant_core::Role;
use uuid::Uuid;

use crate::domain::{Plan, PlanLimits, ProjectSettings, ProjectStatus};
use crate::repository::memberships::MemberRow;
use crate::repository::projects::ProjectRow;

/// A project as clients see it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = Project)]
pub struct ProjectView {
    pub id: Uuid,
    pub slug: String,
    pub name: String,
    pub description: String,
    #[schema(value_type = openapi::ProjectStatus)]
    pub status: ProjectStatus,
    #[schema(value_type = openapi::Plan)]
    pub plan: Plan,
    #[schema(value_type = openapi::PlanLimits)]
    pub limits: PlanLimits,
    #[schema(value_type = openapi::ProjectSettings)]
    pub settings: ProjectSettings,
    /// The caller's role; absent where the caller need not be a member
    /// (a platform admin changing a plan).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<openapi::Role>)]
    pub role: Option<Role>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub archived_at: Option<DateTime<Utc>>,
}

impl ProjectView {
    pub fn new(row: ProjectRow, role: Option<Role>) -> Self {
        Self {
            id: row.id,
            slug: row.slug,
            name: row.name,
            description: row.description,
            status: row.status,
            plan: row.plan,
            limits: row.plan.limits(),
            settings: row.settings,
            role,
            created_at: row.created_at,
            updated_at: row.updated_at,
            archived_at: row.archived_at,
        }
    }
}

/// A membership as clients see it. Names and emails stay with the auth
/// service; only the add answer carries the ones it just looked up.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = Member)]
pub struct MemberView {
    pub user_id: Uuid,
    #[schema(value_type = openapi::Role)]
    pub role: Role,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<MemberRow> for MemberView {
    fn from(row: MemberRow) -> Self {
        Self {
            user_id: row.user_id,
            role: row.role,
            email: None,
            display_name: None,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}
