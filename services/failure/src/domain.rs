//! Domain types: parsed once at the edge, so invalid values cannot exist.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
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

impl fmt::Display for FailureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A test's stable id: a hash of its project, suite (or file), class name
/// and name, shaped as a UUID (version 8). The same test in any build of
/// the project has the same id, without a lookup.
pub fn test_id(project_id: Uuid, suite_or_file: &str, classname: &str, name: &str) -> Uuid {
    let mut hasher = Sha256::new();
    hasher.update(project_id.as_bytes());
    for part in [suite_or_file, classname, name] {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part.as_bytes());
    }
    let digest = hasher.finalize();
    let mut bytes = [0_u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
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
    fn a_test_id_is_stable_and_depends_on_every_part_of_the_identity() {
        let project = Uuid::now_v7();
        let id = test_id(project, "suite", "Class", "name");
        assert_eq!(id, test_id(project, "suite", "Class", "name"));
        assert_ne!(id, test_id(Uuid::now_v7(), "suite", "Class", "name"));
        assert_ne!(id, test_id(project, "suiteC", "lass", "name"));
        assert_ne!(id, test_id(project, "suite", "Class", "other"));
    }

    #[test]
    fn commit_shas_are_hex_and_lowercased() {
        assert_eq!(CommitSha::parse("ABCDEF12").unwrap().as_str(), "abcdef12");
        assert!(CommitSha::parse("xyz").is_err());
    }
}
