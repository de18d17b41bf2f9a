//! `GET /api/openapi.json`: the public API's OpenAPI document.

use actix_web::http::header;
use actix_web::{HttpResponse, web};

use crate::error::GatewayError;
use crate::gateway::Gateway;
use crate::openapi_merge::PublicDocument;

#[tracing::instrument(skip_all, err(level = "info"))]
pub async fn openapi_json(
    gateway: web::Data<Gateway>,
    document: web::Data<PublicDocument>,
) -> Result<HttpResponse, GatewayError> {
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(document.document(&gateway).await))
}
