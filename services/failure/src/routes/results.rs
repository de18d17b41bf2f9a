use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use tenant_core::{Db, Problem, Role, TenantContext};
use uuid::Uuid;

use super::project_scope;
use crate::FailureState;
use crate::error::FailureError;
use crate::ingest::{self, Upload, UploadFormat, UploadOutcome};

fn header_text<'a>(req: &'a HttpRequest, name: &str) -> Option<&'a str> {
    req.headers()
        .get(name)
        .and_then(|value| value.to_str().ok())
}

pub async fn upload(
    req: HttpRequest,
    ctx: TenantContext,
    db: web::Data<Db>,
    state: web::Data<FailureState>,
    path: web::Path<(String, Uuid)>,
    payload: web::Payload,
) -> Result<HttpResponse, Problem> {
    let (project, build_id) = path.into_inner();
    let project_id = project_scope(&ctx, &project, Role::Member)?;
    let content_type = header_text(&req, "content-type")
        .unwrap_or_default()
        .to_owned();
    let content_encoding = header_text(&req, "content-encoding")
        .unwrap_or_default()
        .to_owned();
    let format = UploadFormat::detect(
        Some(content_type.as_str()).filter(|c| !c.is_empty()),
        Some(content_encoding.as_str()).filter(|c| !c.is_empty()),
    )?;
    let idempotency_key = ingest::parse_idempotency_key(header_text(&req, "idempotency-key"))?;
    let limit = state.settings.max_upload_bytes;
    if header_text(&req, header::CONTENT_LENGTH.as_str())
        .and_then(|length| length.parse::<u64>().ok())
        .is_some_and(|length| length > limit as u64)
    {
        return Err(FailureError::UploadTooLarge {
            limit: limit as u64,
        }
        .into());
    }
    let upload = Upload {
        build_id,
        format,
        idempotency_key,
        content_type,
        content_encoding,
    };
    match ingest::ingest_upload(&state, &db, &ctx, project_id, upload, payload).await? {
        UploadOutcome::Ingested(summary) => Ok(HttpResponse::Created().json(summary)),
        UploadOutcome::Replayed(response) => Ok(HttpResponse::Ok()
            .insert_header(("idempotent-replayed", "true"))
            .json(response)),
    }
}
