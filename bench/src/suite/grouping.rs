//! The grouping section: how well and how fast failures are grouped, on
//! this machine's CPU alone (no services, no database).
//!
//! Quality is pairwise precision and recall against the labelled set the
//! failure service's quality test uses; speed is signatures per second on
//! one thread over 100,000 varied failures (an upload computes them on its
//! parser thread, one per failure).

use std::collections::HashSet;
use std::time::Instant;

use failure_service::domain::signature::corpus::{labelled_failures, problems};
use failure_service::domain::signature::in_app::InAppRules;
use failure_service::domain::signature::normalize::NormalizeOptions;
use failure_service::domain::signature::quality::pairwise;
use failure_service::domain::signature::signature_of;

use crate::results::GroupingResults;

/// The seed and size of the quality test's labelled set.
const QUALITY_SEED: u64 = 0x5eed_f00d;
const QUALITY_PER_PROBLEM: usize = 12;

/// Measures grouping quality and throughput; `quick` runs once over a
/// tenth of the failures.
pub fn grouping_section(quick: bool) -> GroupingResults {
    let (runs, throughput_failures): (usize, usize) =
        if quick { (1, 10_000) } else { (3, 100_000) };
    let in_app = InAppRules::default();
    let options = NormalizeOptions::default();

    let labelled = labelled_failures(QUALITY_SEED, QUALITY_PER_PROBLEM);
    let signatures: Vec<_> = labelled
        .iter()
        .map(|failure| signature_of(&failure.message, &failure.trace, &in_app, &options))
        .collect();
    let quality = pairwise(&labelled, &signatures);

    let per_problem = throughput_failures.div_ceil(problems().count());
    let mut varied = labelled_failures(0xbe7c_4a11, per_problem);
    varied.truncate(throughput_failures);
    let input_bytes: usize = varied
        .iter()
        .map(|failure| failure.message.len() + failure.trace.len())
        .sum();
    let mut secs = Vec::with_capacity(runs);
    let mut distinct = HashSet::new();
    for _ in 0..runs {
        distinct.clear();
        let started = Instant::now();
        for failure in &varied {
            let signature = signature_of(&failure.message, &failure.trace, &in_app, &options);
            distinct.insert(signature.hash);
        }
        secs.push(started.elapsed().as_secs_f64());
    }
    GroupingResults {
        labelled_failures: labelled.len() as u64,
        problems: problems().count() as u64,
        pairs: quality.pairs,
        precision: quality.precision(),
        recall: quality.recall(),
        together_but_different: quality.together_but_different,
        apart_but_same: quality.apart_but_same,
        throughput_failures: varied.len() as u64,
        throughput_input_bytes: input_bytes as u64,
        distinct_signatures: distinct.len() as u64,
        secs,
        commit: None,
        measured_at: None,
    }
}
