//! The web dashboard: server-rendered pages over the public API.
//!
//! A backend-for-frontend: the browser holds only a session cookie; the
//! user's tokens stay here ([`domain::sessions`]) and every page is built
//! from calls to the public API through the gateway ([`public_api`]), as
//! any client makes them. Where things are: [`routes`] the pages and forms,
//! [`views`] their HTML, [`domain`] sessions, CSRF and charts.

pub mod domain;
pub mod error;
pub mod public_api;
mod routes;
pub mod settings;
pub mod views;

use std::sync::Arc;

use actix_web::web;
use tenant_core::server::HostError;
use tenant_core::{Application, Migration, ServiceSpec};

use crate::domain::sessions::SessionStore;
use crate::public_api::PublicApi;
use crate::settings::WebSettings;

pub type Settings = tenant_core::config::Settings<WebSettings>;

/// Sessions are kept in memory: the web service keeps no data of its own.
pub const MIGRATIONS: &[Migration] = &[];

pub static SPEC: ServiceSpec = ServiceSpec {
    name: "web-service",
    schema: None,
    migrations: MIGRATIONS,
};

/// What the handlers share.
#[derive(Debug)]
pub struct WebState {
    pub settings: WebSettings,
    pub sessions: SessionStore,
    pub api: PublicApi,
}

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("the service host failed")]
    Host(#[from] HostError),
    #[error("cannot set up calls to the public API")]
    PublicApi(#[from] reqwest::Error),
}

/// Starts the web-service process: the pages and their assets on the
/// shared host, ready to run.
pub async fn build(settings: Settings) -> Result<Application, StartupError> {
    let service = settings.service.clone();
    let api = PublicApi::new(&service)?;
    let state = web::Data::from(Arc::new(WebState {
        sessions: SessionStore::new(service.session_idle()),
        settings: service,
        api,
    }));
    let host = Application::start(&SPEC, &settings, None, move |cfg| {
        cfg.app_data(state.clone());
        routes::configure(cfg);
    })?;
    Ok(host)
}
