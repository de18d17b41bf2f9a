//! Learned labels: a group nobody labelled takes the label of the most
//! similar group a member did, with the similarity as its confidence.

use std::collections::HashMap;

use uuid::Uuid;

use super::{Classification, Label};
use crate::domain::signature::fingerprint::Signature;
use crate::domain::signature::similarity;

/// The similarity a labelled group needs to lend its label: four of five
/// top frames in common, or messages as close as the grouping's most
/// relaxed threshold ([`similarity::MIN_THRESHOLD`]). Closer groups win,
/// and the confidence says how close.
pub const LEARNED_THRESHOLD: f64 = similarity::MIN_THRESHOLD;

/// How two groups' signatures compare.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Similarity {
    pub score: f64,
    /// `frames` or `message`: what was compared.
    pub compared: &'static str,
}

/// How similar two failure signatures are, from 0 to 1: 1 for the same
/// fingerprint; 0 for different exception types (absent counts as a type)
/// or when one has frames and the other only a message; else the cosine of
/// their top frame keys (each key once) or of their normalised messages'
/// tokens ([`similarity::cosine`]).
pub fn signature_similarity(a: &Signature, b: &Signature) -> Similarity {
    if a.hash == b.hash {
        let compared = if a.frames.is_empty() {
            "message"
        } else {
            "frames"
        };
        return Similarity {
            score: 1.0,
            compared,
        };
    }
    if a.exception_type != b.exception_type {
        return Similarity {
            score: 0.0,
            compared: "exception_type",
        };
    }
    match (a.frames.is_empty(), b.frames.is_empty()) {
        (false, false) => Similarity {
            score: frames_cosine(&a.frames, &b.frames),
            compared: "frames",
        },
        (true, true) => Similarity {
            score: match (&a.message, &b.message) {
                (Some(x), Some(y)) => similarity::cosine(x, y),
                _ => 0.0,
            },
            compared: "message",
        },
        _ => Similarity {
            score: 0.0,
            compared: "frames",
        },
    }
}

/// The cosine of two sets of frame keys: shared keys over the geometric
/// mean of the set sizes.
fn frames_cosine(a: &[String], b: &[String]) -> f64 {
    let mut a: Vec<&str> = a.iter().map(String::as_str).collect();
    let mut b: Vec<&str> = b.iter().map(String::as_str).collect();
    a.sort_unstable();
    a.dedup();
    b.sort_unstable();
    b.dedup();
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    let shared = a.iter().filter(|key| b.binary_search(key).is_ok()).count();
    shared as f64 / ((a.len() * b.len()) as f64).sqrt()
}

/// A group a member labelled, as its signature.
#[derive(Debug, Clone)]
pub struct LabelledGroup {
    pub id: Uuid,
    pub label: Label,
    pub signature: Signature,
    /// The user label as stored (who and when).
    pub classification: Classification,
}

/// A project's user-labelled groups, by exception type (only groups of
/// the same type can be similar).
#[derive(Debug, Clone, Default)]
pub struct LabelledGroups {
    by_type: HashMap<Option<String>, Vec<LabelledGroup>>,
    ids: HashMap<Uuid, Classification>,
}

/// The best labelled group for a signature.
#[derive(Debug, Clone, PartialEq)]
pub struct LearnedMatch {
    pub group_id: Uuid,
    pub label: Label,
    pub similarity: Similarity,
}

impl LabelledGroups {
    pub fn new(groups: impl IntoIterator<Item = LabelledGroup>) -> Self {
        let mut labelled = Self::default();
        for group in groups {
            labelled.ids.insert(group.id, group.classification.clone());
            labelled
                .by_type
                .entry(group.signature.exception_type.clone())
                .or_default()
                .push(group);
        }
        labelled
    }

    /// The user label of `group_id`, if a member labelled it.
    pub fn user_label(&self, group_id: Uuid) -> Option<&Classification> {
        self.ids.get(&group_id)
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The most similar labelled group other than `exclude`, at
    /// [`LEARNED_THRESHOLD`] or above; ties go to the lower id, so the
    /// answer does not depend on load order.
    pub fn most_similar(&self, signature: &Signature, exclude: Uuid) -> Option<LearnedMatch> {
        let candidates = self.by_type.get(&signature.exception_type)?;
        let mut best: Option<LearnedMatch> = None;
        for group in candidates.iter().filter(|g| g.id != exclude) {
            let similarity = signature_similarity(signature, &group.signature);
            if similarity.score + 1e-9 < LEARNED_THRESHOLD {
                continue;
            }
            let better = match &best {
                None => true,
                Some(current) => {
                    similarity.score > current.similarity.score + 1e-12
                        || ((similarity.score - current.similarity.score).abs() <= 1e-12
                            && group.id < current.group_id)
                }
            };
            if better {
                best = Some(LearnedMatch {
                    group_id: group.id,
                    label: group.label,
                    similarity,
                });
            }
        }
        best
    }
}
