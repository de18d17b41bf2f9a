//! Builds: what CI announces, how a build ends, and what its uploads added up to.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// A CI system's own id for a build: `^[A-Za-z0-9._:-]{1,100}$`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct ExternalId(String);

impl ExternalId {
    pub fn parse(value: &str) -> Result<Self, String> {
        let valid = (1..=100).contains(&value.len())
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'));
        if valid {
            Ok(Self(value.to_owned()))
        } else {
            Err("must be 1 to 100 characters of letters, digits, `.`, `_`, `:` or `-`".to_owned())
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The CI job a build belongs to: 1 to 200 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct JobName(String);

impl JobName {
    pub fn parse(value: &str) -> Result<Self, String> {
        let trimmed = value.trim();
        if trimmed.is_empty() || trimmed.chars().count() > 200 {
            return Err("must be 1 to 200 characters".to_owned());
        }
        if trimmed.chars().any(char::is_control) {
            return Err("must not contain control characters".to_owned());
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A commit id: 4 to 64 hexadecimal characters, kept lowercase.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct CommitSha(String);

impl CommitSha {
    pub fn parse(value: &str) -> Result<Self, String> {
        if (4..=64).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(Self(value.to_ascii_lowercase()))
        } else {
            Err("must be 4 to 64 hexadecimal characters".to_owned())
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Where a build is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum BuildStatus {
    Running,
    Passed,
    Failed,
    Errored,
    Cancelled,
}

impl BuildStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Passed => "passed",
            Self::Failed => "failed",
            Self::Errored => "errored",
            Self::Cancelled => "cancelled",
        }
    }
}

impl FromStr for BuildStatus {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value {
            "running" => Ok(Self::Running),
            "passed" => Ok(Self::Passed),
            "failed" => Ok(Self::Failed),
            "errored" => Ok(Self::Errored),
            "cancelled" => Ok(Self::Cancelled),
            other => Err(format!(
                "`{other}` is not a build status (running, passed, failed, errored, cancelled)"
            )),
        }
    }
}

/// A build as CI announces it.
#[derive(Debug, Clone)]
pub struct NewBuild {
    pub job_name: JobName,
    pub external_id: ExternalId,
    pub number: Option<i64>,
    pub branch: Option<String>,
    pub commit_sha: Option<CommitSha>,
    pub url: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
}

/// What a build's uploads held, recounted from its results after each
/// upload (a test uploaded twice counts once), plus the totals stated by
/// suites that list no test cases.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BuildTotals {
    /// The sum of the five outcomes below.
    pub tests: i64,
    pub passed: i64,
    /// JUnit `<failure>`: an assertion did not hold.
    pub failures: i64,
    /// JUnit `<error>`: the test could not run to its assertion.
    pub errors: i64,
    pub skipped: i64,
    /// Passed after failed attempts (counted here only).
    pub flaky: i64,
    /// The sum of the results' durations.
    pub duration_ms: i64,
}

/// A CI build of a project, with the totals of its uploads.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Build {
    pub id: Uuid,
    /// The CI job the build belongs to.
    pub job_name: String,
    /// The CI system's own id for the build, unique per job.
    pub external_id: String,
    pub number: Option<i64>,
    pub branch: Option<String>,
    /// Lowercase hexadecimal.
    pub commit_sha: Option<String>,
    /// The build's page in the CI system.
    pub url: Option<String>,
    pub status: BuildStatus,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub totals: BuildTotals,
    /// An upload of this build was an infrastructure outage (most of its
    /// tests failed): its results are no evidence of flakiness.
    pub infrastructure_outage: bool,
    /// Whether the build's results fail it, quarantined tests aside.
    pub verdict: BuildVerdict,
}

/// What a build's verdict says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum VerdictOutcome {
    /// No failing test counts against the build.
    Passed,
    /// At least one failing test that is not quarantined.
    Failed,
    /// Nothing uploaded yet.
    NoTests,
}

/// The build's verdict: its failing tests (failed or errored), except
/// those quarantined now, fail it. Quarantined tests still run and are
/// recorded; their failures are counted apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub struct BuildVerdict {
    pub outcome: VerdictOutcome,
    /// Failing results that count against the build.
    pub failures_counted: i64,
    /// Failing results of quarantined tests, which do not.
    pub quarantined_failures: i64,
}

impl BuildVerdict {
    /// From the build's totals and how many of its failing results belong
    /// to quarantined tests.
    pub fn of(totals: &BuildTotals, quarantined_failures: i64) -> Self {
        let failing = totals.failures.saturating_add(totals.errors);
        let quarantined_failures = quarantined_failures.clamp(0, failing);
        let failures_counted = failing - quarantined_failures;
        let outcome = if failures_counted > 0 {
            VerdictOutcome::Failed
        } else if totals.tests == 0 {
            VerdictOutcome::NoTests
        } else {
            VerdictOutcome::Passed
        };
        Self {
            outcome,
            failures_counted,
            quarantined_failures,
        }
    }
}

/// The build a failure or result belongs to.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BuildRef {
    pub id: Uuid,
    pub job_name: String,
    pub external_id: String,
    pub number: Option<i64>,
    pub branch: Option<String>,
    pub commit_sha: Option<String>,
}

/// Which builds a list shows.
#[derive(Debug, Default, Clone)]
pub struct BuildFilter {
    pub job: Option<String>,
    pub branch: Option<String>,
    pub status: Option<BuildStatus>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn external_ids_follow_the_documented_pattern() {
        assert!(ExternalId::parse("build-1.2:3_x").is_ok());
        assert!(ExternalId::parse("").is_err());
        assert!(ExternalId::parse("has space").is_err());
        assert!(ExternalId::parse(&"a".repeat(101)).is_err());
        assert!(ExternalId::parse(&"a".repeat(100)).is_ok());
    }

    #[test]
    fn commit_shas_are_hex_and_lowercased() {
        assert_eq!(CommitSha::parse("ABCDEF12").unwrap().as_str(), "abcdef12");
        assert!(CommitSha::parse("xyz").is_err());
    }
}
