//! Jira Cloud's REST API v3, through the SSRF-checked outbound client:
//! create an issue, read its status, add a comment. A 429 with
//! `Retry-After` is waited out (up to `service.jira_max_retry_after_secs`,
//! three times at most); any other answer outside 2xx, or a body that is
//! not what Jira documents, is an error naming the status, never the
//! credentials.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

use crate::outbound::{Answer, CallError, OutboundPolicy};

/// Attempts of one call when Jira keeps answering 429.
const RATE_LIMITED_ATTEMPTS: u32 = 3;

#[derive(Debug, thiserror::Error)]
pub enum JiraError {
    #[error(transparent)]
    Call(#[from] CallError),
    #[error("Jira answered {status}: {excerpt}")]
    Status {
        status: StatusCode,
        excerpt: String,
        retry_after: Option<Duration>,
    },
    #[error("Jira answered something it does not document: {0}")]
    Malformed(&'static str),
}

impl JiraError {
    /// Whether another attempt later may succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Call(CallError::Refused(_)) | Self::Malformed(_) => false,
            Self::Call(_) => true,
            Self::Status { status, .. } => {
                status.is_server_error() || *status == StatusCode::TOO_MANY_REQUESTS
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

/// An issue Jira created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedIssue {
    pub key: String,
    /// The issue's page (`<site>/browse/<key>`).
    pub url: String,
}

/// One Jira site, reached with an account's e-mail and API token.
#[derive(Debug)]
pub struct JiraClient<'a> {
    policy: &'a OutboundPolicy,
    site_url: String,
    authorization: SecretString,
    max_retry_after: Duration,
}

impl<'a> JiraClient<'a> {
    pub fn new(
        policy: &'a OutboundPolicy,
        site_url: &str,
        email: &str,
        api_token: &SecretString,
        max_retry_after: Duration,
    ) -> Self {
        let basic = STANDARD.encode(format!("{email}:{}", api_token.expose_secret()));
        Self {
            policy,
            site_url: site_url.trim_end_matches('/').to_owned(),
            authorization: SecretString::from(format!("Basic {basic}")),
            max_retry_after,
        }
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Answer, JiraError> {
        let url = format!("{}{path}", self.site_url);
        let mut attempt = 1;
        loop {
            let headers = vec![
                (
                    "authorization",
                    self.authorization.expose_secret().to_owned(),
                ),
                ("accept", "application/json".to_owned()),
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
            let wait = answer.retry_after.unwrap_or(Duration::from_secs(1));
            if answer.status == StatusCode::TOO_MANY_REQUESTS
                && attempt < RATE_LIMITED_ATTEMPTS
                && wait <= self.max_retry_after
            {
                tracing::info!(
                    wait_ms = wait.as_millis() as u64,
                    "Jira rate limited the call; waiting"
                );
                tokio::time::sleep(wait).await;
                attempt += 1;
                continue;
            }
            return Err(JiraError::Status {
                status: answer.status,
                excerpt: answer.excerpt(),
                retry_after: answer.retry_after,
            });
        }
    }

    /// Creates a Bug in `project_key` (`POST /rest/api/3/issue`).
    pub async fn create_issue(
        &self,
        project_key: &str,
        summary: &str,
        description: &Value,
    ) -> Result<CreatedIssue, JiraError> {
        let body = json!({
            "fields": {
                "project": {"key": project_key},
                "issuetype": {"name": "Bug"},
                "summary": summary,
                "description": description,
                "labels": ["faultline"],
            }
        });
        let answer = self
            .call(Method::POST, "/rest/api/3/issue", Some(&body))
            .await?;
        let created = answer
            .json()
            .ok_or(JiraError::Malformed("a created issue that is not JSON"))?;
        let key = created
            .get("key")
            .and_then(Value::as_str)
            .filter(|key| key.len() <= 100 && key.contains('-'))
            .ok_or(JiraError::Malformed("a created issue without a key"))?;
        Ok(CreatedIssue {
            key: key.to_owned(),
            url: format!("{}/browse/{key}", self.site_url),
        })
    }

    /// The issue's status name and whether it is done
    /// (`GET /rest/api/3/issue/{key}?fields=status`).
    pub async fn issue_status(&self, key: &str) -> Result<(String, bool), JiraError> {
        let answer = self
            .call(
                Method::GET,
                &format!("/rest/api/3/issue/{key}?fields=status"),
                None,
            )
            .await?;
        let issue = answer
            .json()
            .ok_or(JiraError::Malformed("an issue that is not JSON"))?;
        let name = issue
            .pointer("/fields/status/name")
            .and_then(Value::as_str)
            .ok_or(JiraError::Malformed("an issue without a status"))?;
        Ok((
            name.chars().take(100).collect(),
            crate::domain::jira::is_done(&issue),
        ))
    }

    /// Adds a comment (`POST /rest/api/3/issue/{key}/comment`).
    pub async fn add_comment(&self, key: &str, body: &Value) -> Result<(), JiraError> {
        self.call(
            Method::POST,
            &format!("/rest/api/3/issue/{key}/comment"),
            Some(&json!({"body": body})),
        )
        .await?;
        Ok(())
    }
}
