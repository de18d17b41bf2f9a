//! analytics_service integration tests: the real service on port 0 against its own database,
//! beside the real failure service (and integration gateway) on the same database.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::disallowed_methods,
    reason = "tests fail loudly at the first broken expectation"
)]

mod comparison;
mod gates;
mod helpers;
mod isolation;
mod openapi;
mod outbox;
mod rules;
mod startup;
