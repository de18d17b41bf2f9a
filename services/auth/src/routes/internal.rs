use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde::Deserialize;
use tenant_core::{Problem, TenantContext};

use crate::domain::Email;
use crate::error::AuthError;
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
pub struct RevokedSince {
    since: DateTime<Utc>,
    limit: Option<i64>,
}

/// For the gateway: sessions revoked after `since`, oldest first. Poll with
/// the last `revoked_at` seen.
pub async fn revoked_sessions(
    ctx: TenantContext,
    state: web::Data<AuthState>,
    query: web::Query<RevokedSince>,
) -> Result<HttpResponse, Problem> {
    ctx.require_service()?;
    let limit = query.limit.unwrap_or(1000).clamp(1, 10_000);
    let tx = state.db.unscoped_tx().await?;
    let revoked = repo::sessions_revoked_since(&tx, query.since, limit).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "revoked": revoked })))
}
