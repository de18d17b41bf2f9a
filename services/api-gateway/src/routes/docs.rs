//! `GET /api/docs`: Swagger UI on the public document, from assets built
//! into the binary.

use std::sync::Arc;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use utoipa_swagger_ui::Config;

use super::{DOCS_PATH, OPENAPI_PATH};
use crate::error::GatewayError;

#[tracing::instrument(skip_all, fields(file), err(level = "info"))]
pub async fn swagger_ui(req: HttpRequest) -> Result<HttpResponse, GatewayError> {
    let file = req.match_info().get("file").unwrap_or("");
    tracing::Span::current().record("file", file);
    let served = utoipa_swagger_ui::serve(file, Arc::new(Config::from(OPENAPI_PATH)))
        .map_err(|error| GatewayError::SwaggerUi(error.to_string()))?
        .ok_or(GatewayError::DocsFileNotFound)?;
    let body = if served.content_type.starts_with("text/html") {
        // Served at /api/docs and /api/docs/ alike: the page's relative
        // links resolve against /api/docs/.
        let html = String::from_utf8_lossy(&served.bytes).replacen(
            "<head>",
            &format!("<head>\n    <base href=\"{DOCS_PATH}/\">"),
            1,
        );
        web::Bytes::from(html)
    } else {
        web::Bytes::from(served.bytes.into_owned())
    };
    Ok(HttpResponse::Ok()
        .content_type(served.content_type)
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .body(body))
}
