//! Classifying an upload's failures and new groups: the project's rules
//! and user-labelled groups are loaded once for the upload, and each
//! group's verdict is computed once however many of its failures the
//! upload has.

use std::collections::{HashMap, HashSet};

use uuid::Uuid;

use super::{
    Classification, Classifier, CompiledRule, FailureFacts, Flakiness, LabelledGroups, combine,
};
use crate::domain::{BatchGroup, CaseStatus, FailureRow, ResultRow};

/// A new group's label as it stands, and its own (flaky evidence or a
/// rule, whatever other groups are labelled): what the label falls back to
/// when a user label is removed.
#[derive(Debug, Clone)]
pub struct GroupClassification {
    pub effective: Classification,
    pub own: Classification,
}

/// What decides a group's failures, but their flaky evidence.
#[derive(Debug, Clone)]
struct GroupVerdict {
    user: Option<Classification>,
    learned: Option<Classification>,
    /// Project rules, built-in rules or nothing.
    ruled: Classification,
}

/// One upload's classifier: what the project knows, and the verdict of
/// every group the upload touched so far.
#[derive(Debug)]
pub struct UploadClassifier {
    rules: Vec<CompiledRule>,
    labelled: LabelledGroups,
    known_flaky: HashSet<Uuid>,
    verdicts: HashMap<Uuid, GroupVerdict>,
}

/// A batch's classifications: one per failure (a result's reported
/// failure and its earlier failed attempts), in order, and one per
/// group of [`crate::domain::batch_groups`], in its order.
#[derive(Debug)]
pub struct BatchClassification {
    pub failures: Vec<Classification>,
    pub groups: Vec<GroupClassification>,
}

impl UploadClassifier {
    /// `known_flaky`: tests the flaky-test monitor flags (empty when it
    /// has nothing to say).
    pub fn new(
        rules: Vec<CompiledRule>,
        labelled: LabelledGroups,
        known_flaky: HashSet<Uuid>,
    ) -> Self {
        Self {
            rules,
            labelled,
            known_flaky,
            verdicts: HashMap::new(),
        }
    }

    /// Every group the upload's failures went to so far.
    pub fn touched_groups(&self) -> Vec<Uuid> {
        let mut ids: Vec<Uuid> = self.verdicts.keys().copied().collect();
        ids.sort_unstable();
        ids
    }

    /// Classifies a batch's failing rows and its groups.
    pub fn classify_batch(
        &mut self,
        failing: &[(&ResultRow, i32, &FailureRow)],
        groups: &[BatchGroup<'_>],
    ) -> BatchClassification {
        let mut first_of_group: HashMap<Uuid, GroupClassification> = HashMap::new();
        let mut failures = Vec::with_capacity(failing.len());
        for (row, _attempt, failure) in failing {
            let flakiness = Flakiness {
                test_id: Some(row.test_id),
                passed_on_retry: row.status == CaseStatus::Flaky,
            };
            let classifier = Classifier {
                rules: &self.rules,
                labelled: &self.labelled,
                known_flaky: &self.known_flaky,
            };
            let verdict = self
                .verdicts
                .entry(failure.group_id)
                .or_insert_with(|| verdict(&classifier, failure))
                .clone();
            let flaky = classifier.flaky(flakiness);
            let own = flaky.clone().unwrap_or_else(|| verdict.ruled.clone());
            let effective = combine(verdict.user.clone(), own.clone(), verdict.learned.clone());
            first_of_group
                .entry(failure.group_id)
                .or_insert_with(|| GroupClassification {
                    effective: effective.clone(),
                    own,
                });
            failures.push(effective);
        }
        let groups = groups
            .iter()
            .map(|group| {
                first_of_group
                    .remove(&group.id)
                    .unwrap_or(GroupClassification {
                        effective: Classification::nothing(),
                        own: Classification::nothing(),
                    })
            })
            .collect();
        BatchClassification { failures, groups }
    }

    /// Classifies groups found outside an upload (a regroup job) by their
    /// first failure among `failures`: the user's label, a learned one or
    /// the rules, with no flaky evidence (no test result to go by).
    pub fn classify_groups(
        &mut self,
        failures: &[FailureRow],
        groups: &[BatchGroup<'_>],
    ) -> Vec<GroupClassification> {
        let classifier = Classifier {
            rules: &self.rules,
            labelled: &self.labelled,
            known_flaky: &self.known_flaky,
        };
        groups
            .iter()
            .map(|group| {
                let Some(first) = failures.iter().find(|f| f.group_id == group.id) else {
                    return GroupClassification {
                        effective: Classification::nothing(),
                        own: Classification::nothing(),
                    };
                };
                let verdict = self
                    .verdicts
                    .entry(group.id)
                    .or_insert_with(|| verdict(&classifier, first))
                    .clone();
                GroupClassification {
                    effective: combine(verdict.user, verdict.ruled.clone(), verdict.learned),
                    own: verdict.ruled,
                }
            })
            .collect()
    }
}

fn verdict(classifier: &Classifier<'_>, failure: &FailureRow) -> GroupVerdict {
    let facts = FailureFacts::new(
        failure.kind,
        failure.error_type.as_deref(),
        failure.message.as_deref(),
        &failure.signature,
    );
    let user = classifier.labelled.user_label(failure.group_id).cloned();
    let learned = match user {
        Some(_) => None,
        None => classifier.learned(failure.group_id, &failure.signature),
    };
    GroupVerdict {
        user,
        learned,
        ruled: classifier.own(&facts, Flakiness::default()),
    }
}
