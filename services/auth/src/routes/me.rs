use actix_web::{HttpRequest, HttpResponse, web};
use secrecy::SecretString;
use serde::{Deserialize, Deserializer};
use tenant_core::{Problem, TenantContext};
use uuid::Uuid;

use super::client_ip;
use crate::flows::AuthState;

pub async fn get_me(
    ctx: TenantContext,
    state: web::Data<AuthState>,
) -> Result<HttpResponse, Problem> {
    Ok(HttpResponse::Ok().json(state.current_user(&ctx).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateMe {
    display_name: Option<String>,
    /// Absent: unchanged; `null`: cleared.
    #[serde(default, deserialize_with = "present")]
    default_project: Option<Option<Uuid>>,
}

fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Option<Uuid>>, D::Error> {
    Option::<Uuid>::deserialize(deserializer).map(Some)
}

pub async fn update_me(
    ctx: TenantContext,
    state: web::Data<AuthState>,
    body: web::Json<UpdateMe>,
) -> Result<HttpResponse, Problem> {
    let body = body.into_inner();
    let user = state
        .update_profile(&ctx, body.display_name.as_deref(), body.default_project)
        .await?;
    Ok(HttpResponse::Ok().json(user))
}

#[derive(Deserialize)]
pub struct ChangePassword {
    current_password: SecretString,
    new_password: SecretString,
}

pub async fn change_password(
    ctx: TenantContext,
    req: HttpRequest,
    state: web::Data<AuthState>,
    body: web::Json<ChangePassword>,
) -> Result<HttpResponse, Problem> {
    state
        .change_password(
            &ctx,
            &body.current_password,
            &body.new_password,
            &client_ip(&req),
        )
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
