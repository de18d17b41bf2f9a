//! The public keys that verify access tokens.

use actix_web::{HttpResponse, web};

use crate::AuthState;
use crate::error::AuthError;

/// Public keys that verify access tokens: pending, active and recently
/// retired keys. Verifiers may cache it for `max-age`.
#[tracing::instrument(skip_all, err(level = "info"))]
pub async fn jwks(state: web::Data<AuthState>) -> Result<HttpResponse, AuthError> {
    let keyring = state.keys.current().await?;
    Ok(HttpResponse::Ok()
        .insert_header((
            "cache-control",
            format!("public, max-age={}", state.keys.max_age_secs()),
        ))
        .json(serde_json::json!({ "keys": keyring.published })))
}
