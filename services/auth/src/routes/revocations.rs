//! The revocation feed: ended sessions and revoked API keys, for the
//! gateway's caches.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;
use tenant_core::TenantContext;

use crate::AuthState;
use crate::domain::Invalid;
use crate::error::AuthError;
use crate::repository::revocations;

#[derive(Deserialize)]
pub struct RevocationsQuery {
    /// The last `seq` the caller applied; absent on the first poll.
    after: Option<i64>,
    limit: Option<i64>,
}

/// For the gateway: revoked sessions and API keys in commit order. Poll
/// with the last `seq` applied; `has_more` asks for the next page at once.
/// The first poll (no `after`) and a `reset` start from the revocations
/// that may still have live tokens; revocations older than twice that
/// window are pruned on the way.
#[tracing::instrument(skip_all, fields(after = ?query.after), err(level = "info"))]
pub async fn revocations(
    ctx: TenantContext,
    state: web::Data<AuthState>,
    query: web::Query<RevocationsQuery>,
) -> Result<HttpResponse, AuthError> {
    ctx.require_service()?;
    if query.after.is_some_and(|after| after < 0) {
        return Err(Invalid {
            field: "after",
            message: "cannot be negative",
        }
        .into());
    }
    let limit = query.limit.unwrap_or(1000).clamp(1, 10_000);
    let window = state.policy.revocation_window_secs as f64;
    let tx = state.db.unscoped_tx().await?;
    let slice = revocations::after(&tx, query.after, window, limit).await?;
    revocations::prune(&tx, 2.0 * window).await?;
    tx.commit().await?;
    Ok(HttpResponse::Ok().json(json!({
        "revocations": slice.revocations,
        "latest": slice.latest,
        "has_more": slice.has_more(limit),
        "reset": slice.reset,
    })))
}
