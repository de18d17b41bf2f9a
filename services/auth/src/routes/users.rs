use actix_web::{HttpResponse, web};
use secrecy::SecretString;
use serde::Deserialize;
use tenant_core::pagination::{Page, PageParams, PageRequest};
use tenant_core::{Problem, TenantContext};
use uuid::Uuid;

use crate::flows::AuthState;

#[derive(Deserialize)]
pub struct SignUp {
    email: String,
    password: SecretString,
    display_name: String,
}

pub async fn sign_up(
    _ctx: TenantContext,
    state: web::Data<AuthState>,
    body: web::Json<SignUp>,
) -> Result<HttpResponse, Problem> {
    let user = state
        .sign_up(&body.email, &body.password, &body.display_name)
        .await?;
    Ok(HttpResponse::Created()
        .insert_header(("location", "/v1/me"))
        .json(user))
}

pub async fn list_users(
    ctx: TenantContext,
    state: web::Data<AuthState>,
    params: web::Query<PageParams>,
) -> Result<HttpResponse, Problem> {
    let page = PageRequest::from_params(&params)?;
    let users = state
        .list_users(&ctx, page.after, page.fetch_limit())
        .await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(users, page.limit, |u| (u.created_at, u.id))))
}

pub async fn disable_user(
    ctx: TenantContext,
    state: web::Data<AuthState>,
    user_id: web::Path<Uuid>,
) -> Result<HttpResponse, Problem> {
    state.disable_user(&ctx, *user_id).await?;
    Ok(HttpResponse::NoContent().finish())
}
