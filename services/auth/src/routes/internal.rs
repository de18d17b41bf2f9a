use actix_web::{HttpResponse, web};
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::json;
use tenant_core::{Problem, TenantContext};
use uuid::Uuid;

use crate::domain::Email;
use crate::error::AuthError;
use crate::feeds::MemberAccess;
use crate::flows::AuthState;
use crate::repo;

#[derive(Deserialize)]
pub struct ByEmail {
    email: String,
}

/// For the project service adding members by email.
pub async fn user_by_email(
    ctx: TenantContext,
    state: web::Data<AuthState>,
    query: web::Query<ByEmail>,
) -> Result<HttpResponse, Problem> {
    ctx.require_service()?;
    let email = Email::parse(&query.email)?;
    let tx = state.db.unscoped_tx().await?;
    let user = repo::user_by_email(&tx, email.as_str())
        .await?
        .ok_or(AuthError::NotFound("user"))?;
    Ok(HttpResponse::Ok().json(user))
}

#[derive(Deserialize)]
pub struct Introspect {
    key: SecretString,
}

/// For the gateway: who an API key is. POST, so the key stays out of URLs.
pub async fn introspect_api_key(
    ctx: TenantContext,
    state: web::Data<AuthState>,
    body: web::Json<Introspect>,
) -> Result<HttpResponse, Problem> {
    ctx.require_service()?;
    Ok(HttpResponse::Ok().json(state.introspect_api_key(&body.key).await?))
}

#[derive(Deserialize)]
pub struct RevocationsQuery {
    /// The last `seq` the caller applied; absent on the first poll.
    after: Option<i64>,
    limit: Option<i64>,
}

/// For the gateway: revoked sessions and API keys in commit order. Poll
/// with the last `seq` applied; `has_more` asks for the next page at once.
/// The first poll (no `after`) and a `reset` start from the revocations
/// that may still have live tokens.
pub async fn revocations(
    ctx: TenantContext,
    state: web::Data<AuthState>,
    query: web::Query<RevocationsQuery>,
) -> Result<HttpResponse, Problem> {
    ctx.require_service()?;
    if query.after.is_some_and(|after| after < 0) {
        return Err(AuthError::Invalid {
            field: "after",
            message: "cannot be negative".into(),
        }
        .into());
    }
    let limit = query.limit.unwrap_or(1000).clamp(1, 10_000);
    let slice = state.revocations(query.after, limit).await?;
    let has_more = usize::try_from(limit).is_ok_and(|limit| slice.revocations.len() == limit)
        && slice
            .revocations
            .last()
            .is_some_and(|last| last.seq < slice.latest);
    Ok(HttpResponse::Ok().json(json!({
        "revocations": slice.revocations,
        "latest": slice.latest,
        "has_more": has_more,
        "reset": slice.reset,
    })))
}

#[derive(Deserialize)]
pub struct SessionOf {
    user: Uuid,
}

/// For a gateway whose revocation feed is stale: whether one session is
/// still live (and its user enabled).
pub async fn session_status(
    ctx: TenantContext,
    state: web::Data<AuthState>,
    session_id: web::Path<Uuid>,
    query: web::Query<SessionOf>,
) -> Result<HttpResponse, Problem> {
    ctx.require_service()?;
    let live = state.session_status(*session_id, query.user).await?;
    Ok(HttpResponse::Ok().json(json!({ "live": live })))
}

#[derive(Deserialize)]
pub struct MemberReports {
    members: Vec<MemberAccess>,
}

/// For the project service: members whose access changed, in its change
/// feed's order; keys created by members below admin are revoked.
pub async fn member_access(
    ctx: TenantContext,
    state: web::Data<AuthState>,
    body: web::Json<MemberReports>,
) -> Result<HttpResponse, Problem> {
    ctx.require_service()?;
    Ok(HttpResponse::Ok().json(state.apply_member_access(&body.members).await?))
}
