//! Slack and webhook notifications from the events other services relay
//! from their transactional outboxes into this service's inbox
//! (`POST /internal/v1/events`, deduplicated by event id), through
//! per-project connections whose secrets are sealed with envelope
//! encryption.

pub mod domain;
pub mod error;
pub mod failure_client;
pub mod github;
pub mod jira;
pub mod jira_oauth;
pub mod jobs;
pub mod keys;
pub mod notify;
pub mod outbound;
pub mod repository;
mod routes;
pub mod sealing;
pub mod secrets;
pub mod settings;
pub mod user_jira;

use std::sync::Arc;
use std::time::Duration;

use actix_web::web;
use tenant_core::server::{self, HostError};
use tenant_core::{Application, Migration, ServiceSpec};

use crate::failure_client::{FailureClient, FailureClientError};
use crate::jobs::{DeliveryMetrics, DeliveryWorker, JiraSync};
use crate::outbound::OutboundPolicy;
use crate::sealing::{MasterKeys, SealingError};
use crate::secrets::SecretStore;
use crate::settings::IntegrationSettings;

pub type Settings = tenant_core::config::Settings<IntegrationSettings>;

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
    Migration::embedded(
        3,
        "connections",
        include_str!("../../../migrations/integration/0003_connections.sql"),
    ),
    Migration::embedded(
        4,
        "rules_and_deliveries",
        include_str!("../../../migrations/integration/0004_rules_and_deliveries.sql"),
    ),
    Migration::embedded(
        5,
        "issue_links",
        include_str!("../../../migrations/integration/0005_issue_links.sql"),
    ),
    Migration::embedded(
        6,
        "pull_request_comments",
        include_str!("../../../migrations/integration/0006_pull_request_comments.sql"),
    ),
    Migration::embedded(
        7,
        "jira_user_connections",
        include_str!("../../../migrations/integration/0007_jira_user_connections.sql"),
    ),
];

pub static SPEC: ServiceSpec = ServiceSpec {
    name: "integration-gateway",
    schema: Some("integration"),
    migrations: MIGRATIONS,
};

/// What the handlers share.
#[derive(Debug, Clone)]
pub struct IntegrationState {
    pub settings: Arc<IntegrationSettings>,
    pub secrets: SecretStore,
    pub outbound: OutboundPolicy,
    pub failure: FailureClient,
}

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("the service host failed")]
    Host(#[from] HostError),
    #[error("the master keys are unusable")]
    MasterKeys(#[from] SealingError),
    #[error("cannot set up calls to the failure service")]
    FailureClient(#[from] FailureClientError),
}

/// The master keys the settings configure.
pub fn master_keys(settings: &Settings) -> Result<MasterKeys, SealingError> {
    MasterKeys::new(
        &settings.service.master_key_id,
        settings.service.master_keys(settings.environment),
    )
}

/// The outbound policy the settings configure.
pub fn outbound_policy(service: &IntegrationSettings) -> OutboundPolicy {
    OutboundPolicy {
        allow_http: service.allow_http,
        allow_loopback: service.allow_loopback,
        timeout: service.outbound_timeout(),
        max_response_bytes: service.max_response_bytes,
    }
}

/// Starts the integration-gateway process: its routes on the shared host
/// and the delivery worker, ready to run.
pub async fn build(settings: Settings) -> Result<Application, StartupError> {
    let secrets = SecretStore::new(master_keys(&settings)?);
    let failure = FailureClient::new(&settings)?;
    let db = server::connect_database(&SPEC, &settings)
        .await?
        .ok_or(HostError::NoDatabase)?;
    let service = Arc::new(settings.service.clone());
    let outbound = outbound_policy(&service);
    let metrics = DeliveryMetrics::default();
    // The routes hold the worker; it stops when the service does.
    let worker = web::Data::from(Arc::new(DeliveryWorker::new(
        db.counting_apart(),
        secrets.clone(),
        outbound.clone(),
        service.clone(),
        metrics.clone(),
    )));
    jobs::spawn_delivery_worker(
        Arc::downgrade(&worker.clone().into_inner()),
        Duration::from_millis(service.delivery_poll_interval_ms),
    );
    let sync = web::Data::from(Arc::new(JiraSync::new(
        db.counting_apart(),
        secrets.clone(),
        outbound.clone(),
        service.clone(),
        failure.clone(),
    )));
    jobs::spawn_jira_sync(
        Arc::downgrade(&sync.clone().into_inner()),
        Duration::from_millis(service.jira_sync_interval_ms),
    );
    let state = web::Data::new(IntegrationState {
        settings: service,
        secrets,
        outbound,
        failure,
    });
    let host = Application::start(&SPEC, &settings, Some(db), move |cfg| {
        cfg.app_data(state.clone())
            .app_data(worker.clone())
            .app_data(sync.clone());
        routes::configure(cfg);
    })?;
    metrics.register(host.metrics());
    Ok(host)
}
