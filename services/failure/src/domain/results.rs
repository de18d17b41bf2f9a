//! Test results: a test's stable identity, the outcome of one test in one
//! build, and how outcomes seen twice in one build combine.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use uuid::Uuid;

use super::BuildRef;
use super::signature::fingerprint::Signature;
use super::signature::in_app::InAppRules;
use super::signature::normalize::NormalizeOptions;
use super::signature::signature_of;

/// The outcome of one test in one build: `flaky` when it passed after
/// failed attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CaseStatus {
    Passed,
    Failed,
    Error,
    Skipped,
    /// Passed after failed attempts.
    Flaky,
}

impl CaseStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Passed => "passed",
            Self::Failed => "failed",
            Self::Error => "error",
            Self::Skipped => "skipped",
            Self::Flaky => "flaky",
        }
    }

    pub fn is_failing(self) -> bool {
        matches!(self, Self::Failed | Self::Error)
    }

    /// The status of a test seen twice in one build (a rerun written as a
    /// repeated test case, or a later upload): a pass meeting a failure is
    /// flaky, and a skip yields to any other outcome.
    pub fn combine(earlier: Self, later: Self) -> Self {
        use CaseStatus::{Flaky, Passed, Skipped};
        match (earlier, later) {
            (a, b) if a == b => a,
            (Skipped, b) => b,
            (a, Skipped) => a,
            (Passed | Flaky, _) | (_, Passed | Flaky) => Flaky,
            (_, b) => b,
        }
    }
}

impl FromStr for CaseStatus {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value {
            "passed" => Ok(Self::Passed),
            "failed" => Ok(Self::Failed),
            "error" => Ok(Self::Error),
            "skipped" => Ok(Self::Skipped),
            "flaky" => Ok(Self::Flaky),
            other => Err(format!("`{other}` is not a result status")),
        }
    }
}

/// A JUnit `<failure>` (an assertion did not hold) or `<error>` (the test
/// could not run to its assertion).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum FailureKind {
    #[default]
    Failure,
    Error,
}

impl FailureKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Failure => "failure",
            Self::Error => "error",
        }
    }
}

impl FromStr for FailureKind {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value {
            "failure" => Ok(Self::Failure),
            "error" => Ok(Self::Error),
            other => Err(format!("`{other}` is not a failure kind")),
        }
    }
}

impl fmt::Display for FailureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A test's stable id: a hash of its project, suite (or file), class name
/// and name, shaped as a UUID (version 8). The same test in any build of
/// the project has the same id, without a lookup.
pub fn test_id(project_id: Uuid, suite_or_file: &str, classname: &str, name: &str) -> Uuid {
    hashed_id(
        project_id,
        &[
            suite_or_file.as_bytes(),
            classname.as_bytes(),
            name.as_bytes(),
        ],
    )
}

