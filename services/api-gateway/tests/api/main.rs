//! The api-gateway through its HTTP interface, in front of real auth,
//! project and failure services, each test on a database of its own.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail at the first broken expectation"
)]

mod helpers;
mod probe;

mod access_cache;
mod anonymous_limits;
mod body_length;
mod client_address;
mod deprecation;
mod healthcheck;
mod jwt_refusals;
mod matched_routes;
mod openapi;
mod proxying;
mod quality_gate;
mod rate_limits;
mod revocation;
mod through_the_gateway;
mod triage;
mod upload_limits;
