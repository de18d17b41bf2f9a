//! Platform tests: several services together against one real database,
//! the checked-in deployment manifests, the catalog of routes and problem
//! codes, and the shape every service crate keeps.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::disallowed_methods,
    reason = "tests fail loudly at the first broken expectation"
)]

mod catalog;
mod deploy_manifests;
mod layout;
mod platform;
