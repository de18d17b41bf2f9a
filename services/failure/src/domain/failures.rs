//! Failures: a failing result of one test in one build, as listed and in full.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::classification::{Label, LabelSource};
use super::{BuildRef, FailureKind, TestIdentity};

/// A failing result of one test in one build, as listed.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FailureSummary {
    pub id: Uuid,
    pub kind: FailureKind,
    /// The failure's `type` (often an exception class).
    pub error_type: Option<String>,
    /// In a list, the message's first 1000 characters; in a failure's
    /// details, all of it (as capped at ingestion).
    pub message: Option<String>,
    pub created_at: DateTime<Utc>,
    /// The failure's group: the failures with the same signature, across
    /// builds. Null for failures stored before failures were grouped.
    pub group_id: Option<Uuid>,
    /// The failure's own label, set at ingestion (or by a member).
    pub label: Label,
    /// From 0 to 1.
    pub confidence: f64,
    /// Who or what gave the label; null when nothing matched.
    pub label_source: Option<LabelSource>,
    /// Which run of the test in the build failed: 0 is the outcome the
    /// report states; 1, 2, ... are earlier failed attempts the runner
    /// retried (Surefire `flakyFailure`/`rerunFailure`), kept as evidence
    /// of flakiness.
    pub attempt: i32,
    pub build: BuildRef,
    pub test: TestIdentity,
}

/// A failure with its full (capped) message, stack trace and output.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FailureDetails {
    #[serde(flatten)]
    pub summary: FailureSummary,
    pub stack_trace: Option<String>,
    pub system_out: Option<String>,
    pub system_err: Option<String>,
}

/// Which failures a list shows.
#[derive(Debug, Default, Clone)]
pub struct FailureFilter {
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub build: Option<Uuid>,
    pub branch: Option<String>,
    pub job: Option<String>,
    /// Case-insensitive substring of the test name.
    pub test: Option<String>,
    pub error_type: Option<String>,
}
