//! `POST /internal/v1/events`: the inbox the failure service's outbox
//! relay delivers to (services only).

use std::collections::{BTreeSet, HashSet};

use actix_web::{HttpResponse, web};
use tenant_core::json::Object;
use tenant_core::outbox::inbox::{self, InboxBatch};
use tenant_core::outbox::{BatchReceipt, EventBatch, OutboxEvent};
use tenant_core::{Db, TenantContext, TenantTx};
use uuid::Uuid;

use crate::domain::events::Refresh;
use crate::error::AnalyticsError;
use crate::jobs::gate_evaluation;
use crate::repository::rollups;

/// Stores a batch of one project's events (the project of the caller's
/// context), each id once, computes again the rollups the new ones name,
/// and answers only after the commit: `accepted` lists the ids that were
/// new, `duplicates` those already kept. A failure rolls everything back
/// and the relay delivers the batch again.
#[tracing::instrument(
    skip_all,
    fields(project_id = tracing::field::Empty, events = body.events.len()),
    err(level = "info")
)]
pub async fn receive(
    ctx: TenantContext,
    db: web::Data<Db>,
    body: web::Json<Object<EventBatch>>,
) -> Result<HttpResponse, AnalyticsError> {
    ctx.require_service()?;
    let project_id = ctx.require_project()?.project_id;
    tracing::Span::current().record("project_id", tracing::field::display(project_id));
    let batch = InboxBatch::parse(project_id, body.into_inner().into_inner())?;
    let tx = db.tenant_tx(&ctx).await?;
    let stored = inbox::store_events(
        &tx,
        "analytics.event_inbox",
        project_id,
        &batch.source,
        &batch.events,
    )
    .await?;
    let new: HashSet<Uuid> = stored.iter().copied().collect();
    let fresh: Vec<OutboxEvent> = batch
        .events
        .iter()
        .filter(|event| new.contains(&event.id))
        .cloned()
        .collect();
    let refresh = Refresh::of(&fresh);
    if !refresh.is_empty() {
        rollups::apply_refresh(&tx, project_id, &refresh).await?;
    }
    builds_completed(&tx, project_id, &refresh.completed_builds).await?;
    tx.commit().await?;
    let mut seen = HashSet::new();
    let mut receipt = BatchReceipt::default();
    for event in &batch.events {
        if !seen.insert(event.id) {
            continue;
        }
        if new.contains(&event.id) {
            receipt.accepted.push(event.id);
        } else {
            receipt.duplicates.push(event.id);
        }
    }
    Ok(HttpResponse::Ok().json(receipt))
}

/// Handles the builds a batch reports finished (`build.completed`, first
/// delivery only), after their rollups were computed and in the same
/// transaction: what must follow a finished build (its quality-gate
/// evaluation) is called from here, so it runs exactly when the event is
/// first kept and is retried with it.
#[tracing::instrument(skip_all, fields(project_id = %project_id, builds = builds.len()), err(level = "warn"))]
async fn builds_completed(
    tx: &TenantTx,
    project_id: Uuid,
    builds: &BTreeSet<Uuid>,
) -> Result<(), AnalyticsError> {
    for &build_id in builds {
        match gate_evaluation::quality_gate(tx, project_id, build_id).await {
            Ok(answer) => {
                tracing::debug!(%build_id, status = ?answer.status, "quality gate evaluated");
            }
            // Removed since: nothing to judge.
            Err(AnalyticsError::BuildNotFound) => {}
            Err(error) => return Err(error),
        }
    }
    Ok(())
}
