//! The web dashboard: server-rendered pages over the public API.
//!
//! A backend-for-frontend: the browser holds only a session cookie; the
//! user's tokens stay here ([`domain::sessions`]) and every page is built
//! from calls to the public API through the gateway ([`public_api`]), as
//! any client makes them. Where things are: [`routes`] the pages and forms,
//! [`views`] their HTML, [`domain`] sessions, sealing, CSRF and charts,
//! [`repository`] the sessions' SQL (schema `web`), [`jobs`] their cleanup.

pub mod domain;
pub mod error;
pub mod jobs;
pub mod public_api;
pub mod repository;
mod routes;
pub mod settings;
pub mod views;

use std::sync::Arc;

use actix_web::web;
use tenant_core::server::{self, HostError};
use tenant_core::{Application, Migration, ServiceSpec};

use crate::domain::sealing::{SealingError, SessionKeys};
use crate::public_api::PublicApi;
use crate::repository::sessions::SessionStore;
use crate::settings::WebSettings;

pub type Settings = tenant_core::config::Settings<WebSettings>;

/// The `web` schema: the sessions, so they outlive a restart and any
/// replica serves any browser.
pub const MIGRATIONS: &[Migration] = &[Migration::embedded(
    1,
    "sessions",
    include_str!("../../../migrations/web/0001_sessions.sql"),
)];

pub static SPEC: ServiceSpec = ServiceSpec {
    name: "web-service",
    schema: Some("web"),
    migrations: MIGRATIONS,
};

/// What the handlers share.
#[derive(Debug)]
pub struct WebState {
    pub settings: WebSettings,
    pub sessions: Arc<SessionStore>,
    pub api: PublicApi,
}

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("the service host failed")]
    Host(#[from] HostError),
    #[error("cannot set up calls to the public API")]
    PublicApi(#[from] reqwest::Error),
    #[error("the session keys are unusable")]
    SessionKeys(#[from] SealingError),
}

/// Starts the web-service process: the pages and their assets on the
/// shared host, its sessions in the `web` schema and their cleanup, ready
/// to run.
pub async fn build(settings: Settings) -> Result<Application, StartupError> {
    let service = settings.service.clone();
    let keys = SessionKeys::new(
        &service.session_key_id,
        service.session_keys(settings.environment),
    )?;
    let api = PublicApi::new(&service)?;
    let db = server::connect_database(&SPEC, &settings)
        .await?
        .ok_or(HostError::NoDatabase)?;
    let sessions = Arc::new(SessionStore::new(
        db.counting_apart(),
        keys,
        service.session_idle(),
    ));
    jobs::spawn_session_cleanup(
        Arc::downgrade(&sessions),
        service.session_cleanup_interval(),
        service.session_cleanup_batch,
    );
    let state = web::Data::from(Arc::new(WebState {
        sessions,
        settings: service,
        api,
    }));
    let host = Application::start(&SPEC, &settings, Some(db), move |cfg| {
        cfg.app_data(state.clone());
        routes::configure(cfg);
    })?;
    Ok(host)
}
