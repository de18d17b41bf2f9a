//! The analytics service's background work: each job opens a transaction
//! confined to one project per item.
//!
//! - [`reconcile`]: the periodic reconciliation of the rollups with the
//!   failure service's published views.
//! - [`gate_evaluation`]: evaluates a finished build's quality gate and
//!   stores it once (the gate endpoint and the `build.completed` consumer
//!   both call it), publishing `gate.failed` with a failed one.
//! - [`gate_outbox_relay`]: delivers the outbox's events (`gate.failed`)
//!   to the integration gateway.

pub mod gate_evaluation;
pub mod gate_outbox_relay;
pub mod reconcile;
