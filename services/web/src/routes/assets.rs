//! The vendored stylesheet and script under their content-hashed names.

use actix_web::http::header;
use actix_web::{HttpResponse, web};

use crate::error::WebError;
use crate::views::assets;

/// A year, immutable: a changed file has another name.
const LONG_CACHE: &str = "public, max-age=31536000, immutable";

pub async fn asset(name: web::Path<String>) -> Result<HttpResponse, WebError> {
    let asset = assets::find(&name).ok_or(WebError::NotFound)?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, asset.content_type))
        .insert_header((header::CACHE_CONTROL, LONG_CACHE))
        .body(asset.body))
}
