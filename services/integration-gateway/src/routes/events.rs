//! `POST /internal/v1/events`: the inbox other services' outbox relays
//! deliver to.

use std::collections::HashSet;

use actix_web::{HttpResponse, web};
use tenant_core::json::Object;
use tenant_core::outbox::inbox::{self, InboxBatch};
use tenant_core::outbox::{BatchReceipt, EventBatch};
use tenant_core::{Db, TenantContext};
use uuid::Uuid;

use crate::error::IntegrationError;
use crate::repository::{deliveries, issue_links, rules};

/// Stores a batch of one project's events (the project of the caller's
/// context), each id once, with a delivery for every connection whose
/// rules match a new event, and answers only after the commit: `accepted`
/// lists the ids that were new, `duplicates` those already kept. For
/// services only (a service context token).
#[tracing::instrument(
    skip_all,
    fields(project_id = tracing::field::Empty, events = body.events.len()),
    err(level = "info")
)]
pub async fn receive(
    ctx: TenantContext,
    db: web::Data<Db>,
    body: web::Json<Object<EventBatch>>,
) -> Result<HttpResponse, IntegrationError> {
    ctx.require_service()?;
    let project_id = ctx.require_project()?.project_id;
    tracing::Span::current().record("project_id", tracing::field::display(project_id));
    let batch = InboxBatch::parse(project_id, body.into_inner().into_inner())?;
    let tx = db.tenant_tx(&ctx).await?;
    let stored = inbox::store_events(
        &tx,
        "integration.event_inbox",
        project_id,
        &batch.source,
        &batch.events,
    )
    .await?;
    let new: HashSet<Uuid> = stored.iter().copied().collect();
    if !new.is_empty() {
        let rules = rules::list(&tx, project_id).await?;
        let mut targets: Vec<(Uuid, Uuid)> = Vec::new();
        for event in batch.events.iter().filter(|e| new.contains(&e.id)) {
            for rule in rules
                .iter()
                .filter(|r| r.matches(&event.kind, &event.payload))
            {
                if !targets.contains(&(event.id, rule.connection_id)) {
                    targets.push((event.id, rule.connection_id));
                }
            }
        }
        // A regressed group with a Jira issue gets a comment on it.
        let regressed: Vec<(Uuid, Uuid)> = batch
            .events
            .iter()
            .filter(|e| new.contains(&e.id) && e.kind == "group.regressed")
            .filter_map(|e| {
                let group = e.payload.get("group_id")?.as_str()?.parse().ok()?;
                Some((e.id, group))
            })
            .collect();
        let groups: Vec<Uuid> = regressed.iter().map(|(_, group)| *group).collect();
        for (group, connection) in
            issue_links::jira_connections_of(&tx, project_id, &groups).await?
        {
            for (event, _) in regressed.iter().filter(|(_, g)| *g == group) {
                if !targets.contains(&(*event, connection)) {
                    targets.push((*event, connection));
                }
            }
        }
        deliveries::create(&tx, project_id, &targets).await?;
    }
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
