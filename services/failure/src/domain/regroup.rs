//! Regroup jobs: a project's recent failures moved to the groups the
//! current grouping rules and settings give them, in the background.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// How far back a regroup job goes when the request does not say.
pub const DEFAULT_REGROUP_DAYS: i64 = 30;

/// Claims a job gets: a job whose workers died or failed this often is
/// marked `failed` at the next claim instead of being run again.
pub const MAX_REGROUP_ATTEMPTS: i32 = 5;

/// Where a job stands: `queued` until a worker claims it, `running` while
/// one holds its lease (or until another takes it over), then `succeeded`
/// or `failed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    Queued,
    Running,
    Succeeded,
    Failed,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }

    /// Queued or running: a second request finds this job.
    pub fn is_active(self) -> bool {
        matches!(self, Self::Queued | Self::Running)
    }
}

impl FromStr for JobState {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value {
            "queued" => Ok(Self::Queued),
            "running" => Ok(Self::Running),
            "succeeded" => Ok(Self::Succeeded),
            "failed" => Ok(Self::Failed),
            other => Err(format!("`{other}` is not a job state")),
        }
    }
}

/// A regroup job as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct RegroupJob {
    pub id: Uuid,
    /// Always `regroup`.
    pub kind: &'static str,
    pub state: JobState,
    /// Failures recorded at or after this time are regrouped.
    pub since: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// Failures to look at, counted when the job started.
    pub total: i64,
    /// Failures looked at so far.
    pub processed: i64,
    /// Failures that changed group.
    pub moved: i64,
    /// Why the job failed.
    pub error: Option<String>,
}

/// A job a worker holds: enough to process it and to renew its lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedJob {
    pub project_id: Uuid,
    pub id: Uuid,
    pub since: DateTime<Utc>,
    /// The keyset position after which the next batch starts.
    pub cursor: Option<(DateTime<Utc>, Uuid)>,
    /// Claims so far, this one included.
    pub attempts: i32,
}
