//! Every SQL statement of the auth service, one module per table or
//! aggregate.
//!
//! Identities, sessions and refresh tokens are global (a user spans
//! projects) and run in unscoped transactions; API keys are tenant data and
//! run in the project's transaction, except introspection, which names the
//! key's hash so exactly that row becomes visible.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use tokio_postgres::types::{FromSql, Type};
use uuid::Uuid;

pub mod api_keys;
pub mod audit;
pub mod key_creators;
pub mod login_throttle;
pub mod refresh_tokens;
pub mod revocations;
pub mod sessions;
pub mod signing_keys;
pub mod users;

/// A keyset position `(created_at, id)` as two nullable parameters.
fn keyset(after: Option<(DateTime<Utc>, Uuid)>) -> (Option<DateTime<Utc>>, Option<Uuid>) {
    after.map_or((None, None), |(at, id)| (Some(at), Some(id)))
}

/// A text column read into a domain type that parses it (a status, a
/// role): a value the type refuses fails like any column that does not
/// convert.
struct Parsed<T>(T);

impl<'a, T> FromSql<'a> for Parsed<T>
where
    T: FromStr,
    T::Err: std::error::Error + Send + Sync + 'static,
{
    fn from_sql(
        ty: &Type,
        raw: &'a [u8],
    ) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        let text = <&str as FromSql>::from_sql(ty, raw)?;
        Ok(Self(text.parse()?))
    }

    fn accepts(ty: &Type) -> bool {
        <&str as FromSql>::accepts(ty)
    }
}
