//! tenant-core's integration tests: a probe service on the shared host, real
//! PostgreSQL, real TLS. Two tests live in binaries of their own because
//! they act on the whole process: `graceful_shutdown` sends SIGTERM to it
//! and `trace_export` installs the process-wide tracing subscriber.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::disallowed_methods,
    reason = "tests fail loudly at the first broken expectation"
)]

mod client;
mod context_token;
mod pool;
mod probe;
mod problems;
mod rls;
mod shutdown;
mod tls;