/// The first 16 bytes of a SHA-256 over the project id and each part
/// (length-prefixed, so parts cannot run into each other), shaped as a
/// UUID (version 8): an id known before any row is written.
pub(super) fn hashed_id(project_id: Uuid, parts: &[&[u8]]) -> Uuid {
    let mut hasher = Sha256::new();
    hasher.update(project_id.as_bytes());
    for part in parts {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part);
    }
    let digest = hasher.finalize();
    let mut bytes = [0_u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

/// One test's result, ready to be written.
#[derive(Debug, Clone)]
pub struct ResultRow {
    pub test_id: Uuid,
    pub suite: String,
    pub classname: String,
    pub name: String,
    pub file: Option<String>,
    pub status: CaseStatus,
    pub duration_ms: Option<i64>,
    pub retries: i32,
    pub failure: Option<FailureRow>,
    /// Earlier failed attempts of this run (Surefire reruns), stored as
    /// failures with `attempt` 1, 2, ... after the reported outcome's 0.
    pub attempts: Vec<FailureRow>,
}

impl ResultRow {
    /// Folds a later result of the same test into this one: retries add
    /// up (the repeat itself is one more attempt), the latest duration and
    /// failure win.
    pub fn merge_repeat(&mut self, later: ResultRow) {
        self.status = CaseStatus::combine(self.status, later.status);
        self.retries = self.retries.saturating_add(later.retries).saturating_add(1);
        self.duration_ms = later.duration_ms.or(self.duration_ms);
        if later.failure.is_some() {
            self.failure = later.failure;
        }
        self.attempts.extend(later.attempts);
    }

    /// The failures to store for this result: the reported outcome's
    /// (attempt 0) and each earlier failed attempt's (1, 2, ...).
    pub fn failures(&self) -> impl Iterator<Item = (i32, &FailureRow)> {
        let reported = self.failure.iter().map(|f| (0, f));
        let earlier = self
            .attempts
            .iter()
            .zip(1..)
            .map(|(failure, attempt)| (attempt, failure));
        reported.chain(earlier)
    }
}

/// What went wrong in a failing result, excerpts capped, with the
/// signature that picks its group.
#[derive(Debug, Clone)]
pub struct FailureRow {
    pub kind: FailureKind,
    pub error_type: Option<String>,
    pub message: Option<String>,
    pub stack_trace: Option<String>,
    pub system_out: Option<String>,
    pub system_err: Option<String>,
    pub signature: Signature,
    /// The group of [`Self::signature`] in the failure's project.
    pub group_id: Uuid,
}

impl FailureRow {
    /// Computes the signature from the (capped) message and stack trace
    /// under the default in-app rules and normalisation, and its group in
    /// `project_id`: CPU work, done where the report is parsed, off the
    /// async runtime.
    pub fn new(
        project_id: Uuid,
        kind: FailureKind,
        error_type: Option<String>,
        message: Option<String>,
        stack_trace: Option<String>,
        system_out: Option<String>,
        system_err: Option<String>,
    ) -> Self {
        let signature = signature_of(
            message.as_deref().unwrap_or_default(),
            stack_trace.as_deref().unwrap_or_default(),
            &InAppRules::default(),
            &NormalizeOptions::default(),
        );
        Self {
            group_id: super::group_id(project_id, &signature),
            kind,
            error_type,
            message,
            stack_trace,
            system_out,
            system_err,
            signature,
        }
    }
}

/// A test, the same in every build of its project.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TestIdentity {
    /// A hash of the project, the suite (or else the file), the class name
    /// and the name, shaped as a UUID: stable across builds.
    pub id: Uuid,
    pub suite: String,
    pub classname: String,
    pub name: String,
    pub file: Option<String>,
}

/// One result of a test, in one build.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HistoryEntry {
    pub status: CaseStatus,
    pub duration_ms: Option<i64>,
    /// Attempts beyond the first: reruns, and repeats in later uploads
    /// of the build.
    pub retry_count: i32,
    pub recorded_at: DateTime<Utc>,
    pub build: BuildRef,
    /// The failure of this result, if it failed.
    pub failure_id: Option<Uuid>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_test_id_is_stable_and_depends_on_every_part_of_the_identity() {
        let project = Uuid::now_v7();
        let id = test_id(project, "suite", "Class", "name");
        assert_eq!(id, test_id(project, "suite", "Class", "name"));
        assert_ne!(id, test_id(Uuid::now_v7(), "suite", "Class", "name"));
        assert_ne!(id, test_id(project, "suiteC", "lass", "name"));
        assert_ne!(id, test_id(project, "suite", "Class", "other"));
    }

    #[test]
    fn a_pass_and_a_failure_of_one_test_make_it_flaky_and_skips_yield() {
        use CaseStatus::*;
        assert_eq!(CaseStatus::combine(Failed, Passed), Flaky);
        assert_eq!(CaseStatus::combine(Passed, Error), Flaky);
        assert_eq!(CaseStatus::combine(Failed, Error), Error);
        assert_eq!(CaseStatus::combine(Skipped, Failed), Failed);
        assert_eq!(CaseStatus::combine(Passed, Skipped), Passed);
        assert_eq!(CaseStatus::combine(Passed, Passed), Passed);
    }
}
