//! The auth service against a real database, called the way the gateway
//! calls it. Each test runs in its own process under nextest, which
//! `secrets_in_logs` relies on: it installs the global log subscriber.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers fail the test at the first broken expectation"
)]
#![allow(
    clippy::disallowed_methods,
    reason = "tests read rows they queried themselves with Row::get, which fails the test loudly"
)]

mod api_keys;
mod credentials;
mod helpers;
mod jwks;
mod refresh;
mod secrets_in_logs;
mod sessions;
