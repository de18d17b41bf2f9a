//! The project service through its HTTP API and its import command, with
//! the real auth service for user lookups, each test on a fresh database.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers fail the test at the first broken expectation"
)]
#![allow(
    clippy::disallowed_methods,
    reason = "tests read rows they just selected with `Row::get`: a wrong column fails the test, as it should"
)]

mod access;
mod helpers;
mod import;
mod members;
mod projects;
mod rls;
mod role_matrix;
