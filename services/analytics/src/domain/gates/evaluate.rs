//! A finished build against its gate rules: each rule's result, the
//! failures that broke it, and the gate's status (failed as soon as one
//! rule fails; passed with no rules at all).
//!
//! Quarantined tests and failures whose group is muted never count: they
//! are left out of the failures, the pass rate (numerator and
//! denominator), new groups, product bugs and newly failing tests. They
//! still count as tests that ran for `min_tests`, because they did run.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::rules::{GateRule, RuleKind};
use crate::domain::comparison::BuildTotals;

/// At most this many failures are listed per rule (`actual` counts all).
pub const FAILURES_LISTED_PER_RULE: usize = 100;

/// The label a failure must not carry under `no_product_bugs`.
pub const PRODUCT_BUG: &str = "product_bug";

/// Where a build's gate stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum GateStatus {
    /// The build is still running or its failures are not analysed yet:
    /// ask again.
    Pending,
    Passed,
    Failed,
}

impl GateStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Passed => "passed",
            Self::Failed => "failed",
        }
    }
}

impl std::str::FromStr for GateStatus {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value {
            "pending" => Ok(Self::Pending),
            "passed" => Ok(Self::Passed),
            "failed" => Ok(Self::Failed),
            other => Err(format!("`{other}` is not a gate status")),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RuleStatus {
    Passed,
    Failed,
}

/// A threshold or a measured value: a count, or a percentage for
/// `min_pass_rate`. Written as a plain JSON number either way.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Amount {
    Count(i64),
    Percent(f64),
}

/// A failure that broke a rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FailureRef {
    /// `suite › class › name`.
    pub test: String,
    pub failure_id: Option<Uuid>,
    pub group_id: Option<Uuid>,
}

/// One rule's result for a build.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RuleResult {
    pub rule_id: Uuid,
    pub kind: RuleKind,
    pub status: RuleStatus,
    /// The rule's limit: a count, or a percentage for min_pass_rate.
    #[schema(value_type = f64)]
    pub threshold: Amount,
    /// What the build measured, in the threshold's unit.
    #[schema(value_type = f64)]
    pub actual: Amount,
    /// One line for a CI log: `3 failures, at most 0 allowed`.
    pub summary: String,
    /// The failures that broke the rule (empty when it passed), at most
    /// 100.
    pub failures: Vec<FailureRef>,
}

/// A build's quality gate, as `GET .../quality-gate` answers it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct GateAnswer {
    pub build_id: Uuid,
    pub status: GateStatus,
    /// Why the gate is pending; null once evaluated.
    pub reason: Option<String>,
    /// When the gate was evaluated (the answer never changes after).
    pub evaluated_at: Option<DateTime<Utc>>,
    /// The last good build of the same job on the same branch before this
    /// one, against which newly failing tests are counted.
    pub baseline_build_id: Option<Uuid>,
    /// Each rule matching the build's branch, with its result.
    pub rules: Vec<RuleResult>,
}

impl GateAnswer {
    pub fn pending(build_id: Uuid, reason: &str) -> Self {
        Self {
            build_id,
            status: GateStatus::Pending,
            reason: Some(reason.to_owned()),
            evaluated_at: None,
            baseline_build_id: None,
            rules: Vec::new(),
        }
    }
}

/// A failing (failed or errored) result of the build.
#[derive(Debug, Clone)]
pub struct FailingResult {
    pub test_id: Uuid,
    /// `suite › class › name`.
    pub test: String,
    /// The failure of the outcome the report states (attempt 0).
    pub failure_id: Option<Uuid>,
    pub group_id: Option<Uuid>,
    /// The label that stands: the failure's own when a member set it,
    /// else its group's.
    pub label: String,
    pub group_muted: bool,
    pub quarantined: bool,
}

impl FailingResult {
    /// Quarantined tests and muted groups never count.
    pub fn counts(&self) -> bool {
        !self.quarantined && !self.group_muted
    }

    fn reference(&self) -> FailureRef {
        FailureRef {
            test: self.test.clone(),
            failure_id: self.failure_id,
            group_id: self.group_id,
        }
    }
}

/// What a finished build's gate is evaluated on.
#[derive(Debug, Clone, Default)]
pub struct BuildFacts {
    pub totals: BuildTotals,
    /// Every failing result, in the order failures are listed.
    pub failing: Vec<FailingResult>,
    /// Passed (or flaky) results of quarantined tests.
    pub quarantined_passing: i64,
    /// Groups first seen in this build.
    pub new_groups: Vec<Uuid>,
    /// Tests failing now that did not fail in the baseline (all failing
    /// tests when there is none).
    pub newly_failing: HashSet<Uuid>,
    pub baseline_build_id: Option<Uuid>,
}

