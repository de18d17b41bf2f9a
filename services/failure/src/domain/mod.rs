//! The failure service's domain: builds, test results, failures and
//! uploads as types that are parsed once at the edge, and the rules that
//! combine them. No SQL and no HTTP here.

mod builds;
pub mod classification;
pub mod events;
mod failures;
pub mod flakiness;
mod grouping_settings;
mod groups;
mod regroup;
mod results;
pub mod signature;
mod similar_groups;
mod triage;
mod uploads;

pub use builds::{
    Build, BuildFilter, BuildRef, BuildStatus, BuildTotals, BuildVerdict, CommitSha, ExternalId,
    JobName, NewBuild, VerdictOutcome,
};
pub use failures::{FailureDetails, FailureFilter, FailureSummary};
pub use grouping_settings::{
    GroupingRules, GroupingSettings, InvalidGroupingSettings, MAX_IN_APP_PREFIXES, MAX_PREFIX_CHARS,
};
pub use groups::{
    BatchGroup, FeedbackEntry, GroupDetails, GroupFilter, GroupSummary, IssueLink, LatestSample,
    batch_groups, group_id,
};
pub use regroup::{ClaimedJob, DEFAULT_REGROUP_DAYS, JobState, MAX_REGROUP_ATTEMPTS, RegroupJob};
pub use results::{
    CaseStatus, FailureKind, FailureRow, GroupScope, HistoryEntry, ResultRow, TestIdentity, test_id,
};
pub use similar_groups::{
    MAX_SIMILARITY_CANDIDATES, MAX_SIMILARITY_COMPARISONS, SimilarGroups, SimilarityCandidate,
    is_message_only, join_similar_groups,
};
pub use triage::{
    Activity, ActivityEntry, ActivityKind, Comment, CommentBody, GroupStatus, GroupTriage,
    MAX_COMMENT_CHARS, TriageChange,
};
pub use uploads::{RecordedUpload, UploadSummary};
