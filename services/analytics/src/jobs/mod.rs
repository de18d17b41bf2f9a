//! Background work: the periodic reconciliation of the rollups.

pub mod reconcile;
