//! The HTTP client every command uses: the API key as bearer, and retries
//! with backoff on what a later attempt can fix (a connection that failed,
//! 429, 5xx), honouring `Retry-After`. Only requests that are safe to
//! repeat go through it: reads, builds (created or found by job and
//! external id), finishing a build, and uploads with an `Idempotency-Key`.

use std::time::Duration;

use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::config::Connection;
use crate::error::CliError;
use crate::output::count;

/// How often and how patiently a request is retried.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub attempts: u32,
    /// The wait before the second attempt; it doubles after each.
    pub first_delay: Duration,
    /// The longest wait between attempts, `Retry-After` included.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 6,
            first_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(60),
        }
    }
}

/// A request body.
#[derive(Debug, Clone)]
pub enum Body {
    Empty,
    Json(serde_json::Value),
    Bytes {
        content_type: &'static str,
        bytes: Vec<u8>,
    },
}

/// A problem answer's useful fields (RFC 9457).
#[derive(Debug, Default, Deserialize)]
pub struct Problem {
    pub code: Option<String>,
    pub title: Option<String>,
    pub detail: Option<String>,
}

impl Problem {
    /// `detail` (else `title`) and the code, for one line of message.
    pub fn describe(&self) -> String {
        let text = self
            .detail
            .as_deref()
            .or(self.title.as_deref())
            .unwrap_or("no detail");
        match &self.code {
            Some(code) => format!("{text} ({code})"),
            None => text.to_owned(),
        }
    }
}

/// An answer, read whole.
#[derive(Debug)]
pub struct ApiResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl ApiResponse {
    pub fn problem(&self) -> Problem {
        serde_json::from_slice(&self.body).unwrap_or_default()
    }

    pub fn json<T: DeserializeOwned>(&self, what: &str) -> Result<T, CliError> {
        serde_json::from_slice(&self.body).map_err(|error| {
            CliError::Server(format!(
                "{what}: the server's answer is not what was expected: {error}"
            ))
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

#[derive(Debug)]
pub struct ApiClient {
    http: reqwest::Client,
    pub connection: Connection,
    retry: RetryPolicy,
}

impl ApiClient {
    pub fn new(connection: Connection, retry: RetryPolicy) -> Result<Self, CliError> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("faultline-cli/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(600))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|error| CliError::Usage(format!("cannot make an HTTP client: {error}")))?;
        Ok(Self {
            http,
            connection,
            retry,
        })
    }

    /// `/api/v{version}/projects/{project}{rest}` on the server.
    pub fn project_url(&self, version: u8, rest: &str) -> String {
        format!(
            "{}/api/v{version}/projects/{}{rest}",
            self.connection.url, self.connection.project
        )
    }

    /// Sends a request, retrying connection failures, 429 and 5xx; the
    /// last answer is returned whatever its status.
    pub async fn send(
        &self,
        method: Method,
        url: &str,
        body: &Body,
        headers: &[(&str, &str)],
    ) -> Result<ApiResponse, CliError> {
        let mut delay = self.retry.first_delay;
        let mut attempt = 1;
        loop {
            let last = attempt >= self.retry.attempts;
            let wait = match self.attempt(method.clone(), url, body, headers).await {
                Ok(response) => {
                    let retryable = response.status == StatusCode::TOO_MANY_REQUESTS
                        || response.status.is_server_error();
                    if !retryable || last {
                        return Ok(response);
                    }
                    retry_after(&response.headers).map_or(delay, |after| after.max(delay))
                }
                Err(error) if error.is_builder() => {
                    return Err(CliError::Usage(format!(
                        "cannot make a request to {url}: {}",
                        error_chain(&error)
                    )));
                }
                Err(error) => {
                    if last {
                        return Err(CliError::Unreachable {
                            url: self.connection.url.clone(),
                            source_of_url: self.connection.url_source.clone(),
                            reason: format!(
                                "{} (after {})",
                                error_chain(&error),
                                count(attempt, "attempt")
                            ),
                        });
                    }
                    delay
                }
            };
            tokio::time::sleep(wait.min(self.retry.max_delay)).await;
            delay = (delay * 2).min(self.retry.max_delay);
            attempt += 1;
        }
    }

    async fn attempt(
        &self,
        method: Method,
        url: &str,
        body: &Body,
        headers: &[(&str, &str)],
    ) -> Result<ApiResponse, reqwest::Error> {
        let mut request = self
            .http
            .request(method, url)
            .bearer_auth(self.connection.api_key.expose());
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request = match body {
            Body::Empty => request,
            Body::Json(value) => request.json(value),
            Body::Bytes {
                content_type,
                bytes,
            } => request
                .header(reqwest::header::CONTENT_TYPE, *content_type)
                .body(bytes.clone()),
        };
        let response = request.send().await?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.bytes().await?.to_vec();
        Ok(ApiResponse {
            status,
            headers,
            body,
        })
    }

    /// [`ApiClient::send`], then any answer but a success is an error
    /// that says what was being done (`what`).
    pub async fn call(
        &self,
        method: Method,
        url: &str,
        body: &Body,
        headers: &[(&str, &str)],
        what: &str,
    ) -> Result<ApiResponse, CliError> {
        let response = self.send(method, url, body, headers).await?;
        if response.status.is_success() {
            return Ok(response);
        }
        Err(self.refusal(&response, what))
    }

    /// The error a refused request becomes.
    pub fn refusal(&self, response: &ApiResponse, what: &str) -> CliError {
        let problem = response.problem();
        let status = response.status;
        match status {
            StatusCode::UNAUTHORIZED => CliError::Credentials(format!(
                "{} (check FAULTLINE_API_KEY: a project API key, `flt_...`, not revoked or expired)",
                problem.describe()
            )),
            StatusCode::FORBIDDEN => CliError::Credentials(format!(
                "the API key may not {what}: {}",
                problem.describe()
            )),
            StatusCode::NOT_FOUND if problem.code.as_deref() == Some("project.not_found") => {
                CliError::Credentials(format!(
                    "the project `{}` does not exist or the API key does not belong to it ({})",
                    self.connection.project,
                    problem.code.as_deref().unwrap_or_default()
                ))
            }
            _ => {
                let retried = if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error()
                {
                    format!(" after {}", count(self.retry.attempts, "attempt"))
                } else {
                    String::new()
                };
                CliError::Server(format!(
                    "{what}: the server answered {}{retried}: {}",
                    status.as_u16(),
                    problem.describe()
                ))
            }
        }
    }
}

/// `Retry-After` as seconds or as an HTTP date.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let date = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let wait = date.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(wait.to_std().unwrap_or(Duration::ZERO))
}

/// An error and its causes on one line.
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(7)));
        headers.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&headers), Some(Duration::ZERO), "a date passed");
        headers.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&headers), None);
    }
}
