//! All SQL of the project service. Handlers call these functions with a
//! transaction tenant-core opened for them; nothing here opens one.
//!
//! Which transaction each function expects is part of its contract:
//! - `Db::user_tx(user)`: the user's own memberships across projects
//!   (the `own_memberships` policy), for "my projects" and access checks;
//! - `Db::tenant_tx` / `Db::worker_tx`: everything inside one project,
//!   including every write to memberships and to a project's row (the
//!   access change triggers write to a row-secured feed);
//! - `Db::unscoped_tx`: the registry alone (slug and id lookups).

pub mod access;
pub mod memberships;
pub mod projects;

use std::str::FromStr;

use tenant_core::Role;
use tokio_postgres::Row;

use crate::error::ProjectError;

/// A text column holding one of our enums; the CHECK constraints make a
/// failure here a sign of a newer schema, not of bad input.
fn parse_column<T: FromStr>(row: &Row, column: &str) -> Result<T, ProjectError> {
    let value: String = row
        .try_get(column)
        .map_err(|error| ProjectError::CorruptRow(format!("{column}: {error}")))?;
    value
        .parse()
        .map_err(|_| ProjectError::CorruptRow(format!("{column} = `{value}`")))
}

fn role_column(row: &Row, column: &str) -> Result<Role, ProjectError> {
    parse_column(row, column)
}
