//! The analytics schema's SQL: the event inbox, the rollups computed from
//! the failure service's published views, the dashboards' reads of them,
//! and quality gates. Every statement runs in a `TenantTx`, so row level
//! security confines it to the request's project (the overview's to the
//! caller's member projects).

pub mod builds;
pub mod dashboards;
pub mod gates;
pub mod ranking_cache;
pub mod rollup_versions;
pub mod rollups;
pub mod test_rankings;
mod test_rollups;

use std::error::Error;

use tokio_postgres::types::{FromSql, Type};

use crate::domain::comparison::ResultStatus;
use crate::domain::gates::{GateStatus, RuleKind};

/// Reads a text column into a domain enum through its `FromStr`; a value
/// the enum does not know is a decoding error of that column.
macro_rules! text_enum_from_sql {
    ($($domain:ty),+) => {$(
        impl<'a> FromSql<'a> for $domain {
            fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn Error + Sync + Send>> {
                Ok(<&str as FromSql>::from_sql(ty, raw)?.parse::<$domain>()?)
            }

            fn accepts(ty: &Type) -> bool {
                <&str as FromSql>::accepts(ty)
            }
        }
    )+};
}

text_enum_from_sql!(ResultStatus, RuleKind, GateStatus);
