//! The failure service's errors and their problem codes, in one place.

use actix_web::http::StatusCode;
use tenant_core::error::FieldProblem;
use tenant_core::{DbError, Problem};

use crate::junit::JunitError;

#[derive(Debug, thiserror::Error)]
pub enum FailureError {
    #[error("{field} {message}")]
    Invalid { field: String, message: String },
    #[error("build not found")]
    BuildNotFound,
    #[error("failure not found")]
    FailureNotFound,
    #[error("test not found")]
    TestNotFound,
    #[error("the path names another project than the request context")]
    ContextMismatch,
    #[error("unsupported media type: {0}")]
    UnsupportedMediaType(String),
    #[error("the upload is larger than {limit} bytes")]
    UploadTooLarge { limit: u64 },
    #[error("the report could not be read: {0}")]
    Report(#[from] JunitError),
    /// A report inside a zip archive could not be read.
    #[error("`{file}` could not be read: {error}")]
    ArchiveReport { file: String, error: JunitError },
    #[error("the archive could not be read: {0}")]
    Archive(String),
    #[error("the archive holds more than {max} entries")]
    TooManyEntries { max: u64 },
    #[error("the JSON batch is invalid: {0}")]
    InvalidBatch(String),
    #[error("invalid Idempotency-Key")]
    InvalidIdempotencyKey,
    #[error("the Idempotency-Key was used for a different upload")]
    IdempotencyKeyReused,
    #[error(transparent)]
    Context(#[from] Problem),
    #[error("database")]
    Db(#[from] DbError),
    #[error("the parser stopped unexpectedly")]
    ParserCrashed,
    #[error("the upload sent nothing for {secs} s")]
    UploadStalled { secs: u64 },
    #[error("the upload arrived at less than {min_bytes_per_sec} bytes/s")]
    UploadTooSlow { min_bytes_per_sec: u64 },
    #[error("too many uploads in progress")]
    UploadsBusy,
    #[error("too many uploads in progress for this project")]
    ProjectUploadsBusy { max: usize },
}

impl FailureError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }
}

fn too_large(detail: String) -> Problem {
    Problem::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "upload.too_large",
        "Payload too large",
    )
    .with_detail(detail)
}

/// The problem for a report that could not be read; `file` names the
/// archive entry it came from, if any.
fn report_problem(report: JunitError, file: Option<&str>) -> Problem {
    let detail = |text: String| match file {
        Some(file) => format!("`{file}`: {text}"),
        None => text,
    };
    let unreadable = |code: &'static str, report: &JunitError| {
        Problem::unprocessable(code, detail(report.to_string()))
    };
    match report {
        JunitError::TooLarge { limit } => too_large(detail(format!(
            "the report is larger than {limit} bytes once decompressed"
        ))),
        JunitError::Io(io) => Problem::unprocessable(
            "upload.undecodable",
            detail("the upload could not be decoded (corrupt or truncated compression)".to_owned()),
        )
        .with_source(io),
        JunitError::Abandoned => Problem::internal(FailureError::ParserCrashed),
        report @ JunitError::NotJunit(_) => unreadable("junit.not_junit", &report),
        report @ JunitError::Empty => unreadable("junit.empty", &report),
        report @ JunitError::DtdRefused { .. } => unreadable("junit.dtd_refused", &report),
        report @ JunitError::TooDeep { .. } => unreadable("junit.too_deep", &report),
        report @ JunitError::AttributeTooLong { .. } => {
            unreadable("junit.attribute_too_long", &report)
        }
        report @ JunitError::TagTooLong { .. } => unreadable("junit.tag_too_long", &report),
        report @ JunitError::Truncated { .. } => unreadable("junit.truncated", &report),
        report @ JunitError::Malformed { .. } => unreadable("junit.malformed", &report),
    }
}

impl From<FailureError> for Problem {
    fn from(error: FailureError) -> Self {
        match error {
            FailureError::Invalid { field, message } => {
                Problem::unprocessable("request.invalid_body", format!("{field} {message}"))
                    .with_errors(vec![FieldProblem { field, message }])
            }
            FailureError::BuildNotFound => {
                Problem::not_found("build.not_found", "no such build in this project")
            }
            FailureError::FailureNotFound => {
                Problem::not_found("failure.not_found", "no such failure in this project")
            }
            FailureError::TestNotFound => {
                Problem::not_found("test.not_found", "no such test in this project")
            }
            FailureError::ContextMismatch => Problem::bad_request(
                "project.context_mismatch",
                "the project in the path is not the project of the request",
            ),
            FailureError::UnsupportedMediaType(media) => Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "upload.unsupported_media_type",
                "Unsupported media type",
            )
            .with_detail(format!(
                "`{media}` is not accepted; send application/xml, application/gzip, application/zip or application/json"
            )),
            FailureError::UploadTooLarge { limit } => {
                too_large(format!("the upload is larger than {limit} bytes"))
            }
            FailureError::Report(report) => report_problem(report, None),
            FailureError::ArchiveReport { file, error } => report_problem(error, Some(&file)),
            FailureError::Archive(detail) => Problem::unprocessable("upload.bad_archive", detail),
            FailureError::TooManyEntries { max } => Problem::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "upload.too_many_entries",
                "Too many archive entries",
            )
            .with_detail(format!(
                "the archive holds more than {max} entries; upload fewer files at a time"
            )),
            FailureError::InvalidBatch(detail) => {
                Problem::unprocessable("results.invalid_batch", detail)
            }
            FailureError::InvalidIdempotencyKey => Problem::bad_request(
                "idempotency.invalid_key",
                "Idempotency-Key must be 1 to 255 visible ASCII characters",
            ),
            FailureError::IdempotencyKeyReused => Problem::unprocessable(
                "idempotency.key_reused",
                "this Idempotency-Key was used for a different upload to this build",
            ),
            FailureError::Context(problem) => problem,
            FailureError::Db(db) if db.is_unique_violation() => match db.constraint() {
                Some("builds_external_id_key") => Problem::conflict(
                    "build.exists",
                    "a build with this job and external id exists",
                ),
                _ => Problem::from(db),
            },
            FailureError::Db(db) => Problem::from(db),
            FailureError::ParserCrashed => Problem::internal(FailureError::ParserCrashed),
            FailureError::UploadStalled { secs } => Problem::new(
                StatusCode::REQUEST_TIMEOUT,
                "upload.stalled",
                "Upload stalled",
            )
            .with_detail(format!("the request body sent nothing for {secs} seconds")),
            FailureError::UploadTooSlow { min_bytes_per_sec } => Problem::new(
                StatusCode::REQUEST_TIMEOUT,
                "upload.too_slow",
                "Upload too slow",
            )
            .with_detail(format!(
                "the request body arrived at less than {min_bytes_per_sec} bytes a second"
            )),
            FailureError::UploadsBusy => Problem::new(
                StatusCode::TOO_MANY_REQUESTS,
                "upload.busy",
                "Too many uploads",
            )
            .with_detail("this instance is reading as many uploads as it may; retry shortly")
            .with_retry_after(1),
            FailureError::ProjectUploadsBusy { max } => Problem::new(
                StatusCode::TOO_MANY_REQUESTS,
                "upload.project_busy",
                "Too many uploads for this project",
            )
            .with_detail(format!(
                "this instance is reading {max} uploads for this project already, as many as one project may; retry when one has finished"
            ))
            .with_retry_after(1),
        }
    }
}
