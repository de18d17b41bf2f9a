//! The built `faultline` binary against the real platform started in this
//! process: auth, project, failure and the API gateway on port 0 against
//! a test database (analytics too for the quality gate), sometimes behind
//! a small proxy that counts requests or loses an answer.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly at the first broken expectation"
)]

/// The gateway's test platform (auth, project, gateway; a failure
/// backend), shared with the gateway's own tests rather than copied.
#[allow(dead_code, reason = "the gateway's tests use the rest")]
#[path = "../../../../services/api-gateway/tests/api/helpers.rs"]
mod gateway_helpers;

mod errors;
mod gate;
mod platform;
mod proxy;
mod quarantine;
mod readme;
mod reads;
mod reports;
mod retry;
mod upload;
