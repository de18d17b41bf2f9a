//! Grouping quality on the labelled set ([`super::corpus`]): over every
//! pair of failures, how often "same group" agrees with "same problem".

use super::corpus::{labelled_failures, problems};
use super::in_app::InAppRules;
use super::normalize::NormalizeOptions;
use super::quality::pairwise;
use super::{same_problem, signature_of};

#[test]
fn grouping_finds_the_same_problems_with_precision_and_recall_of_at_least_095() {
    let failures = labelled_failures(0x5eed_f00d, 12);
    assert!(failures.len() >= 300);
    let signatures: Vec<_> = failures
        .iter()
        .map(|failure| {
            signature_of(
                &failure.message,
                &failure.trace,
                &InAppRules::default(),
                &NormalizeOptions::default(),
            )
        })
        .collect();
    let quality = pairwise(&failures, &signatures);
    let (precision, recall) = (quality.precision(), quality.recall());
    assert!(
        precision >= 0.95 && recall >= 0.95,
        "pairwise precision {precision:.3}, recall {recall:.3}; mistaken pairs by problems: {:#?}",
        quality.mistakes
    );
}

#[test]
fn failures_of_one_problem_share_a_signature_even_without_a_trace() {
    // The trace-less problems of the set: every occurrence is the same
    // problem as every other, by hash or by similarity.
    let failures = labelled_failures(11, 12);
    let signatures: Vec<_> = failures
        .iter()
        .filter(|failure| failure.trace.is_empty())
        .map(|failure| {
            (
                failure.problem,
                signature_of(
                    &failure.message,
                    "",
                    &InAppRules::default(),
                    &NormalizeOptions::default(),
                ),
            )
        })
        .collect();
    assert!(!signatures.is_empty());
    for (problem, signature) in &signatures {
        for (other, other_signature) in &signatures {
            assert_eq!(
                same_problem(signature, other_signature),
                problem == other,
                "{problem} / {other}:\n{:?}\n{:?}",
                signature.message,
                other_signature.message
            );
        }
    }
}

#[test]
fn the_set_is_large_varied_and_the_same_for_a_seed() {
    let failures = labelled_failures(7, 12);
    assert_eq!(failures.len(), 12 * problems().count());
    assert!(failures.len() >= 300);
    let again = labelled_failures(7, 12);
    assert!(
        failures
            .iter()
            .zip(&again)
            .all(|(a, b)| a.message == b.message && a.trace == b.trace)
    );
    // Recurring failures really vary: not every occurrence of a problem
    // has the same trace text.
    for problem in problems() {
        let traces: std::collections::BTreeSet<&str> = failures
            .iter()
            .filter(|failure| failure.problem == problem)
            .map(|failure| failure.trace.as_str())
            .collect();
        let messages: std::collections::BTreeSet<&str> = failures
            .iter()
            .filter(|failure| failure.problem == problem)
            .map(|failure| failure.message.as_str())
            .collect();
        assert!(
            traces.len() > 1 || messages.len() > 1,
            "{problem} never varies"
        );
    }
}
