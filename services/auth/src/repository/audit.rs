//! `auth.audit_events`: the security trail.

use tenant_core::{DbError, TenantTx};
use uuid::Uuid;

use crate::domain::audit::AuditEvent;

#[tracing::instrument(
    skip_all,
    fields(kind = event.kind, user_id = ?event.user_id, session_id = ?event.session_id),
    err(level = "warn")
)]
pub async fn record(tx: &TenantTx, event: AuditEvent<'_>) -> Result<(), DbError> {
    tx.execute(
        "INSERT INTO auth.audit_events (id, kind, user_id, session_id, client_ip, details)
         VALUES ($1, $2, $3, $4, $5, $6)",
        &[
            &Uuid::now_v7(),
            &event.kind,
            &event.user_id,
            &event.session_id,
            &event.client_ip,
            &event.details,
        ],
    )
    .await?;
    Ok(())
}
