use actix_web::{HttpResponse, web};
use tenant_core::Problem;

use crate::flows::AuthState;

/// Public keys that verify access tokens: pending, active and recently
/// retired keys. Verifiers may cache it for `max-age`.
pub async fn jwks(state: web::Data<AuthState>) -> Result<HttpResponse, Problem> {
    let keyring = state.keys.current().await?;
    Ok(HttpResponse::Ok()
        .insert_header((
            "cache-control",
            format!("public, max-age={}", state.keys.max_age_secs()),
        ))
        .json(serde_json::json!({ "keys": keyring.published })))
}
