//! All SQL of the project service. Handlers call these functions with a
//! transaction tenant-core opened for them; nothing here opens one.
//!
//! Which transaction each function expects is part of its contract:
//! - `Db::user_tx(user)`: the user's own memberships across projects
//!   (the `own_memberships` policy), for "my projects" and access checks;
//! - `Db::tenant_tx` / `Db::worker_tx`: everything inside one project,
//!   including every write to memberships and to a project's row (the
//!   access change triggers write to a row-secured feed);
//! - `Db::unscoped_tx`: the registry alone (slug and id lookups), and the
//!   access change feed once [`access_changes::open_feed`] opened it.

pub mod access;
pub mod access_changes;
pub mod memberships;
pub mod projects;

use std::str::FromStr;

use tenant_core::Role;
use tokio_postgres::Row;
use tokio_postgres::types::FromSql;

use crate::error::ProjectError;

/// A column of `row`. A missing column or another type is a sign of a
/// newer schema than this build knows, not of bad input.
fn column<'a, T: FromSql<'a>>(row: &'a Row, name: &str) -> Result<T, ProjectError> {
    row.try_get(name)
        .map_err(|error| ProjectError::CorruptRow(format!("{name}: {error}")))
}

/// A text column holding one of our enums; the CHECK constraints make a
/// failure here a sign of a newer schema, too.
fn parse_column<T: FromStr>(row: &Row, name: &str) -> Result<T, ProjectError> {
    let value: String = column(row, name)?;
    value
        .parse()
        .map_err(|_| ProjectError::CorruptRow(format!("{name} = `{value}`")))
}

fn role_column(row: &Row, name: &str) -> Result<Role, ProjectError> {
    parse_column(row, name)
}

/// [`role_column`] for a column that may be NULL (no membership).
fn optional_role_column(row: &Row, name: &str) -> Result<Option<Role>, ProjectError> {
    column::<Option<String>>(row, name)?
        .map(|value| {
            value
                .parse()
                .map_err(|_| ProjectError::CorruptRow(format!("{name} = `{value}`")))
        })
        .transpose()
}
