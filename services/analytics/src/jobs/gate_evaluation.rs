//! A build's quality gate: read it if it was stored, answer `pending`
//! while the build runs or its failures are not analysed, otherwise
//! evaluate it once, store it and, when it failed, publish `gate.failed`
//! in the same transaction. The gate endpoint calls [`quality_gate`] in
//! the request's transaction; the `build.completed` consumer calls
//! [`evaluate_on_build_completed`], so a CI step polling the gate usually
//! finds the answer stored already.

use chrono::{SubsecRound, Utc};
use tenant_core::outbox;
use tenant_core::{Db, TenantTx};
use uuid::Uuid;

use crate::domain::comparison::{self, BuildSnapshot};
use crate::domain::gates::event::gate_failed;
use crate::domain::gates::{
    BuildFacts, FailingResult, GateAnswer, GateRule, GateStatus, RuleKind, evaluate,
};
use crate::error::AnalyticsError;
use crate::repository::{builds, gates};

/// Why a gate is pending: the build has not finished.
pub const STILL_RUNNING: &str = "the build is still running";
/// Why a gate is pending: a failure of the build has no group yet.
pub const NOT_ANALYSED: &str = "the build's failures are not analysed yet";

/// `build_id`'s gate in `tx` (the caller commits). A stored gate is one
/// primary-key read; a build of another project, or none, is
/// [`AnalyticsError::BuildNotFound`].
pub async fn quality_gate(
    tx: &TenantTx,
    project_id: Uuid,
    build_id: Uuid,
) -> Result<GateAnswer, AnalyticsError> {
    if let Some(stored) = gates::stored_evaluation(tx, project_id, build_id).await? {
        return Ok(stored);
    }
    let build = builds::find_build(tx, project_id, build_id)
        .await?
        .ok_or(AnalyticsError::BuildNotFound)?;
    if !build.is_finished() {
        return Ok(GateAnswer::pending(build_id, STILL_RUNNING));
    }
    let failing = gates::failing_results(tx, project_id, &build).await?;
    // A failure without a group has not been through grouping and
    // classification yet (a result without a failure row never will).
    if failing
        .iter()
        .any(|f| f.failure_id.is_some() && f.group_id.is_none())
    {
        return Ok(GateAnswer::pending(build_id, NOT_ANALYSED));
    }
    let rules: Vec<GateRule> = gates::list_rules(tx, project_id)
        .await?
        .into_iter()
        .filter(|rule| rule.applies_to(build.branch.as_deref()))
        .collect();
    let facts = build_facts(tx, project_id, &build, &rules, failing).await?;
    // Microseconds, as stored: the first answer equals every later one.
    let answer = evaluate(build_id, &rules, &facts, Utc::now().trunc_subsecs(6));
    if !gates::store_evaluation(tx, project_id, &answer).await? {
        // Another evaluation committed first: its answer is the one.
        return gates::stored_evaluation(tx, project_id, build_id)
            .await?
            .ok_or(AnalyticsError::BuildNotFound);
    }
    if answer.status == GateStatus::Failed {
        outbox::publish(tx, &[gate_failed(project_id, &build, &answer)]).await?;
    }
    Ok(answer)
}

/// What `rules` need to know of `build`: only the queries some rule
/// needs run.
async fn build_facts(
    tx: &TenantTx,
    project_id: Uuid,
    build: &BuildSnapshot,
    rules: &[GateRule],
    failing: Vec<FailingResult>,
) -> Result<BuildFacts, AnalyticsError> {
    let needs = |kind: RuleKind| rules.iter().any(|rule| rule.kind == kind);
    let mut facts = BuildFacts {
        totals: build.totals,
        failing,
        ..BuildFacts::default()
    };
    if needs(RuleKind::MinPassRate) {
        facts.quarantined_passing = gates::quarantined_passing(tx, project_id, build).await?;
    }
    if needs(RuleKind::NoNewGroups) {
        facts.new_groups = gates::groups_first_seen_in(tx, project_id, build.id).await?;
    }
    let baseline = builds::last_good_build(tx, project_id, build).await?;
    facts.baseline_build_id = baseline.as_ref().map(|b| b.id);
    if needs(RuleKind::MaxNewlyFailing) {
        let pairs = builds::result_pairs(tx, project_id, build, baseline.as_ref()).await?;
        facts.newly_failing = comparison::compare(pairs)
            .newly_failing
            .into_iter()
            .map(|change| change.test_id)
            .collect();
    }
    Ok(facts)
}

/// Evaluates `build_id`'s gate eagerly when its `build.completed` event
/// arrives, in a transaction of its own: stored (and `gate.failed`
/// published) once, whoever asks first. Answers what the endpoint would.
pub async fn evaluate_on_build_completed(
    db: &Db,
    project_id: Uuid,
    build_id: Uuid,
) -> Result<GateAnswer, AnalyticsError> {
    let tx = db.worker_tx(project_id).await?;
    let answer = quality_gate(&tx, project_id, build_id).await?;
    tx.commit().await?;
    Ok(answer)
}
