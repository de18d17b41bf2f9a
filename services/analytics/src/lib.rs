//! Read model over failure data: trends, rankings, MTTR and quality gates.

pub mod domain;
pub mod error;
pub mod jobs;
pub mod project_client;
pub mod repository;
mod routes;
pub mod settings;

use std::sync::Arc;
use std::time::Duration;

use actix_web::web;
use tenant_core::context::InternalTokenIssuer;
use tenant_core::outbox::OutboxMetrics;
use tenant_core::server::{self, HostError};
use tenant_core::{Application, Migration, ServiceSpec};

use crate::jobs::reconcile::{self, Reconciler};
use crate::project_client::{ProjectClient, ProjectClientError};
use crate::repository::ranking_cache::RankingCache;

pub type Settings = tenant_core::config::Settings<settings::AnalyticsSettings>;

/// Embedded from `migrations/analytics/`; a platform test checks the list against the folder.
pub const MIGRATIONS: &[Migration] = &[
    Migration::embedded(
        1,
        "quality_gates",
        include_str!("../../../migrations/analytics/0001_quality_gates.sql"),
    ),
    Migration::embedded(
        2,
        "rollups",
        include_str!("../../../migrations/analytics/0002_rollups.sql"),
    ),
    Migration::embedded(
        3,
        "quality_gate_rules",
        include_str!("../../../migrations/analytics/0003_quality_gate_rules.sql"),
    ),
    Migration::embedded(
        4,
        "test_totals_and_duration_histograms",
        include_str!("../../../migrations/analytics/0004_test_totals_and_duration_histograms.sql"),
    ),
    Migration::embedded(
        5,
        "rollup_versions",
        include_str!("../../../migrations/analytics/0005_rollup_versions.sql"),
    ),
    Migration::embedded(
        6,
        "member_overview_policies",
        include_str!("../../../migrations/analytics/0006_member_overview_policies.sql"),
    ),
];

pub static SPEC: ServiceSpec = ServiceSpec {
    name: "analytics-service",
    schema: Some("analytics"),
    migrations: MIGRATIONS,
};

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("the service host failed")]
    Host(#[from] HostError),
    #[error("cannot set up calls to the project service")]
    ProjectClient(#[from] ProjectClientError),
    #[error("cannot set up the outbox relay to the integration gateway")]
    OutboxRelay(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Starts the analytics-service process: its routes on the shared host
/// (with the test rankings' cache), the rollup reconciliation and the outbox relay (`gate.failed` to the
/// integration gateway), ready to run.
pub async fn build(settings: Settings) -> Result<Application, StartupError> {
    let project = web::Data::new(ProjectClient::new(&settings)?);
    let ranking_cache = web::Data::new(RankingCache::new(
        settings.service.rankings_cache_entries,
        settings.service.rankings_cache_ttl(),
        settings.service.rankings_fresh_wait(),
    ));
    let issuer = InternalTokenIssuer::new(&settings.internal_token)
        .map_err(|error| StartupError::OutboxRelay(Box::new(error)))?;
    let db = server::connect_database(&SPEC, &settings)
        .await?
        .ok_or(HostError::NoDatabase)?;
    // The routes hold the reconciler and the relay; they stop when the
    // service does.
    let reconciler = web::Data::from(Arc::new(Reconciler::new(db.clone(), &settings.service)));
    reconcile::spawn_reconciler(
        Arc::downgrade(&reconciler.clone().into_inner()),
        Duration::from_secs(settings.service.reconcile_interval_secs),
    );
    let relay_metrics = OutboxMetrics::default();
    let relay = web::Data::from(
        jobs::gate_outbox_relay::build(
            db.clone(),
            issuer,
            settings.service.outbox_relay(),
            relay_metrics.clone(),
        )
        .map_err(|error| StartupError::OutboxRelay(Box::new(error)))?,
    );
    jobs::gate_outbox_relay::start(Arc::downgrade(&relay.clone().into_inner()));
    let host = Application::start(&SPEC, &settings, Some(db), move |cfg| {
        cfg.app_data(project.clone())
            .app_data(ranking_cache.clone())
            .app_data(reconciler.clone())
            .app_data(relay.clone());
        routes::configure(cfg);
    })?;
    relay_metrics.register(host.metrics());
    Ok(host)
}
