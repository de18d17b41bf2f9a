//! Errors as RFC 9457 problem documents.
//!
//! Policy:
//! - Every error a client sees is `application/problem+json` with a stable,
//!   dotted `code` (`project.slug_taken`) that clients may match on, and the
//!   `request_id` to quote in a support request. `title` and `detail` are for
//!   humans and may change.
//! - Each service has one error enum; it converts into [`Problem`] in one
//!   place. Handlers never build responses for errors themselves.
//! - 5xx bodies never carry internals: the detail is replaced by a generic
//!   sentence and the full cause chain goes to the log instead.
//! - Errors actix produces on its own (bad JSON, bad path or query, body too
//!   large, unknown route, wrong method) are rewritten into problems too, so
//!   clients only ever parse one error shape.

use std::borrow::Cow;
use std::fmt;

use actix_web::body::MessageBody;
use actix_web::dev::ServiceResponse;
use actix_web::error::{JsonPayloadError, PathError, PayloadError, QueryPayloadError};
use actix_web::http::StatusCode;
use actix_web::http::{ConnectionType, header};
use actix_web::middleware::ErrorHandlerResponse;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use serde::Serialize;

use crate::telemetry::current_request_id;

pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";

/// An RFC 9457 problem, ready to be sent. Boxed, so `Result<T, Problem>`
/// stays one pointer wide on the happy path.
#[derive(Debug)]
pub struct Problem {
    inner: Box<ProblemFields>,
}

#[derive(Debug, Serialize)]
struct ProblemFields {
    #[serde(rename = "type")]
    type_uri: String,
    title: Cow<'static, str>,
    status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
    code: Cow<'static, str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<String>,
    /// Field-level problems for validation errors.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    errors: Vec<FieldProblem>,
    #[serde(skip)]
    retry_after_secs: Option<u64>,
    #[serde(skip)]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

/// One invalid field in a request body or query.
#[derive(Debug, Clone, Serialize)]
pub struct FieldProblem {
    pub field: String,
    pub message: String,
}

impl Problem {
    pub fn new(
        status: StatusCode,
        code: impl Into<Cow<'static, str>>,
        title: impl Into<Cow<'static, str>>,
    ) -> Self {
        let code = code.into();
        let fields = ProblemFields {
            type_uri: format!("urn:faultline:problem:{code}"),
            title: title.into(),
            status: status.as_u16(),
            detail: None,
            code,
            request_id: None,
            errors: Vec::new(),
            retry_after_secs: None,
            source: None,
        };
        Self {
            inner: Box::new(fields),
        }
    }

    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.inner.detail = Some(detail.into());
        self
    }

