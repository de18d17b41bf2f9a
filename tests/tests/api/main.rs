//! Platform tests: several services together against one real database,
//! the checked-in deployment manifests, the catalog of routes and problem
//! codes, and the shape every service crate keeps.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::disallowed_methods,
    reason = "tests fail loudly at the first broken expectation"
)]

/// The gateway's test platform (auth, project and the gateway on one
/// database, sign-up, projects, members, keys), shared with the gateway's
/// own tests rather than copied.
#[allow(dead_code, reason = "the gateway's tests use the rest")]
#[path = "../../../services/api-gateway/tests/api/helpers.rs"]
mod gateway_helpers;

mod abuse;
mod catalog;
mod deploy_manifests;
mod faults;
mod isolation;
mod layout;
mod platform;
