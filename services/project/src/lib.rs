//! Projects (the tenants), memberships and roles, plans, and the access API the gateway authorizes with.
//!
//! Map: [`routes`] is the route table, with one module of handlers per
//! resource; the caller's membership of the project in the path is
//! [`member_scope`]; values are parsed and the membership rules live in
//! [`domain`]; all SQL is in [`repository`]; errors map to problems in
//! [`error`]; the relay of membership changes to the auth service is in
//! [`jobs`], and the calls it and the member lookups make in
//! [`auth_client`]; `project-service import` is [`import`].

pub mod auth_client;
pub mod domain;
pub mod error;
pub mod import;
pub mod jobs;
pub mod member_scope;
pub mod repository;
pub mod routes;
pub mod settings;

use std::sync::Arc;
use std::time::Duration;

use actix_web::web;
use tenant_core::server::{self, HostError};
use tenant_core::{Application, Migration, ServiceSpec};

use crate::auth_client::AuthClient;
use crate::jobs::KeyCreatorRelay;

pub use settings::ProjectServiceSettings;

pub type Settings = tenant_core::config::Settings<ProjectServiceSettings>;

/// Embedded from `migrations/project/`; a platform test checks the list against the folder.
pub const MIGRATIONS: &[Migration] = &[
    Migration::embedded(
        1,
        "projects",
        include_str!("../../../migrations/project/0001_projects.sql"),
    ),
    Migration::embedded(
        2,
        "lifecycle_and_access_changes",
        include_str!("../../../migrations/project/0002_lifecycle_and_access_changes.sql"),
    ),
    Migration::embedded(
        3,
        "access_feed_consumers",
        include_str!("../../../migrations/project/0003_access_feed_consumers.sql"),
    ),
];

pub static SPEC: ServiceSpec = ServiceSpec {
    name: "project-service",
    schema: Some("project"),
    migrations: MIGRATIONS,
};

/// What handlers share besides the database.
#[derive(Debug)]
pub struct AppState {
    pub auth: AuthClient,
    pub access_changes_retained: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("the service host failed")]
    Host(#[from] HostError),
    #[error("cannot set up calls to the auth service")]
    AuthClient(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Starts the project-service process: its routes on the shared host, ready to run.
pub async fn build(settings: Settings) -> Result<Application, StartupError> {
    let auth = AuthClient::new(&settings)?;
    let db = server::connect_database(&SPEC, &settings)
        .await?
        .ok_or(HostError::NoDatabase)?;
    // The routes hold the relay; it stops when the service does.
    let relay = web::Data::from(Arc::new(KeyCreatorRelay::new(db.clone(), auth.clone())));
    jobs::spawn_key_creator_relay(
        Arc::downgrade(&relay.clone().into_inner()),
        Duration::from_millis(settings.service.key_creator_relay_interval_ms),
    );
    let state = web::Data::new(AppState {
        auth,
        access_changes_retained: settings.service.access_changes_retained,
    });
    let host = Application::start(&SPEC, &settings, Some(db), move |cfg| {
        cfg.app_data(relay.clone()).app_data(state.clone());
        routes::configure(cfg);
    })?;
    Ok(host)
}
