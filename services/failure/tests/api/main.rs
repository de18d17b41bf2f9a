//! The failure service against a real database, called the way the
//! gateway calls it.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers fail the test at the first broken expectation"
)]

mod builds;
mod common;
mod corpus;
mod failures;
mod isolation;
mod limits;
mod openapi;
mod truncation;
mod uploads;
