use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use tenant_core::pagination::{Page, PageParams, PageRequest};
use tenant_core::{Problem, Role, TenantContext};
use uuid::Uuid;

use crate::flows::AuthState;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKey {
    name: String,
    role: Role,
    expires_at: DateTime<Utc>,
}

pub async fn create(
    ctx: TenantContext,
    state: web::Data<AuthState>,
    body: web::Json<CreateApiKey>,
) -> Result<HttpResponse, Problem> {
    let created = state
        .create_api_key(&ctx, &body.name, body.role, body.expires_at)
        .await?;
    Ok(HttpResponse::Created()
        .insert_header(("cache-control", "no-store"))
        .json(created))
}

pub async fn list(
    ctx: TenantContext,
    state: web::Data<AuthState>,
    params: web::Query<PageParams>,
) -> Result<HttpResponse, Problem> {
    let page = PageRequest::from_params(&params)?;
    let keys = state
        .list_api_keys(&ctx, page.after, page.fetch_limit())
        .await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(keys, page.limit, |k| (k.created_at, k.id))))
}

pub async fn revoke(
    ctx: TenantContext,
    state: web::Data<AuthState>,
    path: web::Path<(String, Uuid)>,
) -> Result<HttpResponse, Problem> {
    state.revoke_api_key(&ctx, path.1).await?;
    Ok(HttpResponse::NoContent().finish())
}
