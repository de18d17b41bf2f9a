//! After an upload's results are written, in its transaction: its tests'
//! health on the monitored branch, and automatic quarantine.
//!
//! Only tests whose state could change are judged: those that failed or
//! passed on retry in the build, and those with a stored health that is
//! flagged or saw a failure within the window (a pass can recover them or
//! contradict an earlier failure on the same commit). A test that never
//! failed has no health row, and its passes cannot change that, so the
//! bulk of a large upload, passing tests, costs nothing here. Three
//! statements read (settings, candidates with their stored health, all of
//! their windows) and one writes, whatever the number of tests.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use tenant_core::{DbError, TenantTx};
use uuid::Uuid;

use crate::domain::flakiness::{
    self, HealthChanges, HealthState, Observation, TestHealth, is_infrastructure_outage,
};
use crate::domain::{Build, events};
use crate::junit::Counts;
use crate::repository::quarantine::{self, Actor};
use crate::repository::{builds, flaky_settings, outbox, test_health};

/// Judges the health of the upload's tests whose state could change
/// (`failing`: the tests that failed or passed on retry in it), marks the
/// build when the upload was an infrastructure outage, and quarantines
/// tests newly flagged flaky when the project asks for it.
pub(super) async fn update_test_health(
    tx: &TenantTx,
    project_id: Uuid,
    build: &Build,
    counts: &Counts,
    failing: &[Uuid],
    now: DateTime<Utc>,
) -> Result<HealthChanges, DbError> {
    let settings = flaky_settings::get_settings(tx, project_id).await?;
    if build.branch.as_deref() != Some(settings.branch.as_str()) {
        return Ok(HealthChanges::default());
    }
    let failed = counts.failures.saturating_add(counts.errors);
    if is_infrastructure_outage(&settings, counts.tests, failed) {
        tracing::info!(
            build_id = %build.id,
            tests = counts.tests,
            failed,
            "most tests of the upload failed: an infrastructure outage, evidence for no test"
        );
        builds::mark_infrastructure_outage(tx, project_id, build.id).await?;
        return Ok(HealthChanges::default());
    }
    if build.infrastructure_outage {
        return Ok(HealthChanges::default());
    }
    let window_start = now - Duration::days(i64::from(settings.window_days));
    let candidates = test_health::health_candidates(
        tx,
        project_id,
        (build.id, build.created_at),
        failing,
        window_start,
    )
    .await?;
    if candidates.is_empty() {
        return Ok(HealthChanges::default());
    }
    let windows: Vec<(Uuid, Option<DateTime<Utc>>)> = candidates
        .iter()
        .map(|(id, health)| (*id, health.as_ref().and_then(|h| h.evidence_from)))
        .collect();
    let mut histories: HashMap<Uuid, Vec<Observation>> = HashMap::new();
    for (test_id, observation) in test_health::recent_results(
        tx,
        project_id,
        &windows,
        &settings.branch,
        window_start,
        i64::from(settings.window_results),
    )
    .await?
    {
        histories.entry(test_id).or_default().push(observation);
    }

    let mut changes = HealthChanges::default();
    let mut judged: Vec<TestHealth> = Vec::with_capacity(candidates.len());
    for (test_id, previous) in &candidates {
        let mut history = histories.remove(test_id).unwrap_or_default();
        // Read newest first; the monitors read oldest first.
        history.reverse();
        let health = flakiness::assess(*test_id, previous.as_ref(), &history, &settings, now);
        let before = previous.as_ref().map_or(HealthState::Healthy, |p| p.state);
        if health.state != before {
            if health.state.is_flagged() {
                changes.newly_flagged.push((*test_id, health.state));
            } else {
                changes.recovered.push(*test_id);
            }
        }
        judged.push(health);
    }
    test_health::upsert_health(tx, project_id, now, &judged).await?;

    if settings.auto_quarantine {
        let flaky: Vec<Uuid> = changes
            .newly_flagged
            .iter()
            .filter(|(_, state)| *state == HealthState::Flaky)
            .map(|(id, _)| *id)
            .collect();
        changes.newly_quarantined = quarantine::quarantine_tests(
            tx,
            project_id,
            &flaky,
            Some("flagged flaky by the monitors"),
            Actor::Automatic,
            now,
        )
        .await?;
    }
    Ok(changes)
}

/// Publishes changes to tests' health and quarantine in `tx`, the
/// transaction that made them: `test.flaky_detected` for each test newly
/// flagged (with its state) and `test.quarantined` for each test newly
/// quarantined, automatically by the upload of `build_id` or by a member
/// (no build). Recoveries are logged only.
pub(crate) async fn publish_health_changes(
    tx: &TenantTx,
    project_id: Uuid,
    build_id: Option<Uuid>,
    changes: &HealthChanges,
) -> Result<(), DbError> {
    for test_id in &changes.recovered {
        tracing::info!(build_id = build_id.map(tracing::field::display), %test_id, "test recovered to healthy");
    }
    let events = events::health_changed(project_id, build_id, changes, build_id.is_some());
    outbox::publish(tx, &events).await
}
