//! Read model over failure data: trends, rankings, MTTR and quality gates.

pub mod domain;
pub mod error;
pub mod repository;
mod routes;
pub mod settings;

use tenant_core::server::HostError;
use tenant_core::{Application, Migration, ServiceSpec};

pub type Settings = tenant_core::config::Settings<settings::AnalyticsSettings>;

/// Embedded from `migrations/analytics/`; a platform test checks the list against the folder.
pub const MIGRATIONS: &[Migration] = &[Migration::embedded(
    1,
    "quality_gates",
    include_str!("../../../migrations/analytics/0001_quality_gates.sql"),
)];

pub static SPEC: ServiceSpec = ServiceSpec {
    name: "analytics-service",
    schema: Some("analytics"),
    migrations: MIGRATIONS,
};

/// Starts the analytics-service process: its routes on the shared host, ready to run.
pub async fn build(settings: Settings) -> Result<Application, HostError> {
    Application::build(&SPEC, &settings, routes::configure).await
}
