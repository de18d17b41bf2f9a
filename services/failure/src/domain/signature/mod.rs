//! Failure signatures: what makes two failures the same problem.
//!
//! A failure's message is normalised (ids, addresses, times and other
//! values that change from run to run are masked; what tells failures
//! apart is kept), its stack trace is parsed into frames whatever the
//! language, the frames that belong to the project's own code are picked
//! out, and the fingerprint is the exception type plus the top in-app
//! frames, or the normalised message when there is no trace. Messages
//! without a trace that differ only a little are compared by token
//! similarity. The grouping rules are versioned ([`GROUPING_VERSION`]), so a
//! change applies to new failures and old groups stay explainable.
//!
//! Pure functions over text: no SQL, no HTTP.

pub mod corpus;
pub mod fingerprint;
pub mod frames;
pub mod in_app;
pub mod normalize;
pub mod quality;
#[cfg(test)]
mod quality_tests;
pub mod similarity;

use fingerprint::Signature;
use in_app::InAppRules;
use normalize::NormalizeOptions;

/// The version of the grouping rules below; stored with every group.
pub const GROUPING_VERSION: u32 = 1;

/// The signature of one failure, from the message and stack trace its
/// report gave, under a project's in-app rules and normalisation options.
pub fn signature_of(
    message: &str,
    trace: &str,
    in_app: &InAppRules,
    options: &NormalizeOptions,
) -> Signature {
    let normalized = normalize::normalize_message(message, options);
    let frames = frames::parse_frames(trace);
    let exception_type = frames::exception_type(message, trace);
    fingerprint::fingerprint(exception_type.as_deref(), &frames, in_app, &normalized)
}

/// Whether two failures are the same problem: the same fingerprint, or,
/// when neither has frames to go by, the same exception type and messages
/// similar enough ([`similarity::similar`]), so values the normalisation
/// could not recognise do not split a group.
pub fn same_problem(a: &Signature, b: &Signature) -> bool {
    if a.hash == b.hash {
        return true;
    }
    match (&a.message, &b.message) {
        (Some(first), Some(second)) => {
            a.exception_type == b.exception_type && similarity::similar(first, second)
        }
        _ => false,
    }
}
