//! Builds and test results: ingestion, failure grouping, classification and flakiness.

pub mod domain;
pub mod error;
pub mod jobs;
pub mod junit;
pub mod labels;
pub mod project_client;
pub mod repository;
mod routes;
pub mod settings;
pub mod size_limit;
pub mod upload;

use std::sync::Arc;
use std::time::Duration;

use actix_web::web;
use prometheus_client::metrics::gauge::Gauge;
use tenant_core::context::InternalTokenIssuer;
use tenant_core::outbox::OutboxMetrics;
use tenant_core::server::{self, HostError};
use tenant_core::{Application, Migration, ServiceSpec};

use crate::jobs::RegroupWorker;
use crate::project_client::{ProjectClient, ProjectClientError};
use crate::settings::FailureSettings;
use crate::upload::slots::UploadSlots;

pub type Settings = tenant_core::config::Settings<FailureSettings>;

/// Embedded from `migrations/failure/`; a platform test checks the list against the folder.
pub const MIGRATIONS: &[Migration] = &[
    Migration::embedded(
        1,
        "builds",
        include_str!("../../../migrations/failure/0001_builds.sql"),
    ),
    Migration::embedded(
        2,
        "results_and_failures",
        include_str!("../../../migrations/failure/0002_results_and_failures.sql"),
    ),
    Migration::embedded(
        3,
        "result_references_per_statement",
        include_str!("../../../migrations/failure/0003_result_references_per_statement.sql"),
    ),
    Migration::embedded(
        4,
        "unlisted_suite_totals",
        include_str!("../../../migrations/failure/0004_unlisted_suite_totals.sql"),
    ),
    Migration::embedded(
        5,
        "failure_groups",
        include_str!("../../../migrations/failure/0005_failure_groups.sql"),
    ),
    Migration::embedded(
        6,
        "outbox",
        include_str!("../../../migrations/failure/0006_outbox.sql"),
    ),
    Migration::embedded(
        7,
        "classification",
        include_str!("../../../migrations/failure/0007_classification.sql"),
    ),
    Migration::embedded(
        8,
        "test_health",
        include_str!("../../../migrations/failure/0008_test_health.sql"),
    ),
    Migration::embedded(
        9,
        "triage",
        include_str!("../../../migrations/failure/0009_triage.sql"),
    ),
    Migration::embedded(
        10,
        "analytics_views",
        include_str!("../../../migrations/failure/0010_analytics_views.sql"),
    ),
    Migration::embedded(
        11,
        "gate_views",
        include_str!("../../../migrations/failure/0011_gate_views.sql"),
    ),
    Migration::embedded(
        12,
        "issue_links",
        include_str!("../../../migrations/failure/0012_issue_links.sql"),
    ),
    Migration::embedded(
        13,
        "result_reference_probes",
        include_str!("../../../migrations/failure/0013_result_reference_probes.sql"),
    ),
    Migration::embedded(
        14,
        "failed_test_names",
        include_str!("../../../migrations/failure/0014_failed_test_names.sql"),
    ),
    Migration::embedded(
        15,
        "open_groups_index",
        include_str!("../../../migrations/failure/0015_open_groups_index.sql"),
    ),
];

pub static SPEC: ServiceSpec = ServiceSpec {
    name: "failure-service",
    schema: Some("failure"),
    migrations: MIGRATIONS,
};

/// What the handlers share.
#[derive(Debug, Clone)]
pub struct FailureState {
    pub settings: Arc<FailureSettings>,
    /// One slot per upload being read (`service.max_concurrent_uploads`,
    /// at most half of them per project).
    pub uploads: Arc<UploadSlots>,
    /// Uploads being read now, exported as `failure_uploads_in_progress`.
    pub uploads_in_progress: Gauge,
    /// Whether a user is a member of a project (assignees must be).
    pub project: ProjectClient,
}

/// The relay of the analytics queue, held by the routes so it runs as
/// long as the service does (a type of its own beside the integration
/// gateway's relay in the app data).
#[derive(Debug)]
pub struct AnalyticsRelay(pub Arc<tenant_core::outbox::OutboxRelay>);

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("the service host failed")]
    Host(#[from] HostError),
    #[error("cannot set up calls to the project service")]
    ProjectClient(#[from] ProjectClientError),
    #[error("cannot set up the outbox relay to the integration gateway")]
    OutboxRelay(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Starts the failure-service process: its routes on the shared host, the
/// outbox relay and the regroup worker, ready to run.
pub async fn build(mut settings: Settings) -> Result<Application, StartupError> {
    let project = ProjectClient::new(&settings)?;
    let issuer = InternalTokenIssuer::new(&settings.internal_token)
        .map_err(|error| StartupError::OutboxRelay(Box::new(error)))?;
    let db = server::connect_database(&SPEC, &settings)
        .await?
        .ok_or(HostError::NoDatabase)?;
    let relay_settings = settings.service.outbox_relay();
    let analytics_relay_settings = settings.service.analytics_relay();
    let service = std::mem::take(&mut settings.service);
    // The routes hold the worker; it stops when the service does.
    let regroup = web::Data::from(Arc::new(RegroupWorker::new(
        db.clone(),
        service.regroup_batch_size,
        service.regroup_lease_secs,
    )));
    jobs::spawn_regroup_worker(
        Arc::downgrade(&regroup.clone().into_inner()),
        Duration::from_millis(service.regroup_poll_interval_ms),
    );
    let uploads_in_progress = Gauge::default();
    let state = web::Data::new(FailureState {
        uploads: Arc::new(UploadSlots::new(
            service.max_concurrent_uploads,
            service.max_uploads_per_project(),
            uploads_in_progress.clone(),
        )),
        settings: Arc::new(service),
        uploads_in_progress,
        project,
    });
    let uploads_in_progress = state.uploads_in_progress.clone();
    let relay_metrics = OutboxMetrics::default();
    // The routes hold the relays; they stop when the service does.
    let relay = web::Data::from(
        jobs::outbox_relay::build(
            db.clone(),
            issuer.clone(),
            relay_settings,
            relay_metrics.clone(),
        )
        .map_err(|error| StartupError::OutboxRelay(Box::new(error)))?,
    );
    jobs::outbox_relay::start(Arc::downgrade(&relay.clone().into_inner()));
    let analytics_metrics = OutboxMetrics::default();
    let analytics_relay = jobs::outbox_relay::build_analytics(
        db.clone(),
        issuer,
        analytics_relay_settings,
        analytics_metrics.clone(),
    )
    .map_err(|error| StartupError::OutboxRelay(Box::new(error)))?;
    jobs::outbox_relay::start(Arc::downgrade(&analytics_relay));
    let analytics_relay = web::Data::new(AnalyticsRelay(analytics_relay));
    let host = Application::start(&SPEC, &settings, Some(db), move |cfg| {
        cfg.app_data(state.clone())
            .app_data(relay.clone())
            .app_data(analytics_relay.clone())
            .app_data(regroup.clone());
        routes::configure(cfg);
    })?;
    host.metrics().register(
        "failure_uploads_in_progress",
        "Uploads being read now (at most service.max_concurrent_uploads)",
        uploads_in_progress,
    );
    relay_metrics.register(host.metrics());
    analytics_metrics.register_for_receiver(host.metrics(), "analytics");
    Ok(host)
}
