//! The auth service against a real database, called the way the gateway
//! calls it. `secrets_in_logs` is a binary of its own: it installs the
//! process-wide log subscriber.

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
mod sessions;
