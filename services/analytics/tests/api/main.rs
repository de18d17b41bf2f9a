//! analytics_service integration tests: the real service on port 0 against
//! its own database, with the real failure and project services (and the
//! integration gateway) on the same database.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::disallowed_methods,
    reason = "tests fail loudly at the first broken expectation"
)]

mod comparison;
mod dashboards;
mod events;
mod gate_isolation;
mod gates;
mod helpers;
mod isolation;
mod openapi;
mod outbox;
mod read_model;
mod reconcile;
mod rollup_properties;
mod rules;
mod startup;
