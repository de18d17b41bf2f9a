use actix_web::{HttpRequest, HttpResponse, web};
use secrecy::SecretString;
use serde::Deserialize;
use tenant_core::{Problem, TenantContext};

use super::client_ip;
use crate::flows::AuthState;

#[derive(Deserialize)]
pub struct LogIn {
    email: String,
    password: SecretString,
}

#[derive(Deserialize)]
pub struct Refresh {
    refresh_token: SecretString,
}

fn no_store(response: &mut actix_web::HttpResponseBuilder) -> &mut actix_web::HttpResponseBuilder {
    response.insert_header(("cache-control", "no-store"))
}

pub async fn log_in(
    _ctx: TenantContext,
    req: HttpRequest,
    state: web::Data<AuthState>,
    body: web::Json<LogIn>,
) -> Result<HttpResponse, Problem> {
    let tokens = state
        .log_in(&body.email, &body.password, &client_ip(&req))
        .await?;
    Ok(no_store(&mut HttpResponse::Ok()).json(tokens))
}

pub async fn refresh(
    _ctx: TenantContext,
    req: HttpRequest,
    state: web::Data<AuthState>,
    body: web::Json<Refresh>,
) -> Result<HttpResponse, Problem> {
    let tokens = state.refresh(&body.refresh_token, &client_ip(&req)).await?;
    Ok(no_store(&mut HttpResponse::Ok()).json(tokens))
}

pub async fn log_out(
    ctx: TenantContext,
    state: web::Data<AuthState>,
) -> Result<HttpResponse, Problem> {
    state.log_out(&ctx, false).await?;
    Ok(HttpResponse::NoContent().finish())
}

pub async fn log_out_everywhere(
    ctx: TenantContext,
    state: web::Data<AuthState>,
) -> Result<HttpResponse, Problem> {
    let revoked = state.log_out(&ctx, true).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "sessions_revoked": revoked })))
}
