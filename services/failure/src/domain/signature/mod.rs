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

#[cfg(test)]
mod corpus;
pub mod fingerprint;
pub mod frames;
pub mod in_app;
pub mod normalize;
pub mod similarity;

/// The version of the grouping rules below; stored with every group.
pub const GROUPING_VERSION: u32 = 1;
