//! The failure service's errors and their problem codes, in one place.
//!
//! Every handler returns `Result<_, FailureError>`; the answer a client
//! sees is [`FailureError::problem`], and only there. A database error
//! whose constraint means something here becomes its own variant in
//! `From<DbError>`; any other stays [`FailureError::Db`] and answers as
//! tenant-core maps it. Refusals tenant-core decides (the caller's role, a
//! page request, an internal route) arrive as a [`Problem`] and are passed
//! on as they are. Causes go to the log, never into a 5xx body.

use actix_web::http::StatusCode;
use tenant_core::error::FieldProblem;
use tenant_core::idempotency::InvalidIdempotencyKey;
use tenant_core::{DbError, Problem};

use crate::junit::JunitError;

#[derive(Debug, thiserror::Error)]
pub enum FailureError {
    #[error("{field} {message}")]
    Invalid { field: String, message: String },
    #[error("build not found")]
    BuildNotFound,
    #[error("a build with this job and external id exists")]
    BuildExists,
    #[error("failure not found")]
    FailureNotFound,
    #[error("test not found")]
    TestNotFound,
    #[error("failure group not found")]
    GroupNotFound,
    #[error("job not found")]
    JobNotFound,
    #[error("comment not found")]
    CommentNotFound,
    #[error("the assignee is not a member of the project")]
    AssigneeNotMember,
    #[error("the project service did not answer")]
    Dependency(#[source] tenant_core::client::ServiceCallError),
    #[error("classification rule not found")]
    RuleNotFound,
    #[error("pattern {0}")]
    InvalidPattern(String),
    #[error("the project has {max} classification rules already")]
    TooManyRules { max: i64 },
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
    InvalidIdempotencyKey(#[from] InvalidIdempotencyKey),
    #[error("the Idempotency-Key was used for a different upload")]
    IdempotencyKeyReused,
    #[error(transparent)]
    Refused(Problem),
    #[error("database")]
    Db(#[source] DbError),
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

    /// What the client is answered.
    pub fn problem(&self) -> Problem {
        match self {
            Self::Invalid { field, message } => {
                Problem::unprocessable("request.invalid_body", format!("{field} {message}"))
                    .with_errors(vec![FieldProblem {
                        field: field.clone(),
                        message: message.clone(),
                    }])
            }
            Self::BuildNotFound => {
                Problem::not_found("build.not_found", "no such build in this project")
            }
            Self::BuildExists => Problem::conflict(
                "build.exists",
                "a build with this job and external id exists",
            ),
            Self::FailureNotFound => {
                Problem::not_found("failure.not_found", "no such failure in this project")
            }
            Self::TestNotFound => {
                Problem::not_found("test.not_found", "no such test in this project")
            }
            Self::GroupNotFound => Problem::not_found(
                "failure_group.not_found",
                "no such failure group in this project",
            ),
            Self::RuleNotFound => Problem::not_found(
                "classification_rule.not_found",
                "no such classification rule in this project",
            ),
            Self::InvalidPattern(message) => Problem::unprocessable(
                "classification_rule.invalid_pattern",
                format!("pattern {message}"),
            )
            .with_errors(vec![FieldProblem {
                field: "pattern".to_owned(),
                message: message.clone(),
            }]),
            Self::TooManyRules { max } => Problem::conflict(
                "classification_rule.too_many",
                format!("a project may have at most {max} classification rules"),
            ),
            Self::JobNotFound => Problem::not_found("job.not_found", "no such job in this project"),
            Self::CommentNotFound => {
                Problem::not_found("comment.not_found", "no such comment on this group")
            }
            Self::AssigneeNotMember => {
                Problem::unprocessable(
                    "group.assignee_not_member",
                    "assignee_id is not a member of this project",
                )
                .with_errors(vec![FieldProblem {
                    field: "assignee_id".to_owned(),
                    message: "is not a member of this project".to_owned(),
                }])
            }
            Self::Dependency(error) => error.problem(),
            Self::ContextMismatch => Problem::bad_request(
                "project.context_mismatch",
                "the project in the path is not the project of the request",
            ),
            Self::UnsupportedMediaType(media) => Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "upload.unsupported_media_type",
                "Unsupported media type",
            )
            .with_detail(format!(
                "`{media}` is not accepted; send application/xml, application/gzip, application/zip or application/json"
            )),
            Self::UploadTooLarge { limit } => {
                too_large(format!("the upload is larger than {limit} bytes"))
            }
            Self::Report(report) => report_problem(report, None),
            Self::ArchiveReport { file, error } => report_problem(error, Some(file)),
            Self::Archive(detail) => Problem::unprocessable("upload.bad_archive", detail.clone()),
            Self::TooManyEntries { max } => Problem::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "upload.too_many_entries",
                "Too many archive entries",
            )
            .with_detail(format!(
                "the archive holds more than {max} entries; upload fewer files at a time"
            )),
            Self::InvalidBatch(detail) => {
                Problem::unprocessable("results.invalid_batch", detail.clone())
            }
            Self::InvalidIdempotencyKey(_) => Problem::bad_request(
                "idempotency.invalid_key",
                "Idempotency-Key must be 1 to 255 visible ASCII characters",
            ),
            Self::IdempotencyKeyReused => Problem::unprocessable(
                "idempotency.key_reused",
                "this Idempotency-Key was used for a different upload to this build",
            ),
            Self::Refused(problem) => problem.clone(),
            Self::Db(db) => db.problem(),
            Self::ParserCrashed => Problem::internal_cause(self),
            Self::UploadStalled { secs } => Problem::new(
                StatusCode::REQUEST_TIMEOUT,
                "upload.stalled",
                "Upload stalled",
            )
            .with_detail(format!("the request body sent nothing for {secs} seconds")),
            Self::UploadTooSlow { min_bytes_per_sec } => Problem::new(
                StatusCode::REQUEST_TIMEOUT,
                "upload.too_slow",
                "Upload too slow",
            )
            .with_detail(format!(
                "the request body arrived at less than {min_bytes_per_sec} bytes a second"
            )),
            Self::UploadsBusy => Problem::new(
                StatusCode::TOO_MANY_REQUESTS,
                "upload.busy",
                "Too many uploads",
            )
            .with_detail("this instance is reading as many uploads as it may; retry shortly")
            .with_retry_after(1),
            Self::ProjectUploadsBusy { max } => Problem::new(
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

tenant_core::problem_response!(FailureError);

/// Constraints that mean something to a client; any other database error
/// answers as tenant-core maps it.
impl From<DbError> for FailureError {
    fn from(db: DbError) -> Self {
        match db.constraint() {
            Some("builds_external_id_key") if db.is_unique_violation() => Self::BuildExists,
            _ => Self::Db(db),
        }
    }
}

impl From<Problem> for FailureError {
    fn from(problem: Problem) -> Self {
        Self::Refused(problem)
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
fn report_problem(report: &JunitError, file: Option<&str>) -> Problem {
    let detail = |text: String| match file {
        Some(file) => format!("`{file}`: {text}"),
        None => text,
    };
    let unreadable = |code: &'static str| Problem::unprocessable(code, detail(report.to_string()));
    match report {
        JunitError::TooLarge { limit } => too_large(detail(format!(
            "the report is larger than {limit} bytes once decompressed"
        ))),
        JunitError::Io(io) => Problem::unprocessable(
            "upload.undecodable",
            detail("the upload could not be decoded (corrupt or truncated compression)".to_owned()),
        )
        .with_cause(io),
        JunitError::Abandoned => Problem::internal_cause(report),
        JunitError::NotJunit(_) => unreadable("junit.not_junit"),
        JunitError::Empty => unreadable("junit.empty"),
        JunitError::DtdRefused { .. } => unreadable("junit.dtd_refused"),
        JunitError::TooDeep { .. } => unreadable("junit.too_deep"),
        JunitError::AttributeTooLong { .. } => unreadable("junit.attribute_too_long"),
        JunitError::TagTooLong { .. } => unreadable("junit.tag_too_long"),
        JunitError::Truncated { .. } => unreadable("junit.truncated"),
        JunitError::Malformed { .. } => unreadable("junit.malformed"),
    }
}
