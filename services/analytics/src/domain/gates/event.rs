//! `gate.failed`: what the analytics service tells the integration
//! gateway when a build's quality gate fails, through its outbox
//! (published once per build, in the transaction that stores the
//! evaluation).

use serde_json::json;
use tenant_core::outbox::OutboxEvent;
use uuid::Uuid;

use super::evaluate::{GateAnswer, RuleStatus};
use crate::domain::comparison::BuildSnapshot;

/// A build's quality gate failed.
pub const GATE_FAILED: &str = "gate.failed";

/// `gate.failed` for `build`, whose gate `answer` failed: the build's
/// job, branch, commit and link, and each failed rule's kind and summary.
pub fn gate_failed(project_id: Uuid, build: &BuildSnapshot, answer: &GateAnswer) -> OutboxEvent {
    let failed_rules: Vec<_> = answer
        .rules
        .iter()
        .filter(|rule| rule.status == RuleStatus::Failed)
        .map(|rule| json!({ "kind": rule.kind, "summary": rule.summary }))
        .collect();
    OutboxEvent::new(
        project_id,
        GATE_FAILED,
        json!({
            "build_id": build.id,
            "job_name": build.job_name,
            "branch": build.branch,
            "commit_sha": build.commit_sha,
            "url": build.url,
            "failed_rules": failed_rules,
            "evaluated_at": answer.evaluated_at,
        }),
    )
}
