//! Projects (the tenants), memberships and roles, plans, and the access API the gateway authorizes with.
//!
//! Map: [`routes`] is the route table; handlers are in [`v1`]; who may do
//! what is in [`rules`] and [`scope`]; values are parsed in [`domain`]; all
//! SQL is in [`repository`]; errors map to problems in [`error`];
//! `project-service import` is [`import`].

pub mod domain;
pub mod error;
pub mod import;
pub mod jobs;
pub mod repository;
pub mod rules;
pub mod scope;
pub mod settings;
pub mod users;
pub mod v1;

use std::sync::Arc;
use std::time::Duration;

use actix_web::web;
use tenant_core::client::ServiceClient;
use tenant_core::context::InternalTokenIssuer;
use tenant_core::server::{self, HostError};
use tenant_core::{Application, Migration, ServiceSpec};

use crate::jobs::KeyCreatorRelay;

pub use settings::ProjectServiceSettings;
use users::UserDirectory;

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
    pub users: UserDirectory,
    pub access_changes_retained: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("the service host failed")]
    Host(#[from] HostError),
    #[error("cannot set up calls to the auth service")]
    AuthClient(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// The client for calls to the auth service.
fn auth_client(settings: &Settings) -> Result<ServiceClient, StartupError> {
    let issuer = InternalTokenIssuer::new(&settings.internal_token)
        .map_err(|error| StartupError::AuthClient(Box::new(error)))?;
    ServiceClient::new(
        &settings.service.auth_url,
        "auth-service",
        issuer,
        settings.service.auth_timeout(),
    )
    .map_err(|error| StartupError::AuthClient(Box::new(error)))
}

/// The client for looking users up in the auth service.
pub fn user_directory(settings: &Settings) -> Result<UserDirectory, StartupError> {
    Ok(UserDirectory::new(auth_client(settings)?))
}

/// Starts the project-service process: its routes on the shared host, ready to run.
pub async fn build(settings: Settings) -> Result<Application, StartupError> {
    let state = web::Data::new(AppState {
        users: user_directory(&settings)?,
        access_changes_retained: settings.service.access_changes_retained,
    });
    let db = server::connect_database(&SPEC, &settings)
        .await?
        .ok_or(HostError::NoDatabase)?;
    // The routes hold the relay; it stops when the service does.
    let relay = web::Data::from(Arc::new(KeyCreatorRelay::new(
        db.clone(),
        auth_client(&settings)?,
    )));
    jobs::spawn_key_creator_relay(
        Arc::downgrade(&relay.clone().into_inner()),
        Duration::from_millis(settings.service.key_creator_relay_interval_ms),
    );
    let host = Application::start(&SPEC, &settings, Some(db), move |cfg| {
        cfg.app_data(relay.clone());
        routes(cfg, &state);
    })?;
    Ok(host)
}

/// The route table. Health, readiness and metrics come from the host.
fn routes(cfg: &mut web::ServiceConfig, state: &web::Data<AppState>) {
    use v1::{access, members, projects};

    cfg.app_data(state.clone())
        .service(
            web::resource("/v1/projects")
                .get(projects::list)
                .post(projects::create),
        )
        .service(
            web::resource("/v1/projects/{project}")
                .get(projects::get)
                .patch(projects::update)
                .delete(projects::delete),
        )
        .service(web::resource("/v1/projects/{project}/archive").post(projects::archive))
        .service(web::resource("/v1/projects/{project}/restore").post(projects::restore))
        .service(web::resource("/v1/projects/{project}/plan").put(projects::change_plan))
        .service(
            web::resource("/v1/projects/{project}/members")
                .get(members::list)
                .post(members::add),
        )
        .service(
            web::resource("/v1/projects/{project}/members/{member}")
                .get(members::get)
                .patch(members::change_role)
                .delete(members::remove),
        )
        .service(web::resource("/internal/v1/access").get(access::check))
        .service(web::resource("/internal/v1/access/changes").get(access::changes))
        .service(web::resource("/internal/v1/openapi.json").get(v1::openapi::spec));
}
