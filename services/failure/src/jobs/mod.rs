//! The failure service's background work: each job claims its work with
//! `FOR UPDATE SKIP LOCKED`, so replicas share it, and opens a
//! transaction confined to one project per item.
//!
//! - [`outbox_relay`]: delivers the outbox's events to the integration
//!   gateway.
//! - [`regroup`]: regroup jobs, which move a project's recent failures to
//!   the groups the current grouping rules and settings give them.

pub mod outbox_relay;
pub mod regroup;

pub use regroup::{RegroupWorker, spawn_regroup_worker};
