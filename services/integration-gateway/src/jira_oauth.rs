//! Atlassian's OAuth 2.0 token endpoint and API gateway, through the
//! SSRF-checked outbound client: exchanging an authorisation code (with
//! the PKCE verifier), rotating a refresh token, the sites a token may
//! reach, and the searches made with a member's own token.

use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

use crate::outbound::{CallError, OutboundPolicy};
use crate::settings::IntegrationSettings;

#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    #[error(transparent)]
    Call(#[from] CallError),
    /// The grant (code, verifier or refresh token) was refused for good:
    /// the member must authorise again.
    #[error("the authorisation server refused the grant: {0}")]
    InvalidGrant(String),
    #[error("Atlassian answered {0}")]
    Status(StatusCode),
    #[error("Atlassian answered something it does not document: {0}")]
    Malformed(&'static str),
}

/// Tokens as the token endpoint gives them.
#[derive(Debug)]
pub struct Tokens {
    pub access_token: SecretString,
    pub refresh_token: SecretString,
    pub expires_in_secs: i64,
}

/// A Jira site a token reaches.
#[derive(Debug, Clone)]
pub struct Site {
    pub cloud_id: String,
    pub url: String,
}

/// The token endpoint and API gateway of the configured 3LO app.
#[derive(Debug)]
pub struct AtlassianClient<'a> {
    policy: &'a OutboundPolicy,
    settings: &'a IntegrationSettings,
}

impl<'a> AtlassianClient<'a> {
    pub fn new(policy: &'a OutboundPolicy, settings: &'a IntegrationSettings) -> Self {
        Self { policy, settings }
    }

    async fn token_request(&self, mut body: Value) -> Result<Tokens, OAuthError> {
        body["client_id"] = json!(self.settings.jira_oauth_client_id);
        if let Some(secret) = &self.settings.jira_oauth_client_secret {
            body["client_secret"] = json!(secret.expose_secret());
        }
        let answer = self
            .policy
            .send(
                Method::POST,
                &self.settings.jira_oauth_token_url,
                &[("content-type", "application/json".to_owned())],
                Some(body.to_string().into_bytes()),
            )
            .await?;
        let parsed = answer.json();
        if !answer.status.is_success() {
            let error = parsed
                .as_ref()
                .and_then(|b| b.get("error"))
                .and_then(Value::as_str)
                .unwrap_or_default();
            if answer.status.is_client_error()
                && (error == "invalid_grant" || error == "invalid_request")
            {
                return Err(OAuthError::InvalidGrant(error.to_owned()));
            }
            return Err(OAuthError::Status(answer.status));
        }
        let parsed = parsed.ok_or(OAuthError::Malformed("a token answer that is not JSON"))?;
        let text = |key: &str| parsed.get(key).and_then(Value::as_str).map(str::to_owned);
        let (Some(access), Some(refresh)) = (text("access_token"), text("refresh_token")) else {
            return Err(OAuthError::Malformed("a token answer without both tokens"));
        };
        Ok(Tokens {
            access_token: SecretString::from(access),
            refresh_token: SecretString::from(refresh),
            expires_in_secs: parsed
                .get("expires_in")
                .and_then(Value::as_i64)
                .unwrap_or(0),
        })
    }

    /// Exchanges an authorisation code, proving the flow with `verifier`.
    pub async fn exchange_code(&self, code: &str, verifier: &str) -> Result<Tokens, OAuthError> {
        self.token_request(json!({
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.settings.jira_oauth_redirect_uri,
            "code_verifier": verifier,
        }))
        .await
    }

    /// Rotates `refresh_token`: a new access token and a new refresh token
    /// (the old one is spent).
    pub async fn refresh(&self, refresh_token: &SecretString) -> Result<Tokens, OAuthError> {
        self.token_request(json!({
            "grant_type": "refresh_token",
            "refresh_token": refresh_token.expose_secret(),
        }))
        .await
    }

    async fn get(&self, url: &str, access_token: &SecretString) -> Result<Value, OAuthError> {
        let headers = [
            (
                "authorization",
                format!("Bearer {}", access_token.expose_secret()),
            ),
            ("accept", "application/json".to_owned()),
        ];
        let answer = self.policy.send(Method::GET, url, &headers, None).await?;
        if answer.status == StatusCode::UNAUTHORIZED {
            return Err(OAuthError::InvalidGrant(
                "the access token was refused".to_owned(),
            ));
        }
        if !answer.status.is_success() {
            return Err(OAuthError::Status(answer.status));
        }
        answer
            .json()
            .ok_or(OAuthError::Malformed("an answer that is not JSON"))
    }

    /// The first Jira site the token reaches.
    pub async fn first_site(&self, access_token: &SecretString) -> Result<Site, OAuthError> {
        let url = format!(
            "{}/oauth/token/accessible-resources",
            self.settings.jira_api_url.trim_end_matches('/')
        );
        let sites = self.get(&url, access_token).await?;
        let site = sites
            .as_array()
            .and_then(|s| s.first())
            .ok_or(OAuthError::Malformed("no accessible Jira site"))?;
        let text = |key: &str| site.get(key).and_then(Value::as_str).map(str::to_owned);
        match (text("id"), text("url")) {
            (Some(cloud_id), Some(url)) => Ok(Site { cloud_id, url }),
            _ => Err(OAuthError::Malformed("a site without id or url")),
        }
    }

    /// The issues assigned to the token's user: `(key, summary, status)`.
    pub async fn my_issues(
        &self,
        cloud_id: &str,
        access_token: &SecretString,
    ) -> Result<Vec<(String, String, String)>, OAuthError> {
        let url = format!(
            "{}/ex/jira/{cloud_id}/rest/api/3/search?jql=assignee%3DcurrentUser()&fields=summary,status&maxResults=100",
            self.settings.jira_api_url.trim_end_matches('/')
        );
        let found = self.get(&url, access_token).await?;
        Ok(found
            .get("issues")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|issue| {
                let key = issue.get("key")?.as_str()?;
                let summary = issue
                    .pointer("/fields/summary")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                let status = issue
                    .pointer("/fields/status/name")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                Some((
                    key.chars().take(100).collect(),
                    summary.chars().take(500).collect(),
                    status.chars().take(100).collect(),
                ))
            })
            .collect())
    }
}
