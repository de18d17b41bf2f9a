//! Jira, GitHub, Slack and webhook delivery, triggered by the events other
//! services relay from their transactional outboxes into this service's
//! inbox (`POST /internal/v1/events`, deduplicated by event id).

pub mod domain;
pub mod error;
pub mod repository;
mod routes;
pub mod settings;

use tenant_core::server::HostError;
use tenant_core::{Application, Migration, ServiceSpec};

pub type Settings = tenant_core::config::Settings<settings::IntegrationSettings>;

/// Embedded from `migrations/integration/`; a platform test checks the list against the folder.
pub const MIGRATIONS: &[Migration] = &[
    Migration::embedded(
        1,
        "integrations",
        include_str!("../../../migrations/integration/0001_integrations.sql"),
    ),
    Migration::embedded(
        2,
        "event_inbox",
        include_str!("../../../migrations/integration/0002_event_inbox.sql"),
    ),
];

pub static SPEC: ServiceSpec = ServiceSpec {
    name: "integration-gateway",
    schema: Some("integration"),
    migrations: MIGRATIONS,
};

/// Starts the integration-gateway process: its routes on the shared host, ready to run.
pub async fn build(settings: Settings) -> Result<Application, HostError> {
    Application::build(&SPEC, &settings, routes::configure).await
}
