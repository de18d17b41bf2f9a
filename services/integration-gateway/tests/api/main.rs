//! integration_gateway integration tests: the real service on port 0 against its own database.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::disallowed_methods,
    reason = "tests fail loudly at the first broken expectation"
)]

mod connections;
mod deliveries;
mod events;
mod github;
mod helpers;
mod jira;
mod jira_oauth;
mod keys;
mod startup;
