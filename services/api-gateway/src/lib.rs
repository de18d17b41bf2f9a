//! The only door into the platform: authenticates callers, resolves the project, authorizes, rate limits and proxies to the versioned backend.

use actix_web::web;
use tenant_core::server::HostError;
use tenant_core::{Migration, ServiceHost, ServiceSpec};

pub type Settings = tenant_core::config::Settings;

/// The gateway keeps no data of its own.
pub const MIGRATIONS: &[Migration] = &[];

pub static SPEC: ServiceSpec = ServiceSpec {
    name: "api-gateway",
    schema: None,
    migrations: MIGRATIONS,
};

/// The api-gateway process: its routes on the shared host.
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
