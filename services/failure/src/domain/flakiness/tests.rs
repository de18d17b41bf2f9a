//! The monitors over constructed histories: each one hit and missed.

use chrono::{DateTime, Duration, TimeZone, Utc};
use uuid::Uuid;

use super::*;
use crate::domain::CaseStatus::{self, Error, Failed, Flaky, Passed, Skipped};

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap()
}

/// One result an hour from `start()`, each on its own commit.
fn history(statuses: &[CaseStatus]) -> Vec<Observation> {
    statuses
        .iter()
        .zip(0..)
        .map(|(status, day)| Observation {
            recorded_at: start() + Duration::hours(day),
            commit_sha: Some(format!("c{day}")),
            status: *status,
        })
        .collect()
}

fn last_day(history: &[Observation]) -> DateTime<Utc> {
    history.last().map_or(start(), |o| o.recorded_at)
}

fn judge(previous: Option<&TestHealth>, history: &[Observation]) -> TestHealth {
    assess(
        Uuid::nil(),
        previous,
        history,
        &FlakySettings::default(),
        last_day(history),
    )
}

fn repeat(status: CaseStatus, n: usize) -> Vec<CaseStatus> {
    vec![status; n]
}

fn alternating(n: usize) -> Vec<CaseStatus> {
    (0..n)
        .map(|i| if i % 2 == 0 { Passed } else { Failed })
        .collect()
}

#[test]
fn each_monitor_is_hit_and_missed_by_constructed_histories() {
    let cases: Vec<(&str, Vec<CaseStatus>, HealthState)> = vec![
        ("all passes", repeat(Passed, 20), HealthState::Healthy),
        (
            "one pass on retry flags at once",
            vec![Passed, Flaky],
            HealthState::Flaky,
        ),
        (
            "alternating, 9 results: under the minimum sample",
            alternating(9),
            HealthState::Healthy,
        ),
        (
            "alternating, 10 results: flaky",
            alternating(10),
            HealthState::Flaky,
        ),
        (
            "a regression: passes, then failing since a point",
            [repeat(Passed, 6), repeat(Failed, 5)].concat(),
            HealthState::Broken,
        ),
        (
            "a shorter failing run than broken needs, one transition: healthy",
            [repeat(Passed, 6), repeat(Error, 4)].concat(),
            HealthState::Healthy,
        ),
        (
            "flaky, then failing since a point: broken beats flaky",
            [alternating(10), repeat(Failed, 5)].concat(),
            HealthState::Broken,
        ),
        (
            "one failure in twenty, two transitions: under the rate",
            [repeat(Passed, 10), vec![Failed], repeat(Passed, 19)].concat(),
            HealthState::Healthy,
        ),
        (
            "skips are not results",
            [alternating(9), repeat(Skipped, 5)].concat(),
            HealthState::Healthy,
        ),
    ];
    for (name, statuses, expected) in cases {
        let health = judge(None, &history(&statuses));
        assert_eq!(health.state, expected, "{name}: {:?}", health.evidence);
    }
}

#[test]
fn a_pass_and_a_failure_on_one_commit_are_a_contradiction_that_flags_at_once() {
    let mut results = history(&[Passed, Failed]);
    results[1].commit_sha = results[0].commit_sha.clone();
    let health = judge(None, &results);
    assert_eq!(health.state, HealthState::Flaky);
    assert_eq!(health.evidence.same_commit_contradictions, 1);

    let distinct = judge(None, &history(&[Passed, Failed]));
    assert_eq!(distinct.state, HealthState::Healthy);
    assert_eq!(distinct.evidence.same_commit_contradictions, 0);
}

#[test]
fn the_evidence_counts_rate_transitions_and_retries() {
    let results = history(&[Passed, Failed, Flaky, Failed, Passed]);
    let health = judge(None, &results);
    assert_eq!(health.evidence.window_results, 5);
    assert!((health.evidence.failure_rate - 0.4).abs() < 1e-9);
    assert_eq!(health.evidence.transitions, 4);
    assert_eq!(health.evidence.retries_passed, 1);
    assert_eq!(health.evidence.first_seen_at, Some(results[1].recorded_at));
    assert_eq!(health.evidence.last_seen_at, Some(results[3].recorded_at));
}

#[test]
fn a_flagged_test_recovers_after_a_run_of_passes_or_a_quiet_period() {
    let flagged = judge(None, &history(&[Passed, Flaky]));
    assert_eq!(flagged.state, HealthState::Flaky);

    let nine = history(&[[Passed, Flaky].as_slice(), &repeat(Passed, 9)].concat());
    let still = judge(Some(&flagged), &nine);
    assert_eq!(still.state, HealthState::Flaky, "nine passes are not ten");
    assert_eq!(still.since, flagged.since);

    let ten = history(&[[Passed, Flaky].as_slice(), &repeat(Passed, 10)].concat());
    let recovered = judge(Some(&still), &ten);
    assert_eq!(recovered.state, HealthState::Healthy);
    assert_eq!(recovered.evidence_from, Some(last_day(&ten)));

    // A week without failing, then one pass: recovered too.
    let mut quiet = history(&[Passed, Flaky, Passed]);
    quiet[2].recorded_at = quiet[1].recorded_at + Duration::days(7);
    let health = assess(
        Uuid::nil(),
        Some(&flagged),
        &quiet,
        &FlakySettings::default(),
        quiet[2].recorded_at,
    );
    assert_eq!(health.state, HealthState::Healthy);
}

#[test]
fn a_flagged_test_stays_flagged_at_its_worst_until_it_recovers() {
    let broken = judge(
        None,
        &history(&[repeat(Passed, 6), repeat(Failed, 5)].concat()),
    );
    assert_eq!(broken.state, HealthState::Broken);
    // The fix lands: a pass after the failing run is a transition, not a
    // reason to call the test flaky; it stays broken until it recovers.
    let fixed = judge(
        Some(&broken),
        &history(&[repeat(Passed, 6), repeat(Failed, 5), vec![Passed]].concat()),
    );
    assert_eq!(fixed.state, HealthState::Broken);
    assert_eq!(fixed.since, broken.since);
}

#[test]
fn an_upload_where_most_tests_failed_is_an_outage_when_it_is_large_enough() {
    let settings = FlakySettings::default();
    assert!(is_infrastructure_outage(&settings, 10, 9));
    assert!(
        !is_infrastructure_outage(&settings, 10, 8),
        "80% is not more than 80%"
    );
    assert!(
        !is_infrastructure_outage(&settings, 5, 5),
        "too few tests to say"
    );
}

#[test]
fn settings_out_of_bounds_name_their_field() {
    let valid = FlakySettings::default().validated().unwrap();
    assert_eq!(valid, FlakySettings::default());
    let cases = [
        (
            FlakySettings {
                min_sample: 0,
                ..FlakySettings::default()
            },
            "min_sample",
        ),
        (
            FlakySettings {
                flaky_min_failure_rate: 1.5,
                ..FlakySettings::default()
            },
            "flaky_min_failure_rate",
        ),
        (
            FlakySettings {
                branch: "main\n".to_owned(),
                ..FlakySettings::default()
            },
            "branch",
        ),
    ];
    for (settings, field) in cases {
        assert_eq!(settings.validated().unwrap_err().0, field);
    }
}
