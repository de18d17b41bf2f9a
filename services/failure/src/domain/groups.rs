//! Failure groups: the failures of one signature, across builds.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::classification::{Explanation, Label, LabelSource};
use super::results::hashed_id;
use super::signature::fingerprint::Signature;
use super::{BuildRef, FailureRow, FailureSummary, TestIdentity};

/// A group's id: a hash of its project, grouping rules version and
/// signature hash, shaped as a UUID like [`super::test_id`]. Every upload
/// knows the id of a failure's group without reading or locking its row.
pub fn group_id(project_id: Uuid, signature: &Signature) -> Uuid {
    hashed_id(
        project_id,
        &[&signature.version.to_be_bytes(), signature.hash.as_bytes()],
    )
}

/// One signature among a batch's failures, as its group is written: the
/// group's id, the signature and the first failure's message and trace (a
/// new group's representative).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchGroup<'a> {
    pub id: Uuid,
    pub signature: &'a Signature,
    pub message: Option<&'a str>,
    pub stack_trace: Option<&'a str>,
}

/// A batch's failures by signature, one entry per hash, ordered by hash
/// (failures that joined a similar group make none):
/// concurrent uploads that each insert the same new groups wait for each
/// other in one order.
pub fn batch_groups<'a>(failures: impl IntoIterator<Item = &'a FailureRow>) -> Vec<BatchGroup<'a>> {
    let mut groups: BTreeMap<&str, BatchGroup<'a>> = BTreeMap::new();
    for failure in failures.into_iter().filter(|f| !f.joined_similar) {
        groups
            .entry(failure.signature.hash.as_str())
            .or_insert_with(|| BatchGroup {
                id: failure.group_id,
                signature: &failure.signature,
                message: failure.message.as_deref(),
                stack_trace: failure.stack_trace.as_deref(),
            });
    }
    groups.into_values().collect()
}

/// A failure group as the v2 list shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GroupSummary {
    pub id: Uuid,
    /// The normalised message, for groups known by their message (no
    /// stack frames); null for groups known by their frames.
    pub template: Option<String>,
    pub exception_type: Option<String>,
    pub label: Label,
    /// From 0 to 1.
    pub confidence: f64,
    /// Who or what gave the label; null when nothing matched.
    pub label_source: Option<LabelSource>,
    /// `open`, `triaged`, `resolved` or `muted`.
    pub status: String,
    /// The member the group is assigned to, if any.
    pub assignee_id: Option<Uuid>,
    /// Failures in the group: one per failing test and build.
    pub occurrences: i64,
    /// Distinct tests among them.
    pub affected_tests: i64,
    pub first_seen_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    /// The group's latest failure.
    pub latest_sample: Option<LatestSample>,
}

/// A group's latest failure, in short.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LatestSample {
    pub failure_id: Uuid,
    /// The message's first 1000 characters.
    pub message: Option<String>,
    pub build: BuildRef,
    pub test: TestIdentity,
}

/// A failure group with what decided its label, its latest failures and
/// the labels members gave it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GroupDetails {
    #[serde(flatten)]
    pub summary: GroupSummary,
    /// The signature's frame keys, top of stack first.
    pub frames: Vec<String>,
    /// The first failure's message and stack trace (as capped at ingestion).
    pub message: Option<String>,
    pub stack_trace: Option<String>,
    pub explanation: Explanation,
    /// The group's latest 20 failures, newest first, with build and test.
    pub recent_occurrences: Vec<FailureSummary>,
    /// Labels members gave or removed, newest first (at most 50).
    pub feedback: Vec<FeedbackEntry>,
    /// Issues filed for the group in a tracker (Jira, GitHub), recorded
    /// by the integration gateway.
    pub issue_links: Vec<IssueLink>,
}

/// An issue filed for a failure group, as the integration gateway last
/// saw it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct IssueLink {
    /// `jira` or `github`.
    pub provider: String,
    /// `WEB-42`, `acme/web#42`.
    pub key: String,
    pub url: String,
    /// The tracker's status name (`To Do`, `Done`, `open`).
    pub status: String,
    pub updated_at: DateTime<Utc>,
}

/// One entry of the feedback log: a member set or removed a label.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FeedbackEntry {
    pub id: Uuid,
    /// The group labelled, or null for a failure's label.
    pub group_id: Option<Uuid>,
    /// The failure labelled, or null for a group's label.
    pub failure_id: Option<Uuid>,
    pub actor_id: Uuid,
    /// `set` or `removed`.
    pub action: String,
    pub old_label: Option<Label>,
    pub old_source: Option<LabelSource>,
    pub new_label: Label,
    pub new_source: Option<LabelSource>,
    pub created_at: DateTime<Utc>,
}

/// Which groups the v2 list shows.
#[derive(Debug, Default, Clone)]
pub struct GroupFilter {
    pub label: Option<Label>,
    pub status: Option<String>,
    pub exception_type: Option<String>,
    /// Groups last seen at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Groups last seen before this time.
    pub until: Option<DateTime<Utc>>,
    /// Case-insensitive substring of the template or the first message.
    pub q: Option<String>,
    pub min_confidence: Option<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::FailureKind;
    use crate::domain::signature::in_app::InAppRules;
    use crate::domain::signature::normalize::NormalizeOptions;
    use crate::domain::signature::signature_of;

    fn failure(project: Uuid, message: &str, trace: &str) -> FailureRow {
        let scope = super::super::GroupScope {
            project_id: project,
            rules: Default::default(),
        };
        FailureRow::new(
            &scope,
            FailureKind::Failure,
            None,
            Some(message.to_owned()),
            Some(trace.to_owned()),
            None,
            None,
        )
    }

    #[test]
    fn a_batch_has_one_group_per_signature_with_the_first_failure_as_its_example() {
        let trace = |line: u32| {
            format!(
                "java.lang.IllegalStateException: x\n\tat com.acme.Cart.add(Cart.java:{line})\n"
            )
        };
        let project = Uuid::now_v7();
        let rows = [
            failure(
                project,
                "java.lang.IllegalStateException: order 12345",
                &trace(10),
            ),
            failure(
                project,
                "java.lang.IllegalStateException: order 67890",
                &trace(42),
            ),
            failure(project, "expected 1 but was 2", ""),
        ];
        let groups = batch_groups(&rows);
        assert_eq!(groups.len(), 2);
        assert_eq!(rows[0].signature, rows[1].signature);
        let shared = groups
            .iter()
            .find(|g| *g.signature == rows[0].signature)
            .unwrap();
        assert_eq!(
            shared.message,
            Some("java.lang.IllegalStateException: order 12345")
        );
        assert!(
            groups
                .windows(2)
                .all(|w| w[0].signature.hash < w[1].signature.hash)
        );
        let expected = signature_of(
            "expected 1 but was 2",
            "",
            &InAppRules::default(),
            &NormalizeOptions::default(),
        );
        assert!(groups.iter().any(|g| *g.signature == expected));
        assert_eq!(shared.id, group_id(project, &rows[0].signature));
        assert_ne!(shared.id, group_id(Uuid::now_v7(), &rows[0].signature));
        assert!(groups.iter().all(|g| g.id != shared.id || g == shared));
    }
}
