//! Every SQL statement of the failure service, by table.
//!
//! Statements run in the caller's tenant transaction (which counts them)
//! and still say `WHERE project_id = $1` for the planner. Rows are read
//! with `try_get`: a column that does not decode is an error, not a panic.

pub mod builds;
pub mod classification_rules;
pub mod failures;
pub mod flaky_settings;
pub mod group_comments;
pub mod group_triage;
pub mod grouping_settings;
pub mod groups;
pub mod issue_links;
pub mod label_feedback;
pub mod outbox;
pub mod quarantine;
pub mod regroup_jobs;
pub mod results;
pub mod test_health;
pub mod uploads;

use std::error::Error;

use tokio_postgres::Row;
use tokio_postgres::types::{FromSql, Type};

use crate::domain::classification::{Label, LabelSource, RuleField};
use crate::domain::flakiness::HealthState;
use crate::domain::{BuildRef, BuildStatus, CaseStatus, FailureKind, GroupStatus, JobState};

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

text_enum_from_sql!(
    BuildStatus,
    CaseStatus,
    FailureKind,
    GroupStatus,
    HealthState,
    JobState,
    Label,
    LabelSource,
    RuleField
);

/// The build columns a failure or a result is listed with, as the joins
/// name them (`build_id`, `job_name`, ...).
fn build_ref(row: &Row) -> Result<BuildRef, tokio_postgres::Error> {
    Ok(BuildRef {
        id: row.try_get("build_id")?,
        job_name: row.try_get("job_name")?,
        external_id: row.try_get("external_id")?,
        number: row.try_get("number")?,
        branch: row.try_get("branch")?,
        commit_sha: row.try_get("commit_sha")?,
    })
}
