//! analytics_service integration tests: the real service on port 0 against
//! its own database, with the real failure and project services.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::disallowed_methods,
    reason = "tests fail loudly at the first broken expectation"
)]

mod dashboards;
mod events;
mod helpers;
mod isolation;
mod read_model;
mod reconcile;
mod rollup_properties;
mod startup;