    pub fn with_errors(mut self, errors: Vec<FieldProblem>) -> Self {
        self.inner.errors = errors;
        self
    }

    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.inner.retry_after_secs = Some(seconds);
        self
    }

    /// Keeps the underlying error for the log; it never reaches the client.
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.inner.source = Some(Box::new(source));
        self
    }

    pub fn code(&self) -> &str {
        &self.inner.code
    }

    pub fn title(&self) -> &str {
        &self.inner.title
    }

    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.inner.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    pub fn detail(&self) -> Option<&str> {
        self.inner.detail.as_deref()
    }

    /// Keeps a borrowed error's message and causes for the log, as
    /// [`Problem::with_source`] does for an owned one: what a service
    /// error's `fn problem(&self)` uses.
    pub fn with_cause(self, error: &(dyn std::error::Error + 'static)) -> Self {
        self.with_source(LoggedCause(error_chain(error)))
    }

    /// 500 with nothing of the borrowed `error` in the body.
    pub fn internal_cause(error: &(dyn std::error::Error + 'static)) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal server error",
        )
        .with_cause(error)
    }

    /// 500 with nothing of the cause in the body.
    pub fn internal(source: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal server error",
        )
        .with_source(source)
    }

    /// 503 the client may retry after a moment.
    pub fn unavailable(code: &'static str, retry_after_secs: u64) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            code,
            "Service temporarily unavailable",
        )
        .with_retry_after(retry_after_secs)
    }

    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, "Bad request").with_detail(detail)
    }

    pub fn unauthorized(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, "Unauthorized").with_detail(detail)
    }

    pub fn forbidden(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code, "Forbidden").with_detail(detail)
    }

    pub fn not_found(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, "Not found").with_detail(detail)
    }

    pub fn conflict(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, "Conflict").with_detail(detail)
    }

    pub fn unprocessable(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            code,
            "Unprocessable content",
        )
        .with_detail(detail)
    }

    fn log(&self) {
        let chain = self
            .inner
            .source
            .as_deref()
            .map(|source| error_chain(source as &(dyn std::error::Error + 'static)));
        if self.inner.status >= 500 {
            tracing::error!(code = %self.inner.code, status = self.inner.status, error.chain = chain.as_deref(), "request failed");
        } else {
            tracing::info!(code = %self.inner.code, status = self.inner.status, error.chain = chain.as_deref(), "request rejected");
        }
    }

    /// The body as sent, with the request id filled in and internals removed.
    fn to_body(&self) -> Vec<u8> {
        // 503 details say why to retry (draining, database down); every
        // other 5xx detail could leak internals and is replaced.
        let public_detail = if self.inner.status >= 500 && self.inner.status != 503 {
            Some("The server could not complete the request. Quote the request_id when reporting it.".to_owned())
        } else {
            self.inner.detail.clone()
        };
        let body = PublicProblem {
            type_uri: &self.inner.type_uri,
            title: &self.inner.title,
            status: self.inner.status,
            detail: public_detail.as_deref(),
            code: &self.inner.code,
            request_id: self.inner.request_id.clone().or_else(current_request_id),
            errors: &self.inner.errors,
        };
        serde_json::to_vec(&body).unwrap_or_else(|_| b"{}".to_vec())
    }
}

#[derive(Serialize)]
struct PublicProblem<'a> {
    #[serde(rename = "type")]
    type_uri: &'a str,
    title: &'a str,
    status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<&'a str>,
    code: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<String>,
    #[serde(skip_serializing_if = "<[FieldProblem]>::is_empty")]
    errors: &'a [FieldProblem],
}

/// A copy answers exactly as the original; the original's cause is kept
/// for the log as its message chain. Service errors that hold a problem
/// (a refusal from a tenant-core extractor) hand out copies from their
/// `fn problem(&self)`.
impl Clone for Problem {
    fn clone(&self) -> Self {
        let inner = &self.inner;
        let fields = ProblemFields {
            type_uri: inner.type_uri.clone(),
            title: inner.title.clone(),
            status: inner.status,
            detail: inner.detail.clone(),
            code: inner.code.clone(),
            request_id: inner.request_id.clone(),
            errors: inner.errors.clone(),
            retry_after_secs: inner.retry_after_secs,
            source: inner.source.as_deref().map(
                |source| -> Box<dyn std::error::Error + Send + Sync> {
                    Box::new(LoggedCause(error_chain(source)))
                },
            ),
        };
        Self {
            inner: Box::new(fields),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.inner.title, self.inner.code)?;
        if let Some(detail) = &self.inner.detail {
            write!(f, ": {detail}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Problem {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.inner
            .source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl ResponseError for Problem {
    fn status_code(&self) -> StatusCode {
        self.status()
    }

    fn error_response(&self) -> HttpResponse {
        self.log();
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header((header::CONTENT_TYPE, PROBLEM_CONTENT_TYPE));
        response.insert_header((header::CACHE_CONTROL, "no-store"));
        if let Some(seconds) = self.inner.retry_after_secs {
            response.insert_header((header::RETRY_AFTER, seconds.to_string()));
        }
        response.body(self.to_body())
    }
}

/// Implements `actix_web::ResponseError` for a service's error enum
/// through its one `fn problem(&self) -> Problem`, so that function is the
/// only place the enum's variants become answers:
/// `tenant_core::problem_response!(FailureError);` beside the enum.
#[macro_export]
macro_rules! problem_response {
    ($error:ty) => {
        impl ::actix_web::ResponseError for $error {
            fn status_code(&self) -> ::actix_web::http::StatusCode {
                self.problem().status()
            }

            fn error_response(&self) -> ::actix_web::HttpResponse {
                ::actix_web::ResponseError::error_response(&self.problem())
            }
        }
    };
}

/// An error's message and causes, captured when the error is only borrowed.
#[derive(Debug)]
struct LoggedCause(String);

impl fmt::Display for LoggedCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for LoggedCause {}

/// Renders an error and all its causes on one line for the log.
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        source = cause.source();
    }
    out
}

/// JSON body extraction whose failures are problems.
pub fn json_config(limit_bytes: usize) -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(limit_bytes)
        .error_handler(|error, _req| json_problem(&error).into())
}

fn json_problem(error: &JsonPayloadError) -> Problem {
    match error {
        JsonPayloadError::OverflowKnownLength { length, limit } => Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "request.body_too_large",
            "Payload too large",
        )
        .with_detail(format!(
            "the body has {length} bytes; at most {limit} are accepted"
        )),
        JsonPayloadError::Overflow { limit } => Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "request.body_too_large",
            "Payload too large",
        )
        .with_detail(format!("at most {limit} bytes are accepted")),
        JsonPayloadError::ContentType => Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "request.unsupported_media_type",
            "Unsupported media type",
        )
        .with_detail("send the body as application/json"),
        JsonPayloadError::Deserialize(error) if error.is_data() => {
            Problem::unprocessable("request.invalid_body", error.to_string())
        }
        JsonPayloadError::Deserialize(error) => {
            Problem::bad_request("request.malformed_json", error.to_string())
        }
        JsonPayloadError::Payload(PayloadError::Overflow) => Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "request.body_too_large",
            "Payload too large",
        ),
        other => Problem::bad_request("request.unreadable_body", other.to_string()),
    }
}

