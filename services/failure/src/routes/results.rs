//! `POST /v1/projects/{project}/builds/{build}/results`: a results upload,
//! streamed into the parser ([`crate::upload`]).

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use tenant_core::idempotency::IdempotencyKey;
use tenant_core::{Db, Role, TenantContext};
use uuid::Uuid;

use super::openapi as doc;
use super::project_scope;
use crate::FailureState;
use crate::domain::UploadSummary;
use crate::error::FailureError;
use crate::upload::json_batch::JsonBatch;
use crate::upload::{self, Upload, UploadFormat, UploadOutcome};

fn header_text<'a>(req: &'a HttpRequest, name: &str) -> Option<&'a str> {
    req.headers()
        .get(name)
        .and_then(|value| value.to_str().ok())
}

/// Uploads test results to a build: JUnit XML (plain, gzip or in a zip of
/// reports) or a JSON batch. Uploads to one build add up; everything in
/// one upload is stored, or nothing: a report cut off before its root
/// element closes, in any file of an archive, stores nothing.
#[utoipa::path(
    post,
    path = "/v1/projects/{project}/builds/{build}/results",
    tag = "results",
    params(
        ("project" = String, Path, description = "Project id or slug"),
        ("build" = Uuid, Path, description = "The build's id"),
        ("content-encoding" = Option<String>, Header, nullable = false, pattern = r"^(?:[Gg][Zz][Ii][Pp]|[Xx]-[Gg][Zz][Ii][Pp]|[Ii][Dd][Ee][Nn][Tt][Ii][Tt][Yy])?$", description = "`gzip` (or `x-gzip`) for a gzip-compressed XML report or JSON batch; `identity` or empty for none. A zip archive is never gzip-compressed (415)"),
        ("idempotency-key" = Option<String>, Header, nullable = false, pattern = r"^[!-~]{1,255}$", description = "1 to 255 visible ASCII characters. A retry with the same key and body answers with the recorded response (200) and counts nothing twice"),
    ),
    request_body(
        description = "A JUnit XML report (`application/xml`, also `text/xml` or `application/junit+xml`), a gzip-compressed one (`application/gzip`), a zip of reports (`application/zip`: read entry by entry as it arrives, stored or deflated entries; every `.xml` entry is read, others are skipped with a warning), or a JSON batch (`application/json`)",
        content(
            (doc::JunitXml = "application/xml"),
            (doc::GzipReport = "application/gzip"),
            (doc::ZipOfReports = "application/zip"),
            (JsonBatch = "application/json"),
        ),
    ),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "What this upload held", body = UploadSummary,
         headers(("location" = String, description = "`../{build}`: the build, whose totals now count this upload"))),
        (status = 200, description = "A retry of an upload already done with this Idempotency-Key and body: its recorded response", body = UploadSummary,
         headers(("idempotent-replayed" = String, description = "`true`"))),
        (status = 400, description = "An invalid Idempotency-Key (`idempotency.invalid_key`), text with a NUL character (`request.invalid_text`), a build id that is not a UUID (`request.invalid_path`), or the path names another project (`project.context_mismatch`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid context token (`context.*`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller's role in the project is below member (`context.role_too_low`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such build in this project (`build.not_found`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 408, description = "The body sent nothing for `service.upload_idle_timeout_secs` (`upload.stalled`), or, once that time has passed, arrived at less than `service.upload_min_bytes_per_sec` on average (`upload.too_slow`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is over `service.max_upload_bytes`, decompresses past `service.max_uncompressed_bytes` or `service.max_decompression_ratio`, or a file in a zip archive is over `service.max_zip_entry_bytes` uncompressed (`upload.too_large`); a zip archive holds more than `service.max_zip_entries` entries (`upload.too_many_entries`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 415, description = "Another media type or content encoding, or none (`upload.unsupported_media_type`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 422, description = "The report cannot be ingested (`junit.malformed`, `junit.truncated` for a document that ends before its root element closes, `junit.not_junit`, `junit.empty`, `junit.dtd_refused`, `junit.too_deep`, `junit.attribute_too_long`, `junit.tag_too_long` for a tag over `service.max_xml_event_bytes`, `upload.undecodable`, `upload.bad_archive`; in an archive the detail starts with the file's name), an invalid JSON batch (`results.invalid_batch`, `request.invalid_body`), or the Idempotency-Key was used for another body (`idempotency.key_reused`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 429, description = "This instance is reading `service.max_concurrent_uploads` uploads already (`upload.busy`), or half of them for this project (`upload.project_busy`); retry after `Retry-After`", body = doc::Problem, content_type = "application/problem+json"),
    ),
)]
#[tracing::instrument(
    skip_all,
    fields(project_id = tracing::field::Empty, build_id = %path.1),
    err(level = "info")
)]
pub async fn upload(
    req: HttpRequest,
    ctx: TenantContext,
    db: web::Data<Db>,
    state: web::Data<FailureState>,
    path: web::Path<(String, Uuid)>,
    payload: web::Payload,
) -> Result<HttpResponse, FailureError> {
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
    let idempotency_key = IdempotencyKey::from_request(&req)?;
    let limit = state.settings.max_upload_bytes;
    if header_text(&req, header::CONTENT_LENGTH.as_str())
        .and_then(|length| length.parse::<u64>().ok())
        .is_some_and(|length| length > limit as u64)
    {
        return Err(FailureError::UploadTooLarge {
            limit: limit as u64,
        });
    }
    let upload = Upload {
        build_id,
        format,
        idempotency_key,
        content_type,
        content_encoding,
    };
    match upload::ingest_upload(&state, &db, &ctx, project_id, upload, payload).await? {
        // The results are the build's: its totals count them from now on.
        UploadOutcome::Ingested(summary) => Ok(HttpResponse::Created()
            .insert_header((header::LOCATION, format!("../{}", summary.build_id)))
            .json(summary)),
        UploadOutcome::Replayed(response) => Ok(HttpResponse::Ok()
            .insert_header(("idempotent-replayed", "true"))
            .json(response)),
    }
}
