//! A user account as the service keeps and shows it.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

/// A user account.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct User {
    pub id: Uuid,
    pub email: String,
    pub display_name: String,
    /// `user` or `admin`.
    pub platform_role: String,
    pub default_project: Option<Uuid>,
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
    #[serde(skip)]
    pub password_hash: String,
}
