//! Jira, GitHub, Slack and webhook delivery from the transactional outbox.

use actix_web::web;
use tenant_core::server::HostError;
use tenant_core::{Migration, ServiceHost, ServiceSpec};

pub type Settings = tenant_core::config::Settings;

/// Embedded from `migrations/integration/`; a platform test checks the list against the folder.
pub const MIGRATIONS: &[Migration] = &[Migration::embedded(
    1,
    "integrations",
    include_str!("../../../migrations/integration/0001_integrations.sql"),
)];

pub static SPEC: ServiceSpec = ServiceSpec {
    name: "integration-gateway",
    schema: Some("integration"),
    migrations: MIGRATIONS,
};

/// The integration-gateway process: its routes on the shared host.
#[derive(Debug)]
pub struct Application(ServiceHost);

impl Application {
    pub async fn build(settings: Settings) -> Result<Self, HostError> {
        ServiceHost::build(&SPEC, &settings, routes).await.map(Self)
    }

    pub fn port(&self) -> u16 {
        self.0.port()
    }

    pub fn into_host(self) -> ServiceHost {
        self.0
    }

    pub async fn run_until_stopped(self) -> Result<(), HostError> {
        self.0.run_until_stopped().await
    }
}

/// The route table. Health, readiness and metrics come from the host.
fn routes(_cfg: &mut web::ServiceConfig) {}