/// `build_id`'s gate under `rules` (those applying to its branch, in
/// order), evaluated at `now`.
pub fn evaluate(
    build_id: Uuid,
    rules: &[GateRule],
    facts: &BuildFacts,
    now: DateTime<Utc>,
) -> GateAnswer {
    let results: Vec<RuleResult> = rules.iter().map(|rule| judge(rule, facts)).collect();
    let status = if results.iter().any(|r| r.status == RuleStatus::Failed) {
        GateStatus::Failed
    } else {
        GateStatus::Passed
    };
    GateAnswer {
        build_id,
        status,
        reason: None,
        evaluated_at: Some(now),
        baseline_build_id: facts.baseline_build_id,
        rules: results,
    }
}

fn judge(rule: &GateRule, facts: &BuildFacts) -> RuleResult {
    let counted: Vec<&FailingResult> = facts.failing.iter().filter(|f| f.counts()).collect();
    let excluded = i64::try_from(facts.failing.len() - counted.len()).unwrap_or(i64::MAX);
    let totals = facts.totals;
    let failing_count = (totals.failures + totals.errors - excluded).max(0);
    // Count thresholds are validated whole numbers of at most 10^9.
    let limit = rule.threshold as i64;
    let (failed, actual, threshold, summary, listed) = match rule.kind {
        RuleKind::MaxFailures => (
            failing_count > limit,
            Amount::Count(failing_count),
            Amount::Count(limit),
            format!(
                "{failing_count} {}, at most {limit} allowed",
                plural(failing_count, "failure", "failures")
            ),
            counted.clone(),
        ),
        RuleKind::MinPassRate => {
            let passing = (totals.passed + totals.flaky - facts.quarantined_passing).max(0);
            let ran = passing + failing_count;
            // Nothing ran: nothing failed either (min_tests catches it).
            let rate = if ran == 0 {
                100.0
            } else {
                passing as f64 * 100.0 / ran as f64
            };
            let shown = (rate * 100.0).round() / 100.0;
            (
                rate < rule.threshold,
                Amount::Percent(shown),
                Amount::Percent(rule.threshold),
                format!(
                    "pass rate {}% ({passing} of {ran}), at least {}% required",
                    percent(shown),
                    percent(rule.threshold)
                ),
                counted.clone(),
            )
        }
        RuleKind::NoNewGroups => {
            let mut seen = HashSet::new();
            let firsts: Vec<&FailingResult> = counted
                .iter()
                .copied()
                .filter(|f| {
                    f.group_id.is_some_and(|group| {
                        facts.new_groups.contains(&group) && seen.insert(group)
                    })
                })
                .collect();
            let n = i64::try_from(firsts.len()).unwrap_or(i64::MAX);
            (
                n > 0,
                Amount::Count(n),
                Amount::Count(0),
                format!(
                    "{n} new failure {}, none allowed",
                    plural(n, "group", "groups")
                ),
                firsts,
            )
        }
        RuleKind::NoProductBugs => {
            let bugs: Vec<&FailingResult> = counted
                .iter()
                .copied()
                .filter(|f| f.label == PRODUCT_BUG)
                .collect();
            let n = i64::try_from(bugs.len()).unwrap_or(i64::MAX);
            (
                n > 0,
                Amount::Count(n),
                Amount::Count(0),
                format!(
                    "{n} {} labelled product_bug, none allowed",
                    plural(n, "failure", "failures")
                ),
                bugs,
            )
        }
        RuleKind::MaxNewlyFailing => {
            let new: Vec<&FailingResult> = counted
                .iter()
                .copied()
                .filter(|f| facts.newly_failing.contains(&f.test_id))
                .collect();
            let n = i64::try_from(new.len()).unwrap_or(i64::MAX);
            let against = match facts.baseline_build_id {
                Some(baseline) => format!("against build {baseline}"),
                None => "with no earlier good build to compare with".to_owned(),
            };
            (
                n > limit,
                Amount::Count(n),
                Amount::Count(limit),
                format!(
                    "{n} {} newly failing {against}, at most {limit} allowed",
                    plural(n, "test", "tests")
                ),
                new,
            )
        }
        RuleKind::MinTests => {
            let ran = (totals.tests - totals.skipped).max(0);
            (
                ran < limit,
                Amount::Count(ran),
                Amount::Count(limit),
                format!(
                    "{ran} {} ran, at least {limit} required",
                    plural(ran, "test", "tests")
                ),
                Vec::new(),
            )
        }
    };
    RuleResult {
        rule_id: rule.id,
        kind: rule.kind,
        status: if failed {
            RuleStatus::Failed
        } else {
            RuleStatus::Passed
        },
        threshold,
        actual,
        summary,
        failures: if failed {
            listed
                .iter()
                .take(FAILURES_LISTED_PER_RULE)
                .map(|f| f.reference())
                .collect()
        } else {
            Vec::new()
        },
    }
}

fn plural(n: i64, one: &'static str, many: &'static str) -> &'static str {
    if n == 1 { one } else { many }
}

/// `97.5`, `100`, `93.33`: at most two decimals, no trailing zeros.
fn percent(value: f64) -> String {
    let text = format!("{value:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

#[cfg(test)]
#[path = "evaluate_tests.rs"]
mod tests;
