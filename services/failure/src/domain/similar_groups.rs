//! Near-duplicate messages join an existing group.
//!
//! A failure without a trace is known by its normalised message. Two such
//! messages that differ by a token the normalisation could not recognise
//! (a variable name, a reworded tail) would make two groups; instead, a
//! failure whose signature has no group yet joins a group of the same
//! exception type whose message is similar enough
//! ([`similarity::similar`]: cosine of token counts at least 0.95, relaxed
//! for 5 to 19 tokens so one token may differ, never under 0.8).
//!
//! The work is bounded. The groups compared against are at most
//! [`MAX_SIMILARITY_CANDIDATES`]: the most recently first seen
//! message-only groups of the project, loaded once per upload (or regroup
//! job), then the groups the upload itself creates while there is room.
//! Each message is tokenised once, each new signature compared once, and
//! an upload makes at most [`MAX_SIMILARITY_COMPARISONS`] comparisons;
//! past that, and for a group older than the candidates, a failure starts
//! a group of its own, as without the merge.

use std::collections::{HashMap, HashSet};

use uuid::Uuid;

use super::FailureRow;
use super::signature::similarity::TokenBag;

/// Message-only groups an upload compares new signatures against.
pub const MAX_SIMILARITY_CANDIDATES: usize = 1_000;

/// Message comparisons one upload may make (each a walk over two sorted
/// token lists, well under a microsecond for a typical message).
pub const MAX_SIMILARITY_COMPARISONS: usize = 200_000;

/// A message-only group: what a similar failure is compared with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimilarityCandidate {
    pub id: Uuid,
    pub exception_type: Option<String>,
    pub template: String,
}

/// The candidates of one upload, by exception type, and what was decided
/// for each new signature (so a repeated signature is compared once).
#[derive(Debug, Default)]
pub struct SimilarGroups {
    loaded: bool,
    by_type: HashMap<Option<String>, Vec<(Uuid, TokenBag)>>,
    candidates: usize,
    comparisons: usize,
    decided: HashMap<String, Option<Uuid>>,
}

impl SimilarGroups {
    /// Whether the stored candidates were loaded (once per upload).
    pub fn is_loaded(&self) -> bool {
        self.loaded
    }

    /// Takes the stored candidates, most recent first.
    pub fn load(&mut self, candidates: Vec<SimilarityCandidate>) {
        self.loaded = true;
        for candidate in candidates {
            self.add(candidate.exception_type, candidate.id, &candidate.template);
        }
    }

    /// A candidate, while there is room.
    fn add(&mut self, exception_type: Option<String>, id: Uuid, template: &str) {
        if self.candidates >= MAX_SIMILARITY_CANDIDATES {
            return;
        }
        self.candidates += 1;
        self.by_type
            .entry(exception_type)
            .or_default()
            .push((id, TokenBag::new(template)));
    }

    /// The first candidate of `exception_type` whose template is similar
    /// to `template`, within the comparison budget.
    fn find(&mut self, exception_type: Option<&String>, template: &TokenBag) -> Option<Uuid> {
        let candidates = self.by_type.get(&exception_type.cloned())?;
        let budget = MAX_SIMILARITY_COMPARISONS.saturating_sub(self.comparisons);
        let mut compared = 0;
        let found = candidates
            .iter()
            .take(budget)
            .inspect(|_| compared += 1)
            .find(|(_, candidate)| candidate.similar(template))
            .map(|(id, _)| *id);
        self.comparisons += compared;
        found
    }
}

/// Whether a failure's signature can join a similar group: it has no
/// frames (no trace to go by) and a message.
pub fn is_message_only(failure: &FailureRow) -> bool {
    failure.signature.frames.is_empty() && failure.signature.message.is_some()
}

