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
    #[error("the archive could not be read: {0}")]
    Archive(String),
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
    #[error("too many uploads in progress")]
    UploadsBusy,
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
            FailureError::Report(JunitError::TooLarge { limit }) => too_large(format!(
                "the report is larger than {limit} bytes once decompressed"
            )),
            FailureError::Report(JunitError::Io(io)) => Problem::unprocessable(
                "upload.undecodable",
                "the upload could not be decoded (corrupt or truncated compression)",
            )
            .with_source(io),
            FailureError::Report(JunitError::Abandoned) => {
                Problem::internal(FailureError::ParserCrashed)
            }
            FailureError::Report(report @ JunitError::NotJunit(_)) => {
                Problem::unprocessable("junit.not_junit", report.to_string())
            }
            FailureError::Report(report @ JunitError::Empty) => {
                Problem::unprocessable("junit.empty", report.to_string())
            }
            FailureError::Report(report @ JunitError::DtdRefused { .. }) => {
                Problem::unprocessable("junit.dtd_refused", report.to_string())
            }
            FailureError::Report(report @ JunitError::TooDeep { .. }) => {
                Problem::unprocessable("junit.too_deep", report.to_string())
            }
            FailureError::Report(report @ JunitError::AttributeTooLong { .. }) => {
                Problem::unprocessable("junit.attribute_too_long", report.to_string())
            }
            FailureError::Report(report @ JunitError::Malformed { .. }) => {
                Problem::unprocessable("junit.malformed", report.to_string())
            }
            FailureError::Archive(detail) => Problem::unprocessable("upload.bad_archive", detail),
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
            FailureError::UploadsBusy => Problem::new(
                StatusCode::TOO_MANY_REQUESTS,
                "upload.busy",
                "Too many uploads",
            )
            .with_detail("this instance is reading as many uploads as it may; retry shortly")
            .with_retry_after(1),
        }
    }
}
