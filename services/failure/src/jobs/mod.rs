//! Background work the service does besides answering requests.
//!
//! - [`regroup`]: regroup jobs, which move a project's recent failures to
//!   the groups the current grouping rules and settings give them.

pub mod regroup;

pub use regroup::{RegroupWorker, spawn_regroup_worker};
