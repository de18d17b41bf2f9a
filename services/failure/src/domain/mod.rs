//! The failure service's domain: builds, test results, failures and
//! uploads as types that are parsed once at the edge, and the rules that
//! combine them. No SQL and no HTTP here.

mod builds;
pub mod classification;
pub mod events;
mod failures;
pub mod flakiness;
mod groups;
mod results;
pub mod signature;
mod uploads;

pub use builds::{
    Build, BuildFilter, BuildRef, BuildStatus, BuildTotals, BuildVerdict, CommitSha, ExternalId,
    JobName, NewBuild, VerdictOutcome,
};
pub use failures::{FailureDetails, FailureFilter, FailureSummary};
pub use groups::{
    BatchGroup, FeedbackEntry, GroupDetails, GroupFilter, GroupStats, GroupSummary, LatestSample,
    batch_groups, group_id,
};
pub use results::{
    CaseStatus, FailureKind, FailureRow, HistoryEntry, ResultRow, TestIdentity, test_id,
};
pub use uploads::{RecordedUpload, UploadSummary};
