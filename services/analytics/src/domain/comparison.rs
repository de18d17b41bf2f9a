//! Build comparison: what changed between a build and another one (by
//! default its baseline, the last good build on its branch). The quality
//! gate's `max_newly_failing` rule counts the same `newly_failing` set, so
//! a pipeline and a person looking at the comparison see one answer.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// At most this many tests are listed per set (each set's count is exact).
pub const LISTED_PER_SET: usize = 1000;

/// A build as the failure service publishes it for analytics
/// (`failure.gate_builds`).
#[derive(Debug, Clone)]
pub struct BuildSnapshot {
    pub id: Uuid,
    pub job_name: String,
    pub branch: Option<String>,
    pub commit_sha: Option<String>,
    pub url: Option<String>,
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub totals: BuildTotals,
}

impl BuildSnapshot {
    /// A build is finished once CI has given it any status but `running`.
    pub fn is_finished(&self) -> bool {
        self.status != "running"
    }
}

/// A build's totals over all its uploads, suites that stated only totals
/// included.
#[derive(Debug, Clone, Copy, Default)]
pub struct BuildTotals {
    pub tests: i64,
    pub passed: i64,
    pub failures: i64,
    pub errors: i64,
    pub skipped: i64,
    pub flaky: i64,
}

/// A test's outcome in one build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ResultStatus {
    Passed,
    Failed,
    Error,
    Skipped,
    Flaky,
}

impl ResultStatus {
    /// Failed or errored: the outcomes that fail a build.
    pub fn is_failing(self) -> bool {
        matches!(self, Self::Failed | Self::Error)
    }

    /// Passed, at once or after retries.
    pub fn is_passing(self) -> bool {
        matches!(self, Self::Passed | Self::Flaky)
    }
}

impl FromStr for ResultStatus {
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

/// How a test is named to people: `suite › class › name`, leaving out
/// empty parts.
pub fn test_title(suite: &str, classname: &str, name: &str) -> String {
    [suite, classname, name]
        .into_iter()
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(" › ")
}

/// One test's outcome in the build compared (`current`) and in the other
/// build (`other`); `None` where the build has no result for it.
#[derive(Debug, Clone)]
pub struct ResultPair {
    pub test_id: Uuid,
    pub test: String,
    pub current: Option<ResultStatus>,
    pub other: Option<ResultStatus>,
}

/// A test in one of a comparison's sets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct TestChange {
    pub test_id: Uuid,
    /// `suite › class › name`.
    pub test: String,
    /// Its outcome in the build compared; null when it has none.
    pub status: Option<ResultStatus>,
    /// Its outcome in the other build; null when it has none.
    pub other_status: Option<ResultStatus>,
}

/// The four sets of tests a comparison finds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TestSets {
    /// Failing now, not failing in the other build (passed, skipped or
    /// absent there).
    pub newly_failing: Vec<TestChange>,
    /// Failing in the other build, passing now.
    pub fixed: Vec<TestChange>,
    /// Failing in both.
    pub still_failing: Vec<TestChange>,
    /// Skipped now, run (not skipped) in the other build.
    pub newly_skipped: Vec<TestChange>,
}

/// A group in a comparison's `new_groups`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct GroupRef {
    pub group_id: Uuid,
    /// The group's label as it stands.
    pub label: Option<String>,
    /// Its triage status: open, triaged, resolved, muted.
    pub status: Option<String>,
}

/// Sorts each of `pairs` into the set it belongs to (at most one), each
/// set in the order of `pairs`.
pub fn compare(pairs: impl IntoIterator<Item = ResultPair>) -> TestSets {
    let mut sets = TestSets::default();
    for pair in pairs {
        let now_failing = pair.current.is_some_and(ResultStatus::is_failing);
        let was_failing = pair.other.is_some_and(ResultStatus::is_failing);
        let change = TestChange {
            test_id: pair.test_id,
            test: pair.test,
            status: pair.current,
            other_status: pair.other,
        };
        let set = match (now_failing, was_failing) {
            (true, false) => &mut sets.newly_failing,
            (true, true) => &mut sets.still_failing,
            (false, true) if pair.current.is_some_and(ResultStatus::is_passing) => &mut sets.fixed,
            _ if pair.current == Some(ResultStatus::Skipped)
                && pair
                    .other
                    .is_some_and(|other| other != ResultStatus::Skipped) =>
            {
                &mut sets.newly_skipped
            }
            _ => continue,
        };
        set.push(change);
    }
    sets
}

#[cfg(test)]
mod tests {
    use super::*;
    use ResultStatus::{Error, Failed, Flaky, Passed, Skipped};

    fn pair(name: &str, current: Option<ResultStatus>, other: Option<ResultStatus>) -> ResultPair {
        ResultPair {
            test_id: Uuid::now_v7(),
            test: name.to_owned(),
            current,
            other,
        }
    }

    fn names(set: &[TestChange]) -> Vec<&str> {
        set.iter().map(|change| change.test.as_str()).collect()
    }

    #[test]
    fn each_test_lands_in_the_one_set_its_two_outcomes_give() {
        let sets = compare([
            pair("new", Some(Failed), Some(Passed)),
            pair("added_failing", Some(Error), None),
            pair("was_skipped", Some(Failed), Some(Skipped)),
            pair("fixed", Some(Passed), Some(Failed)),
            pair("fixed_on_retry", Some(Flaky), Some(Error)),
            pair("still", Some(Error), Some(Failed)),
            pair("skipped_now", Some(Skipped), Some(Passed)),
            pair("skipped_both", Some(Skipped), Some(Skipped)),
            pair("skipped_new_test", Some(Skipped), None),
            pair("removed_failing", None, Some(Failed)),
            pair("fine", Some(Passed), Some(Passed)),
        ]);
        assert_eq!(
            names(&sets.newly_failing),
            ["new", "added_failing", "was_skipped"]
        );
        assert_eq!(names(&sets.fixed), ["fixed", "fixed_on_retry"]);
        assert_eq!(names(&sets.still_failing), ["still"]);
        assert_eq!(names(&sets.newly_skipped), ["skipped_now"]);
    }

    #[test]
    fn titles_leave_out_empty_parts() {
        assert_eq!(test_title("S", "C", "t"), "S › C › t");
        assert_eq!(test_title("", "C", "t"), "C › t");
    }
}
