//! A project's flaky-test monitor settings and their defaults.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// How a project's tests are judged. Every field has a default (what a
/// project without settings gets), and a `PUT` replaces them all: an
/// omitted field takes its default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct FlakySettings {
    /// The branch whose builds are evidence (builds carry `branch`);
    /// results on other branches are recorded but judge nothing.
    /// Compared as it is with the builds' `branch`.
    #[schema(
        min_length = 1,
        max_length = 255,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]+$",
        default = "main"
    )]
    pub branch: String,
    /// The failure-rate monitor looks at a test's last this many results.
    #[schema(minimum = 1, maximum = 1000, default = 50)]
    #[serde(deserialize_with = "tenant_core::json::integer")]
    pub window_results: i32,
    /// ... recorded within this many days.
    #[schema(minimum = 1, maximum = 365, default = 30)]
    #[serde(deserialize_with = "tenant_core::json::integer")]
    pub window_days: i32,
    /// Fewer results than this in the window: the failure-rate and broken
    /// monitors say nothing (pass-on-retry still flags at once).
    #[schema(minimum = 1, maximum = 1000, default = 10)]
    #[serde(deserialize_with = "tenant_core::json::integer")]
    pub min_sample: i32,
    /// Flaky when at least this share of the window's results failed ...
    #[schema(minimum = 0.0, maximum = 1.0, default = 0.05)]
    pub flaky_min_failure_rate: f64,
    /// ... and the outcome changed between pass and fail at least this often.
    #[schema(minimum = 1, maximum = 1000, default = 2)]
    #[serde(deserialize_with = "tenant_core::json::integer")]
    pub flaky_min_transitions: i32,
    /// Broken when the latest this many results all failed.
    #[schema(minimum = 1, maximum = 1000, default = 5)]
    #[serde(deserialize_with = "tenant_core::json::integer")]
    pub broken_min_failures: i32,
    /// An upload in which more than this share of the tests failed is an
    /// infrastructure outage: evidence for nothing ...
    #[schema(minimum = 0.0, maximum = 1.0, default = 0.8)]
    pub outage_failure_ratio: f64,
    /// ... when it has at least this many tests.
    #[schema(minimum = 1, maximum = 1_000_000, default = 10)]
    #[serde(deserialize_with = "tenant_core::json::integer")]
    pub outage_min_tests: i32,
    /// A flagged test recovers when it has not failed for this many days ...
    #[schema(minimum = 1, maximum = 365, default = 7)]
    #[serde(deserialize_with = "tenant_core::json::integer")]
    pub recovery_days: i32,
    /// ... or passed this many times in a row.
    #[schema(minimum = 1, maximum = 1000, default = 10)]
    #[serde(deserialize_with = "tenant_core::json::integer")]
    pub recovery_passes: i32,
    /// Quarantine a test as soon as it is flagged flaky.
    #[schema(default = false)]
    pub auto_quarantine: bool,
}

impl Default for FlakySettings {
    fn default() -> Self {
        Self {
            branch: "main".to_owned(),
            window_results: 50,
            window_days: 30,
            min_sample: 10,
            flaky_min_failure_rate: 0.05,
            flaky_min_transitions: 2,
            broken_min_failures: 5,
            outage_failure_ratio: 0.8,
            outage_min_tests: 10,
            recovery_days: 7,
            recovery_passes: 10,
            auto_quarantine: false,
        }
    }
}

impl FlakySettings {
    /// The settings as given, or the first field out of its bounds and why.
    /// Fields are checked one by one: a `min_sample`, `broken_min_failures`
    /// or `recovery_passes` above `window_results` is accepted and means
    /// that monitor never fires (a window never holds that many results).
    pub fn validated(self) -> Result<Self, (&'static str, String)> {
        if self.branch.is_empty() || self.branch.chars().count() > 255 {
            return Err(("branch", "must be 1 to 255 characters".to_owned()));
        }
        if self.branch.chars().any(char::is_control) {
            return Err(("branch", "must not contain control characters".to_owned()));
        }
        let counts = [
            ("window_results", self.window_results, 1000),
            ("window_days", self.window_days, 365),
            ("min_sample", self.min_sample, 1000),
            ("flaky_min_transitions", self.flaky_min_transitions, 1000),
            ("broken_min_failures", self.broken_min_failures, 1000),
            ("outage_min_tests", self.outage_min_tests, 1_000_000),
            ("recovery_days", self.recovery_days, 365),
            ("recovery_passes", self.recovery_passes, 1000),
        ];
        for (field, value, max) in counts {
            if !(1..=max).contains(&value) {
                return Err((field, format!("must be 1 to {max}")));
            }
        }
        for (field, value) in [
            ("flaky_min_failure_rate", self.flaky_min_failure_rate),
            ("outage_failure_ratio", self.outage_failure_ratio),
        ] {
            if !(0.0..=1.0).contains(&value) {
                return Err((field, "must be between 0 and 1".to_owned()));
            }
        }
        Ok(self)
    }
}
