//! What the dashboards answer, and the arithmetic they share: a pass
//! rate, and the direction of a figure against the previous period.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

/// How a figure moved against the previous period of the same length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Up,
    Down,
    Flat,
    /// One of the two periods has nothing to compare.
    Unknown,
}

impl Direction {
    /// `current` against `previous`; a change under `tolerance` is flat.
    pub fn of(current: Option<f64>, previous: Option<f64>, tolerance: f64) -> Self {
        match (current, previous) {
            (Some(current), Some(previous)) if (current - previous).abs() <= tolerance => {
                Self::Flat
            }
            (Some(current), Some(previous)) if current > previous => Self::Up,
            (Some(_), Some(_)) => Self::Down,
            _ => Self::Unknown,
        }
    }

    /// Counts: up, down or flat (a count is never unknown).
    pub fn of_counts(current: i64, previous: i64) -> Self {
        match current.cmp(&previous) {
            std::cmp::Ordering::Greater => Self::Up,
            std::cmp::Ordering::Less => Self::Down,
            std::cmp::Ordering::Equal => Self::Flat,
        }
    }
}

/// Results that ran and passed (a flaky result passed on a retry) out of
/// all that ran (skipped ones did not); `None` when none ran.
pub fn pass_rate(passed: i64, flaky: i64, failed: i64) -> Option<f64> {
    let ran = passed + flaky + failed;
    // Counts stay far below 2^52, so the conversion is exact.
    #[expect(clippy::cast_precision_loss, reason = "counts are far below 2^52")]
    let rate = (ran > 0).then(|| (passed + flaky) as f64 / ran as f64);
    rate
}

/// Result counts over some builds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct Counts {
    pub builds: i64,
    pub tests: i64,
    pub passed: i64,
    pub failed: i64,
    pub skipped: i64,
    pub flaky: i64,
    pub new_groups: i64,
}

/// A period's counts and pass rate.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PeriodStats {
    pub from: NaiveDate,
    pub to: NaiveDate,
    #[serde(flatten)]
    pub counts: Counts,
    /// (passed + flaky) / (passed + flaky + failed); null when nothing ran.
    pub pass_rate: Option<f64>,
}

impl PeriodStats {
    pub fn new(from: NaiveDate, to: NaiveDate, counts: Counts) -> Self {
        Self {
            from,
            to,
            pass_rate: pass_rate(counts.passed, counts.flaky, counts.failed),
            counts,
        }
    }
}

/// One finished build in the summary.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BuildSummary {
    pub build_id: Uuid,
    pub job_name: String,
    /// `""` when the build names no branch.
    pub branch: String,
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    #[serde(flatten)]
    pub counts: Counts,
    pub pass_rate: Option<f64>,
    pub duration_ms: i64,
}

/// `GET .../analytics/summary`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProjectSummary {
    /// The last builds in the range, newest first.
    pub builds: Vec<BuildSummary>,
    pub period: PeriodStats,
    pub previous_period: PeriodStats,
    /// The pass rate against the previous period (flat within 0.5 %).
    pub direction: Direction,
    /// Tests the flaky monitor judges flaky now.
    pub flaky_tests: i64,
    /// Tests in quarantine now.
    pub quarantined_tests: i64,
    /// Groups neither resolved nor muted now.
    pub open_groups: i64,
}

/// One day of a trend.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TrendDay {
    pub day: NaiveDate,
    #[serde(flatten)]
    pub counts: Counts,
    pub pass_rate: Option<f64>,
    /// Failing outcomes by their group's label.
    pub failures_by_label: BTreeMap<String, i64>,
    /// Groups met again (first seen in an earlier build), counted per build.
    pub recurring_groups: i64,
    /// The sum of the results' durations.
    pub duration_ms: i64,
}

/// `GET .../analytics/trends`: every day of the range, oldest first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Trends {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub days: Vec<TrendDay>,
}

/// A test in a ranking.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RankedTest {
    pub test_id: Uuid,
    pub suite: String,
    pub classname: String,
    pub name: String,
    /// What the ranking counts (failures, flaky passes) or, for the
    /// slowest tests, the p95 duration in milliseconds.
    pub value: f64,
    /// The same figure over the previous period of the same length.
    pub previous_value: Option<f64>,
    pub trend: Direction,
    pub runs: i64,
    /// Median and 95th percentile of the run durations (ms).
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
}

/// A group in a ranking.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RankedGroup {
    pub group_id: Uuid,
    pub label: Option<String>,
    pub status: Option<String>,
    pub failures: i64,
    pub previous_failures: i64,
    pub trend: Direction,
}

/// `GET .../analytics/rankings`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Rankings {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub top_failing_tests: Vec<RankedTest>,
    pub top_groups: Vec<RankedGroup>,
    pub flakiest_tests: Vec<RankedTest>,
    pub slowest_tests: Vec<RankedTest>,
}

/// One group's resolution.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GroupResolution {
    pub group_id: Uuid,
    pub first_seen_at: DateTime<Utc>,
    pub triaged_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub time_to_triage_secs: Option<f64>,
    pub time_to_resolution_secs: Option<f64>,
}

/// `GET .../analytics/mttr`: groups resolved in the range.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ResolutionTimes {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub resolved_groups: i64,
    /// Mean of first seen -> resolved over the groups resolved in the range.
    pub mean_time_to_resolution_secs: Option<f64>,
    /// Groups first triaged in the range.
    pub triaged_groups: i64,
    /// Mean of first seen -> first status change over those.
    pub mean_time_to_triage_secs: Option<f64>,
    /// The groups resolved in the range, latest first (at most `limit`).
    pub groups: Vec<GroupResolution>,
}

/// One project in the cross-project overview.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProjectOverview {
    pub project_id: Uuid,
    #[serde(flatten)]
    pub counts: Counts,
    pub pass_rate: Option<f64>,
    pub open_groups: i64,
    pub flaky_tests: i64,
    pub quarantined_tests: i64,
}

/// `GET /v1/analytics/overview`: the caller's projects, side by side.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Overview {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub projects: Vec<ProjectOverview>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flaky_passes_count_as_passes_and_skips_do_not_count() {
        assert_eq!(pass_rate(3, 1, 4), Some(0.5));
        assert_eq!(pass_rate(0, 0, 0), None);
    }

    #[test]
    fn directions_compare_with_a_tolerance() {
        assert_eq!(Direction::of(Some(0.9), Some(0.8), 0.005), Direction::Up);
        assert_eq!(
            Direction::of(Some(0.8), Some(0.803), 0.005),
            Direction::Flat
        );
        assert_eq!(Direction::of(None, Some(0.8), 0.005), Direction::Unknown);
        assert_eq!(Direction::of_counts(1, 2), Direction::Down);
    }
}
