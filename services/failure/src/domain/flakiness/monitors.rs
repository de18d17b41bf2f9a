//! The monitors: from a test's recent results on the monitored branch to
//! its health.
//!
//! - Pass-on-retry: a result that failed and then passed in one build
//!   (status `flaky`), or a commit on which the test both passed and
//!   failed, flags the test flaky at once.
//! - Failure rate: with at least `min_sample` results in the window, the
//!   latest `broken_min_failures` results all failing is a regression
//!   (broken); otherwise a failure rate of at least
//!   `flaky_min_failure_rate` with at least `flaky_min_transitions`
//!   changes between pass and fail is flaky.
//! - Broken beats flaky beats healthy, and a flagged test stays flagged
//!   (at its worst state) until it recovers: `recovery_passes` passes in a
//!   row, or no failure for `recovery_days`. Recovery clears its evidence:
//!   results recorded before it count no more.

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use super::{Evidence, FlakySettings, HealthState, Observation, TestHealth};
use crate::domain::CaseStatus;

/// Whether an upload of `tests` results of which `failing` failed is an
/// infrastructure outage (a dead database, a broken runner) rather than
/// evidence about its tests.
pub fn is_infrastructure_outage(settings: &FlakySettings, tests: u64, failing: u64) -> bool {
    let min_tests = u64::try_from(settings.outage_min_tests).unwrap_or(u64::MAX);
    #[expect(clippy::cast_precision_loss, reason = "a ratio of counts")]
    let ratio = failing as f64 / tests.max(1) as f64;
    tests >= min_tests && ratio > settings.outage_failure_ratio
}

/// A result as the monitors count it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Pass,
    Fail,
    /// Failed, then passed on a retry in the same build.
    PassedOnRetry,
}

impl Outcome {
    fn of(status: CaseStatus) -> Option<Self> {
        match status {
            CaseStatus::Passed => Some(Self::Pass),
            CaseStatus::Failed | CaseStatus::Error => Some(Self::Fail),
            CaseStatus::Flaky => Some(Self::PassedOnRetry),
            CaseStatus::Skipped => None,
        }
    }

    fn passed(self) -> bool {
        self != Self::Fail
    }
}

/// The test's health after its latest results. `history` is the window:
/// the test's latest results on the monitored branch, oldest first,
/// recorded after `previous.evidence_from`, outside infrastructure
/// outages, at most `window_results` of them within `window_days`.
pub fn assess(
    test_id: Uuid,
    previous: Option<&TestHealth>,
    history: &[Observation],
    settings: &FlakySettings,
    now: DateTime<Utc>,
) -> TestHealth {
    let observed: Vec<(&Observation, Outcome)> = history
        .iter()
        .filter_map(|o| Outcome::of(o.status).map(|outcome| (o, outcome)))
        .collect();
    let evidence = evidence(previous, &observed);
    let sample = evidence.window_results;
    let failing_streak = trailing(&observed, |o| o == Outcome::Fail);
    let passing_streak = trailing(&observed, |o| o == Outcome::Pass);

    let enough = sample >= settings.min_sample;
    let broken_now = enough && failing_streak >= settings.broken_min_failures;
    let rate_flaky = enough
        && evidence.failure_rate >= settings.flaky_min_failure_rate
        && evidence.failure_rate > 0.0
        && evidence.transitions >= settings.flaky_min_transitions;
    let flaky_now =
        evidence.retries_passed > 0 || evidence.same_commit_contradictions > 0 || rate_flaky;
    let found = if broken_now {
        HealthState::Broken
    } else if flaky_now {
        HealthState::Flaky
    } else {
        HealthState::Healthy
    };

    let held = previous.map_or(HealthState::Healthy, |p| p.state);
    let quiet_since = evidence
        .last_seen_at
        .or(previous.and_then(|p| p.evidence.last_seen_at));
    let quiet = quiet_since
        .is_some_and(|last| now - last >= Duration::days(i64::from(settings.recovery_days)));
    let recovered = held.is_flagged()
        && !broken_now
        && (passing_streak >= settings.recovery_passes || (quiet && passing_streak > 0));
    if recovered {
        return TestHealth {
            test_id,
            state: HealthState::Healthy,
            since: now,
            evidence_from: Some(now),
            evidence: Evidence::default(),
        };
    }
    let state = held.max(found);
    TestHealth {
        test_id,
        state,
        since: match previous {
            Some(p) if p.state == state => p.since,
            _ => now,
        },
        evidence_from: previous.and_then(|p| p.evidence_from),
        evidence,
    }
}

/// The figures over the window, first failure kept from earlier evidence.
fn evidence(previous: Option<&TestHealth>, observed: &[(&Observation, Outcome)]) -> Evidence {
    let sample = observed.len();
    let failures = observed.iter().filter(|(_, o)| *o == Outcome::Fail).count();
    let transitions = observed
        .windows(2)
        .filter(|pair| pair[0].1.passed() != pair[1].1.passed())
        .count();
    let retries_passed = observed
        .iter()
        .filter(|(_, o)| *o == Outcome::PassedOnRetry)
        .count();
    let mut commits: Vec<(&str, bool)> = observed
        .iter()
        .filter_map(|(o, outcome)| o.commit_sha.as_deref().map(|c| (c, outcome.passed())))
        .collect();
    commits.sort_unstable();
    commits.dedup();
    let contradictions = commits.windows(2).filter(|w| w[0].0 == w[1].0).count();
    let failed_at = observed
        .iter()
        .filter(|(_, o)| *o != Outcome::Pass)
        .map(|(o, _)| o.recorded_at);
    let earliest = failed_at.clone().min();
    let earlier = previous.and_then(|p| p.evidence.first_seen_at);
    let count = |n: usize| i32::try_from(n).unwrap_or(i32::MAX);
    #[expect(clippy::cast_precision_loss, reason = "a ratio of small counts")]
    let failure_rate = if sample == 0 {
        0.0
    } else {
        failures as f64 / sample as f64
    };
    Evidence {
        failure_rate,
        transitions: count(transitions),
        same_commit_contradictions: count(contradictions),
        retries_passed: count(retries_passed),
        window_results: count(sample),
        first_seen_at: match (earlier, earliest) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        },
        last_seen_at: failed_at
            .max()
            .or(previous.and_then(|p| p.evidence.last_seen_at)),
    }
}

/// How many of the newest outcomes in a row satisfy `matches`.
fn trailing(observed: &[(&Observation, Outcome)], matches: impl Fn(Outcome) -> bool) -> i32 {
    let run = observed
        .iter()
        .rev()
        .take_while(|(_, outcome)| matches(*outcome))
        .count();
    i32::try_from(run).unwrap_or(i32::MAX)
}