/// Path extraction whose failures are problems.
pub fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|error, _req| {
        let detail = match &error {
            PathError::Deserialize(error) => error.to_string(),
            other => other.to_string(),
        };
        Problem::bad_request("request.invalid_path", detail).into()
    })
}

/// Query-string extraction whose failures are problems.
pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|error, _req| {
        let detail = match &error {
            QueryPayloadError::Deserialize(error) => error.to_string(),
            other => other.to_string(),
        };
        Problem::bad_request("request.invalid_query", detail).into()
    })
}

/// Raw body extraction (`Bytes`, `String`) whose size failures are problems.
pub fn payload_config(limit_bytes: usize) -> web::PayloadConfig {
    web::PayloadConfig::new(limit_bytes)
}

/// The fallback for paths no route matches.
pub async fn route_not_found(req: HttpRequest) -> Result<HttpResponse, Problem> {
    Err(Problem::not_found(
        "route.not_found",
        format!("no route for {} {}", req.method(), req.path()),
    ))
}

/// Rewrites any error response that is not already a problem (actix's own
/// 405, 413 from payload limits, ...) or an HTML error page into a
/// problem, keeping the status.
///
/// An error to a request with a body also closes the connection: most are
/// answered before the body is read, and actix closes such a connection
/// once the rest of the body arrives, without saying so; a client that
/// reuses connections (the gateway's pool) would send its next request
/// into one that is closing.
pub fn problemize_error_response<B: MessageBody + 'static>(
    mut response: ServiceResponse<B>,
) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let is_error = response.status().is_client_error() || response.status().is_server_error();
    let close = is_error && has_body(response.request());
    if close {
        response
            .response_mut()
            .head_mut()
            .set_connection_type(ConnectionType::Close);
    }
    // A problem, or an HTML error page (the web dashboard's), already says
    // what went wrong.
    let explained = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|value| {
            value.as_bytes() == PROBLEM_CONTENT_TYPE.as_bytes()
                || value.as_bytes().starts_with(b"text/html")
        });
    if explained || !is_error {
        return Ok(ErrorHandlerResponse::Response(
            response.map_into_left_body(),
        ));
    }
    let status = response.status();
    let allow = response.headers().get(header::ALLOW).cloned();
    let (request, _) = response.into_parts();
    let problem = Problem::new(
        status,
        generic_code(status),
        status.canonical_reason().unwrap_or("Error"),
    );
    let mut rewritten = problem.error_response();
    if let Some(allow) = allow {
        rewritten.headers_mut().insert(header::ALLOW, allow);
    }
    if close {
        rewritten
            .head_mut()
            .set_connection_type(ConnectionType::Close);
    }
    Ok(ErrorHandlerResponse::Response(
        ServiceResponse::new(request, rewritten).map_into_right_body(),
    ))
}

/// Whether the request declared a body.
fn has_body(req: &HttpRequest) -> bool {
    let headers = req.headers();
    headers.contains_key(header::TRANSFER_ENCODING)
        || headers
            .get(header::CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|length| length.trim() != "0")
}

fn generic_code(status: StatusCode) -> Cow<'static, str> {
    match status {
        StatusCode::NOT_FOUND => "route.not_found".into(),
        StatusCode::METHOD_NOT_ALLOWED => "route.method_not_allowed".into(),
        StatusCode::PAYLOAD_TOO_LARGE => "request.body_too_large".into(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "request.unsupported_media_type".into(),
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => "request.headers_too_large".into(),
        status if status.is_server_error() => "internal".into(),
        status => format!("http.{}", status.as_u16()).into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_copy_answers_like_the_original_and_keeps_the_cause_for_the_log() {
        let original = Problem::unavailable("database.busy", 3)
            .with_detail("try again")
            .with_errors(vec![FieldProblem {
                field: "name".to_owned(),
                message: "is empty".to_owned(),
            }])
            .with_source(std::io::Error::other("lock timeout"));
        let copy = original.clone();
        assert_eq!(copy.to_body(), original.to_body());
        assert_eq!(copy.status(), original.status());
        assert_eq!(copy.title(), original.title());
        assert_eq!(copy.inner.retry_after_secs, Some(3));
        let cause = std::error::Error::source(&copy).map(ToString::to_string);
        assert_eq!(cause.as_deref(), Some("lock timeout"));
    }
}
