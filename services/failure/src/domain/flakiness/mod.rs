//! Flaky and broken tests: the monitors that judge a test's health on a
//! project's monitored branch from its recent results, the settings that
//! tune them, and what a quarantine is. Pure rules over histories the
//! repository reads; the upload applies them to the tests it touched.

mod monitors;
mod settings;
#[cfg(test)]
mod tests;

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

pub use monitors::{assess, is_infrastructure_outage};
pub use settings::FlakySettings;

use super::{CaseStatus, TestIdentity};

/// A test's health. Ordered: broken beats flaky beats healthy.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum HealthState {
    Healthy,
    /// Mixed outcomes: passed on retry, contradicted itself on one
    /// commit, or failed now and then over the window.
    Flaky,
    /// Failing consistently since a point: a regression, not flakiness.
    Broken,
}

impl HealthState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Healthy => "healthy",
            Self::Flaky => "flaky",
            Self::Broken => "broken",
        }
    }

    pub fn is_flagged(self) -> bool {
        self != Self::Healthy
    }
}

impl FromStr for HealthState {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value {
            "healthy" => Ok(Self::Healthy),
            "flaky" => Ok(Self::Flaky),
            "broken" => Ok(Self::Broken),
            other => Err(format!("`{other}` is not a test health state")),
        }
    }
}

impl fmt::Display for HealthState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One result of a test on the monitored branch, as the monitors see it:
/// skipped results and builds marked as infrastructure outages are never
/// observations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    /// When the result was first recorded.
    pub recorded_at: DateTime<Utc>,
    pub commit_sha: Option<String>,
    pub status: CaseStatus,
}

/// What the monitors found, as stored per test and shown in the
/// flaky-tests list.
#[derive(Debug, Clone, Default, PartialEq, Serialize, ToSchema)]
pub struct Evidence {
    /// Failed (or errored) results over the results in the window, 0 to 1.
    pub failure_rate: f64,
    /// Changes between passing and failing, oldest to newest, in the window.
    pub transitions: i32,
    /// Commits on which the test both passed and failed.
    pub same_commit_contradictions: i32,
    /// Results that failed and then passed on a retry within one build.
    pub retries_passed: i32,
    /// Results the figures are computed from (at most the window's size).
    pub window_results: i32,
    /// The first failure among the evidence (kept until the test recovers).
    pub first_seen_at: Option<DateTime<Utc>>,
    /// The latest failure among the evidence.
    pub last_seen_at: Option<DateTime<Utc>>,
}

/// A test's health as stored: its state, since when, and the evidence.
#[derive(Debug, Clone, PartialEq)]
pub struct TestHealth {
    pub test_id: Uuid,
    pub state: HealthState,
    /// When the test entered `state`.
    pub since: DateTime<Utc>,
    /// Results recorded up to this instant are no evidence any more (the
    /// test recovered then); none: all of its history counts.
    pub evidence_from: Option<DateTime<Utc>>,
    pub evidence: Evidence,
}

/// A flagged test in the flaky-tests list.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FlakyTest {
    pub test: TestIdentity,
    /// `flaky` or `broken`.
    #[schema(value_type = String, example = "flaky")]
    pub state: HealthState,
    /// When the test entered its state.
    pub since: DateTime<Utc>,
    /// Its failures do not fail builds' verdicts.
    pub quarantined: bool,
    pub evidence: Evidence,
}

/// Which flagged tests a list shows.
#[derive(Debug, Clone, Default)]
pub struct FlakyTestFilter {
    pub state: Option<HealthState>,
    pub quarantined: Option<bool>,
}

/// A test whose failures are kept out of build verdicts.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct QuarantineEntry {
    pub test: TestIdentity,
    pub reason: Option<String>,
    /// Quarantined by the flaky-test monitors (the project's
    /// `auto_quarantine`), not by a person.
    pub automatic: bool,
    /// The user (or API key) that quarantined it; none when automatic.
    pub quarantined_by: Option<Uuid>,
    pub quarantined_at: DateTime<Utc>,
}

/// What an upload changed in its tests' health: tests flagged (or
/// flagged again in another state) and tests quarantined automatically.
/// The `test.flaky_detected` and `test.quarantined` events describe these.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HealthChanges {
    pub newly_flagged: Vec<(Uuid, HealthState)>,
    pub newly_quarantined: Vec<Uuid>,
    pub recovered: Vec<Uuid>,
}
