//! GitHub's REST API, through the SSRF-checked outbound client: issues,
//! the pull requests of a commit, and issue comments (a pull request's
//! conversation). A 429, or a 403 with `Retry-After` (GitHub's secondary
//! rate limit), is waited out up to `service.jira_max_retry_after_secs`,
//! three attempts at most.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

use crate::outbound::{Answer, CallError, OutboundPolicy};

const RATE_LIMITED_ATTEMPTS: u32 = 3;

#[derive(Debug, thiserror::Error)]
pub enum GithubError {
    #[error(transparent)]
    Call(#[from] CallError),
    #[error("GitHub answered {status}: {excerpt}")]
    Status {
        status: StatusCode,
        excerpt: String,
        retry_after: Option<Duration>,
    },
    #[error("GitHub answered something it does not document: {0}")]
    Malformed(&'static str),
}

impl GithubError {
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Call(CallError::Refused(_)) | Self::Malformed(_) => false,
            Self::Call(_) => true,
            Self::Status {
                status,
                retry_after,
                ..
            } => {
                status.is_server_error()
                    || *status == StatusCode::TOO_MANY_REQUESTS
                    || retry_after.is_some()
            }
        }
    }

    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Status { status, .. } => Some(status.as_u16()),
            _ => None,
        }
    }
}

/// One repository, reached with a fine-grained token.
#[derive(Debug)]
pub struct GithubClient<'a> {
    policy: &'a OutboundPolicy,
    repo_url: String,
    token: SecretString,
    max_retry_after: Duration,
}

impl<'a> GithubClient<'a> {
    pub fn new(
        policy: &'a OutboundPolicy,
        api_url: &str,
        owner: &str,
        repo: &str,
        token: SecretString,
        max_retry_after: Duration,
    ) -> Self {
        Self {
            policy,
            repo_url: format!("{}/repos/{owner}/{repo}", api_url.trim_end_matches('/')),
            token,
            max_retry_after,
        }
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Answer, GithubError> {
        let url = format!("{}{path}", self.repo_url);
        let mut attempt = 1;
        loop {
            let headers = vec![
                (
                    "authorization",
                    format!("Bearer {}", self.token.expose_secret()),
                ),
                ("accept", "application/vnd.github+json".to_owned()),
                ("x-github-api-version", "2022-11-28".to_owned()),
                ("user-agent", "faultline-integration-gateway".to_owned()),
                ("content-type", "application/json".to_owned()),
            ];
            let payload = body.map(|b| b.to_string().into_bytes());
            let answer = self
                .policy
                .send(method.clone(), &url, &headers, payload)
                .await?;
            if answer.status.is_success() {
                return Ok(answer);
            }
            let limited = answer.status == StatusCode::TOO_MANY_REQUESTS
                || (answer.status == StatusCode::FORBIDDEN && answer.retry_after.is_some());
            let wait = answer.retry_after.unwrap_or(Duration::from_secs(1));
            if limited && attempt < RATE_LIMITED_ATTEMPTS && wait <= self.max_retry_after {
                tokio::time::sleep(wait).await;
                attempt += 1;
                continue;
            }
            return Err(GithubError::Status {
                status: answer.status,
                excerpt: answer.excerpt(),
                retry_after: answer.retry_after,
            });
        }
    }

    fn json(answer: &Answer, what: &'static str) -> Result<Value, GithubError> {
        answer.json().ok_or(GithubError::Malformed(what))
    }

    /// Opens an issue; its number and page.
    pub async fn create_issue(
        &self,
        title: &str,
        body: &str,
    ) -> Result<(i64, String), GithubError> {
        let request = json!({"title": title, "body": body, "labels": ["faultline"]});
        let answer = self.call(Method::POST, "/issues", Some(&request)).await?;
        let issue = Self::json(&answer, "a created issue that is not JSON")?;
        let number = issue.get("number").and_then(Value::as_i64);
        let url = issue.get("html_url").and_then(Value::as_str);
        match (number, url) {
            (Some(number), Some(url)) => Ok((number, url.to_owned())),
            _ => Err(GithubError::Malformed(
                "a created issue without number or html_url",
            )),
        }
    }

    /// The open pull requests whose head includes `sha`.
    pub async fn open_pulls_of_commit(&self, sha: &str) -> Result<Vec<i64>, GithubError> {
        let answer = self
            .call(Method::GET, &format!("/commits/{sha}/pulls"), None)
            .await?;
        let pulls = Self::json(&answer, "pull requests that are not JSON")?;
        let pulls = pulls
            .as_array()
            .ok_or(GithubError::Malformed("pull requests that are not a list"))?;
        Ok(pulls
            .iter()
            .filter(|p| p.get("state").and_then(Value::as_str) == Some("open"))
            .filter_map(|p| p.get("number").and_then(Value::as_i64))
            .collect())
    }

    /// The id of the first comment of `number` whose body contains `marker`.
    pub async fn find_comment(
        &self,
        number: i64,
        marker: &str,
    ) -> Result<Option<i64>, GithubError> {
        let answer = self
            .call(
                Method::GET,
                &format!("/issues/{number}/comments?per_page=100"),
                None,
            )
            .await?;
        let comments = Self::json(&answer, "comments that are not JSON")?;
        Ok(comments
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| {
                c.get("body")
                    .and_then(Value::as_str)
                    .is_some_and(|b| b.contains(marker))
            })
            .and_then(|c| c.get("id").and_then(Value::as_i64)))
    }

    pub async fn create_comment(&self, number: i64, body: &str) -> Result<i64, GithubError> {
        let answer = self
            .call(
                Method::POST,
                &format!("/issues/{number}/comments"),
                Some(&json!({"body": body})),
            )
            .await?;
        Self::json(&answer, "a comment that is not JSON")?
            .get("id")
            .and_then(Value::as_i64)
            .ok_or(GithubError::Malformed("a comment without an id"))
    }

    /// Replaces a comment's body; false when the comment is gone (404).
    pub async fn update_comment(&self, id: i64, body: &str) -> Result<bool, GithubError> {
        match self
            .call(
                Method::PATCH,
                &format!("/issues/comments/{id}"),
                Some(&json!({"body": body})),
            )
            .await
        {
            Ok(_) => Ok(true),
            Err(GithubError::Status { status, .. }) if status == StatusCode::NOT_FOUND => Ok(false),
            Err(error) => Err(error),
        }
    }
}