/// Moves each message-only failure of `failures` whose own group does not
/// exist (`existing` holds the ids that do) into a similar group, when
/// there is one; a new group that finds none becomes a candidate for the
/// failures after it. Returns how many failures joined another group.
pub fn join_similar_groups<'a>(
    failures: impl IntoIterator<Item = &'a mut FailureRow>,
    existing: &HashSet<Uuid>,
    groups: &mut SimilarGroups,
) -> usize {
    let mut joined = 0;
    for failure in failures {
        if !is_message_only(failure) || existing.contains(&failure.group_id) {
            continue;
        }
        let Some(template) = failure.signature.message.clone() else {
            continue;
        };
        let decision = match groups.decided.get(&failure.signature.hash) {
            Some(decision) => *decision,
            None => {
                let bag = TokenBag::new(&template);
                let found = groups.find(failure.signature.exception_type.as_ref(), &bag);
                groups.decided.insert(failure.signature.hash.clone(), found);
                if found.is_none() {
                    groups.add(
                        failure.signature.exception_type.clone(),
                        failure.group_id,
                        &template,
                    );
                }
                found
            }
        };
        if let Some(group) = decision
            && group != failure.group_id
        {
            failure.group_id = group;
            failure.joined_similar = true;
            joined += 1;
        }
    }
    joined
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{FailureKind, GroupScope};

    fn failure(message: &str) -> FailureRow {
        FailureRow::new(
            &GroupScope::default(),
            FailureKind::Failure,
            None,
            Some(message.to_owned()),
            None,
            None,
            None,
        )
    }

    #[test]
    fn a_new_near_duplicate_joins_a_stored_group_of_its_type_only() {
        let stored = failure("the cart checkout timed out");
        let mut groups = SimilarGroups::default();
        groups.load(vec![SimilarityCandidate {
            id: stored.group_id,
            exception_type: None,
            template: stored.signature.message.clone().unwrap(),
        }]);
        let mut rows = [
            failure("the cart payment timed out"),
            failure("the order payment was refused"),
            failure("the order payment was declined"),
            failure("the cart checkout timed out"),
        ];
        let existing = HashSet::from([stored.group_id]);
        let joined = join_similar_groups(rows.iter_mut(), &existing, &mut groups);
        assert_eq!(joined, 2);
        assert_eq!(rows[0].group_id, stored.group_id);
        assert!(rows[0].joined_similar);
        assert_ne!(rows[1].group_id, stored.group_id);
        assert_eq!(
            rows[2].group_id, rows[1].group_id,
            "joins the upload's own new group"
        );
        assert!(!rows[3].joined_similar, "its own group exists");
    }

    #[test]
    fn another_exception_type_or_a_trace_never_joins() {
        let stored = failure("java.lang.IllegalStateException: the cart checkout timed out");
        let mut groups = SimilarGroups::default();
        groups.load(vec![SimilarityCandidate {
            id: stored.group_id,
            exception_type: stored.signature.exception_type.clone(),
            template: stored.signature.message.clone().unwrap(),
        }]);
        let mut rows = [failure(
            "java.lang.IllegalArgumentException: the cart payment timed out",
        )];
        let existing = HashSet::from([stored.group_id]);
        assert_eq!(
            join_similar_groups(rows.iter_mut(), &existing, &mut groups),
            0
        );
    }

    #[test]
    fn candidates_and_comparisons_are_bounded() {
        let mut groups = SimilarGroups::default();
        let first = Uuid::now_v7();
        groups.load(
            (0..MAX_SIMILARITY_CANDIDATES + 10)
                .map(|n| SimilarityCandidate {
                    id: if n == 0 { first } else { Uuid::now_v7() },
                    exception_type: None,
                    template: format!("w{n} alpha beta gamma delta"),
                })
                .collect(),
        );
        assert_eq!(groups.candidates, MAX_SIMILARITY_CANDIDATES);
        let twin = TokenBag::new("w0 alpha beta gamma delta");
        assert_eq!(groups.find(None, &twin), Some(first));
        assert_eq!(groups.comparisons, 1);
        groups.comparisons = MAX_SIMILARITY_COMPARISONS;
        assert_eq!(groups.find(None, &twin), None, "the budget is spent");
    }
}
