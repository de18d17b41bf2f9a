//! The integration schema's SQL: connections, sealed secrets, data keys,
//! notification rules, deliveries and the event inbox. Every statement
//! runs in a `TenantTx`, so row level security confines it to one project.

pub mod connections;
pub mod deliveries;
pub mod issue_links;
pub mod jira_users;
pub mod project_keys;
pub mod pull_request_comments;
pub mod rules;

use tenant_core::DbError;
use tokio_postgres::Row;

/// A column of `row`, as a [`DbError`] when it is missing or of another type.
fn get<'a, T: tokio_postgres::types::FromSql<'a>>(
    row: &'a Row,
    column: &str,
) -> Result<T, DbError> {
    row.try_get(column).map_err(DbError::from)
}
