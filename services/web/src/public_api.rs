//! The public API through the gateway, called as any client calls it:
//! `Authorization: Bearer` with the session's access token, refreshed when
//! it is due or refused.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::WebState;
use crate::domain::sessions::{Session, Tokens};
use crate::error::WebError;
use crate::settings::WebSettings;

/// A client of the gateway's `/api`.
#[derive(Debug)]
pub struct PublicApi {
    http: reqwest::Client,
    base: String,
}

/// An answer of the API: its status and JSON body (`null` when empty).
#[derive(Debug)]
pub struct ApiReply {
    pub status: StatusCode,
    pub body: Value,
}

impl ApiReply {
    /// The `detail` of a problem answer, for the page that shows it.
    pub fn detail(&self) -> String {
        self.body["detail"]
            .as_str()
            .or_else(|| self.body["title"].as_str())
            .unwrap_or("the request was refused")
            .to_owned()
    }
}

impl PublicApi {
    pub fn new(settings: &WebSettings) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_millis(settings.api_timeout_ms))
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self {
            http,
            base: settings.gateway_url.trim_end_matches('/').to_owned(),
        })
    }

    /// Sends one request to `/api{path}`, on behalf of the browser whose
    /// client chain is `forwarded_for`.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
        forwarded_for: Option<&str>,
    ) -> Result<ApiReply, WebError> {
        let mut request = self
            .http
            .request(method, format!("{}/api{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(chain) = forwarded_for {
            request = request.header("x-forwarded-for", chain);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(WebError::ApiUnreachable)?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(WebError::ApiUnreachable)?;
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or(Value::Null)
        };
        Ok(ApiReply { status, body })
    }

    /// Signs in: the session's tokens, or the API's refusal.
    pub async fn log_in(
        &self,
        email: &str,
        password: &str,
        forwarded_for: Option<&str>,
    ) -> Result<Result<Tokens, ApiReply>, WebError> {
        let reply = self
            .send(
                Method::POST,
                "/v1/auth/login",
                None,
                Some(&json!({ "email": email, "password": password })),
                forwarded_for,
            )
            .await?;
        Ok(tokens_of(reply))
    }

    /// A new token pair for the refresh token (the old one is rotated out).
    pub async fn refresh(
        &self,
        refresh_token: &str,
        forwarded_for: Option<&str>,
    ) -> Result<Result<Tokens, ApiReply>, WebError> {
        let reply = self
            .send(
                Method::POST,
                "/v1/auth/refresh",
                None,
                Some(&json!({ "refresh_token": refresh_token })),
                forwarded_for,
            )
            .await?;
        Ok(tokens_of(reply))
    }
}

fn tokens_of(reply: ApiReply) -> Result<Tokens, ApiReply> {
    if reply.status != StatusCode::OK {
        return Err(reply);
    }
    match (
        reply.body["access_token"].as_str(),
        reply.body["refresh_token"].as_str(),
    ) {
        (Some(access), Some(refresh)) => Ok(Tokens::new(
            access.to_owned(),
            refresh.to_owned(),
            reply.body["expires_in"].as_u64().unwrap_or(60),
        )),
        _ => Err(reply),
    }
}

impl WebState {
    /// Calls the API as the session's user: refreshes the access token
    /// when it is due, and once more when the API refuses it. A session
    /// whose refresh fails is ended: the user signs in again.
    pub async fn call(
        &self,
        session: &Session,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<ApiReply, WebError> {
        let mut tokens = session.tokens.clone();
        if tokens.due_for_refresh(self.settings.refresh_margin()) {
            tokens = self.refreshed(session).await?;
        }
        let chain = session.forwarded_for.as_deref();
        let reply = self
            .api
            .send(
                method.clone(),
                path,
                Some(&tokens.access_token),
                body,
                chain,
            )
            .await?;
        if reply.status != StatusCode::UNAUTHORIZED {
            return Ok(reply);
        }
        let tokens = self.refreshed(session).await?;
        self.api
            .send(method, path, Some(&tokens.access_token), body, chain)
            .await
    }

    async fn refreshed(&self, session: &Session) -> Result<Tokens, WebError> {
        let chain = session.forwarded_for.as_deref();
        match self
            .api
            .refresh(&session.tokens.refresh_token, chain)
            .await?
        {
            Ok(tokens) => {
                self.sessions.update_tokens(session, &tokens).await?;
                Ok(tokens)
            }
            Err(_) => {
                self.sessions.end(&session.id).await?;
                Err(WebError::SignInRequired)
            }
        }
    }

    /// Calls the API and expects `ok`; a project the user cannot see is
    /// the same "not found" as one that does not exist.
    pub async fn expect(
        &self,
        session: &Session,
        method: Method,
        path: &str,
        body: Option<&Value>,
        ok: StatusCode,
    ) -> Result<Value, WebError> {
        let reply = self.call(session, method, path, body).await?;
        if reply.status == ok || (ok == StatusCode::OK && reply.status.is_success()) {
            return Ok(reply.body);
        }
        Err(WebError::from_reply(reply))
    }

    /// A GET that must answer 200.
    pub async fn get(&self, session: &Session, path: impl AsRef<str>) -> Result<Value, WebError> {
        self.expect(session, Method::GET, path.as_ref(), None, StatusCode::OK)
            .await
    }
}
