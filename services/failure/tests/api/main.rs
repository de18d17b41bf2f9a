//! The failure service against a real database, called the way the
//! gateway calls it. (`tests/memory.rs` is a binary of its own: it
//! measures the process's memory, which other tests would share here.)

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers fail the test at the first broken expectation"
)]

mod analytics_queue;
mod builds;
mod classification;
mod corpus;
mod failed_test_names;
mod failures;
mod flaky;
mod groups;
mod helpers;
mod indexes;
mod isolation;
mod limits;
mod members;
mod openapi;
mod outbox;
mod quarantine;
mod regroup;
mod startup_config;
mod triage;
mod truncation;
mod uploads;
