//! Grouping quality over a labelled set ([`super::corpus`]): over every
//! pair of failures, how often "same group" ([`super::same_problem`])
//! agrees with "same problem". The quality test requires both figures at
//! 0.95 or more; `make bench` reports them.

use std::collections::BTreeMap;

use super::corpus::LabelledFailure;
use super::fingerprint::Signature;
use super::same_problem;

/// Pairwise precision and recall of a grouping against the labels.
#[derive(Debug, Clone, PartialEq)]
pub struct PairwiseQuality {
    pub pairs: u64,
    /// Pairs grouped together that are the same problem.
    pub together_and_same: u64,
    /// Pairs grouped together that are different problems.
    pub together_but_different: u64,
    /// Pairs of one problem that were kept apart.
    pub apart_but_same: u64,
    /// The mistaken pairs, by the two problems involved.
    pub mistakes: BTreeMap<(&'static str, &'static str), u64>,
}

impl PairwiseQuality {
    /// Of the pairs grouped together, the share that are the same problem
    /// (1 when nothing was grouped together).
    pub fn precision(&self) -> f64 {
        ratio(
            self.together_and_same,
            self.together_and_same + self.together_but_different,
        )
    }

    /// Of the pairs of one problem, the share grouped together (1 when
    /// every problem occurred once).
    pub fn recall(&self) -> f64 {
        ratio(
            self.together_and_same,
            self.together_and_same + self.apart_but_same,
        )
    }
}

fn ratio(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        1.0
    } else {
        part as f64 / whole as f64
    }
}

/// Compares every pair of `failures`, whose signatures are `signatures`
/// in the same order.
pub fn pairwise(failures: &[LabelledFailure], signatures: &[Signature]) -> PairwiseQuality {
    assert_eq!(
        failures.len(),
        signatures.len(),
        "one signature per failure"
    );
    let mut quality = PairwiseQuality {
        pairs: 0,
        together_and_same: 0,
        together_but_different: 0,
        apart_but_same: 0,
        mistakes: BTreeMap::new(),
    };
    for first in 0..failures.len() {
        for second in first + 1..failures.len() {
            quality.pairs += 1;
            let grouped = same_problem(&signatures[first], &signatures[second]);
            let same = failures[first].problem == failures[second].problem;
            match (grouped, same) {
                (true, true) => quality.together_and_same += 1,
                (true, false) => quality.together_but_different += 1,
                (false, true) => quality.apart_but_same += 1,
                (false, false) => continue,
            }
            if grouped != same {
                *quality
                    .mistakes
                    .entry((failures[first].problem, failures[second].problem))
                    .or_default() += 1;
            }
        }
    }
    quality
}
