//! What every Faultline service shares, and nothing else: the verified
//! tenant context, the tenant-scoped database transaction, problem errors,
//! configuration, telemetry, the HTTP host with health, readiness, metrics
//! and graceful shutdown, pagination, and the transactional outbox. Domain
//! logic lives in services.

pub mod cache;
pub mod cli;
pub mod client;
pub mod config;
pub mod context;
pub mod db;
pub mod email;
pub mod error;
pub mod hex;
pub mod idempotency;
pub mod json;
pub mod metrics;
pub mod migrate;
pub mod openapi;
pub mod outbox;
pub mod pagination;
pub mod sealing;
pub mod server;
pub mod telemetry;

pub use context::{Principal, PrincipalKind, ProjectAccess, Role, TenantContext};
pub use db::{Db, DbError, TenantTx};
pub use error::Problem;
pub use migrate::Migration;
pub use server::Application;

/// Every service allocates through mimalloc: a request through the
/// gateway makes dozens of small allocations (headers, the context token,
/// spans, the log line), and the system allocator's took a seventh of the
/// gateway's time in front of a fast upstream (bench/REPORT.md section 1b).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// What a service is, as the shared machinery needs to know it.
#[derive(Debug)]
pub struct ServiceSpec {
    /// Binary and audience name, e.g. `failure-service`.
    pub name: &'static str,
    /// The schema it owns, if it keeps data.
    pub schema: Option<&'static str>,
    /// Its migrations, embedded in the binary.
    pub migrations: &'static [Migration],
}
