//! `failure.outbox`: events written in the transaction of the change they
//! describe (tenant-core's `outbox` holds the statement, shared by every
//! service), relayed by `jobs::outbox_relay`.

use tenant_core::outbox::{self, OutboxEvent};
use tenant_core::{DbError, TenantTx};

/// Adds `events` to the outbox in `tx`: they are relayed only if it commits.
pub async fn publish(tx: &TenantTx, events: &[OutboxEvent]) -> Result<(), DbError> {
    outbox::publish(tx, events).await
}
