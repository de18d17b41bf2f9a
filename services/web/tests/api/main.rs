//! The web dashboard behind a real gateway, in front of the real auth,
//! project, failure and analytics services on a test database: pages
//! fetched and forms posted as a browser does, cookies and all.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly at the first broken expectation"
)]

/// The gateway's test platform (auth, project, gateway), shared with the
/// gateway's own tests rather than copied.
#[allow(dead_code, reason = "the gateway's tests use the rest")]
#[path = "../../../api-gateway/tests/api/helpers.rs"]
mod gateway_helpers;

mod accessibility;
mod browser;
mod dashboard;
mod headers;
mod in_chromium;
mod integrations;
mod integrations_in_chromium;
mod members;
mod sessions;
mod settings;
mod webdriver;
