//! One notification sent to Slack or a webhook receiver, and how its
//! answer is judged: delivered, worth another attempt (with the
//! receiver's `Retry-After`), or refused for good.

use std::time::Duration;

use chrono::Utc;
use reqwest::{Method, StatusCode};
use secrecy::ExposeSecret;
use serde_json::json;
use uuid::Uuid;

use crate::domain::connections::ConnectionKind;
use crate::domain::jira::regression_comment;
use crate::domain::messages::{slack_text, webhook_body};
use crate::domain::webhooks::SigningKey;
use crate::jira::JiraClient;
use crate::outbound::{Answer, OutboundPolicy};
use crate::repository::connections::ConnectionForSending;
use crate::repository::deliveries::ClaimedDelivery;
use crate::sealing::DataKey;
use crate::secrets::SecretStore;
use crate::settings::IntegrationSettings;

/// How one attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Delivered {
        status: u16,
    },
    Failed {
        error: String,
        status: Option<u16>,
        retry_after: Option<Duration>,
        /// Another attempt cannot succeed (the receiver refused the
        /// request itself, or the connection is misconfigured): the
        /// delivery is dead-lettered at once.
        permanent: bool,
    },
}

fn failed(error: impl Into<String>, permanent: bool) -> Outcome {
    Outcome::Failed {
        error: error.into(),
        status: None,
        retry_after: None,
        permanent,
    }
}

/// 4xx answers that say the request itself is wrong; timeouts, conflicts,
/// rate limits and 5xx are worth another attempt.
fn is_permanent(status: StatusCode) -> bool {
    status.is_client_error()
        && ![
            StatusCode::REQUEST_TIMEOUT,
            StatusCode::CONFLICT,
            StatusCode::TOO_EARLY,
            StatusCode::TOO_MANY_REQUESTS,
        ]
        .contains(&status)
}

fn judge_status(answer: &Answer) -> Outcome {
    if answer.status.is_success() {
        return Outcome::Delivered {
            status: answer.status.as_u16(),
        };
    }
    Outcome::Failed {
        error: format!("answered {}: {}", answer.status, answer.excerpt()),
        status: Some(answer.status.as_u16()),
        retry_after: answer.retry_after,
        permanent: is_permanent(answer.status),
    }
}

/// Slack's Web API answers 200 with `{"ok": false, "error": ...}` when it
/// refuses a message.
fn judge_slack_api(answer: &Answer) -> Outcome {
    let outcome = judge_status(answer);
    if !matches!(outcome, Outcome::Delivered { .. }) {
        return outcome;
    }
    match answer.json() {
        Some(body) if body.get("ok").and_then(serde_json::Value::as_bool) == Some(true) => outcome,
        Some(body) => {
            let error = body
                .get("error")
                .and_then(|e| e.as_str())
                .unwrap_or("unknown");
            let permanent = !matches!(
                error,
                "ratelimited"
                    | "internal_error"
                    | "service_unavailable"
                    | "fatal_error"
                    | "request_timeout"
            );
            Outcome::Failed {
                error: format!("Slack refused the message: {error}"),
                status: Some(answer.status.as_u16()),
                retry_after: answer.retry_after,
                permanent,
            }
        }
        None => failed("Slack answered something that is not JSON", false),
    }
}

/// Sends `delivery`'s event through `connection`, opening its secrets with
/// the project's `key`.
pub async fn send(
    policy: &OutboundPolicy,
    settings: &IntegrationSettings,
    project_id: Uuid,
    key: &DataKey,
    connection: &ConnectionForSending,
    delivery: &ClaimedDelivery,
) -> Outcome {
    let secret =
        |field: &str| SecretStore::open(key, project_id, connection.id, &connection.secrets, field);
    let post = |url: String, headers: Vec<(&'static str, String)>, body: Vec<u8>| async move {
        policy.send(Method::POST, &url, &headers, Some(body)).await
    };
    let json_header = ("content-type", "application/json".to_owned());
    match connection.kind {
        ConnectionKind::Slack => {
            let text = slack_text(&delivery.kind, &delivery.payload);
            if let Ok(Some(url)) = secret("webhook_url") {
                let body = json!({"text": text}).to_string().into_bytes();
                return match post(url.expose_secret().to_owned(), vec![json_header], body).await {
                    Ok(answer) => judge_status(&answer),
                    Err(error) => failed(error.to_string(), false),
                };
            }
            let (Ok(Some(token)), Some(channel)) = (
                secret("bot_token"),
                connection.settings.get("channel").and_then(|c| c.as_str()),
            ) else {
                return failed("the connection's Slack credentials cannot be opened", true);
            };
            let body = json!({"channel": channel, "text": text})
                .to_string()
                .into_bytes();
            let headers = vec![
                json_header,
                ("authorization", format!("Bearer {}", token.expose_secret())),
            ];
            let url = format!(
                "{}/chat.postMessage",
                settings.slack_api_url.trim_end_matches('/')
            );
            match post(url, headers, body).await {
                Ok(answer) => judge_slack_api(&answer),
                Err(error) => failed(error.to_string(), false),
            }
        }
        ConnectionKind::Webhook => {
            let (Ok(Some(secret)), Some(url)) = (
                secret("signing_secret"),
                connection.settings.get("url").and_then(|u| u.as_str()),
            ) else {
                return failed("the connection's signing secret cannot be opened", true);
            };
            let Ok(signing) = SigningKey::parse(secret.expose_secret()) else {
                return failed("the connection's signing secret is malformed", true);
            };
            let body = webhook_body(
                delivery.event_id,
                &delivery.kind,
                delivery.occurred_at,
                &delivery.payload,
            )
            .to_string()
            .into_bytes();
            let id = delivery.event_id.to_string();
            let timestamp = Utc::now().timestamp();
            let headers = vec![
                json_header,
                ("webhook-signature", signing.sign(&id, timestamp, &body)),
                ("webhook-id", id),
                ("webhook-timestamp", timestamp.to_string()),
            ];
            match post(url.to_owned(), headers, body).await {
                Ok(answer) => judge_status(&answer),
                Err(error) => failed(error.to_string(), false),
            }
        }
        ConnectionKind::Jira => {
            comment_on_jira(policy, settings, project_id, key, connection, delivery).await
        }
        ConnectionKind::Github => failed(
            "notifications go through Slack or webhook connections",
            true,
        ),
    }
}

/// A regressed group's comment on its Jira issue.
async fn comment_on_jira(
    policy: &OutboundPolicy,
    settings: &IntegrationSettings,
    project_id: Uuid,
    key: &DataKey,
    connection: &ConnectionForSending,
    delivery: &ClaimedDelivery,
) -> Outcome {
    let (Some(issue), "group.regressed") = (&delivery.issue_key, delivery.kind.as_str()) else {
        return failed(
            "Jira connections only comment on a regressed group's issue",
            true,
        );
    };
    let token = SecretStore::open(
        key,
        project_id,
        connection.id,
        &connection.secrets,
        "api_token",
    );
    let (Ok(Some(token)), Some(site), Some(email)) = (
        token,
        connection.settings.get("site_url").and_then(|v| v.as_str()),
        connection.settings.get("email").and_then(|v| v.as_str()),
    ) else {
        return failed("the connection's Jira credentials cannot be opened", true);
    };
    let group = delivery
        .payload
        .get("group_id")
        .and_then(|g| g.as_str())
        .unwrap_or("");
    let link = group_link(&settings.web_url, project_id, group);
    let build = delivery.payload.get("build_id").and_then(|b| b.as_str());
    let client = JiraClient::new(
        policy,
        site,
        email,
        &token,
        Duration::from_secs(settings.jira_max_retry_after_secs),
    );
    match client
        .add_comment(issue, &regression_comment(build, &link))
        .await
    {
        Ok(()) => Outcome::Delivered { status: 201 },
        Err(error) => Outcome::Failed {
            permanent: !error.is_transient(),
            status: error.status(),
            retry_after: error.retry_after(),
            error: error.to_string(),
        },
    }
}

/// The dashboard's page of a failure group.
pub fn group_link(web_url: &str, project_id: Uuid, group_id: &str) -> String {
    format!(
        "{}/projects/{project_id}/failures/{group_id}",
        web_url.trim_end_matches('/')
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, body: &str) -> Answer {
        Answer {
            status: StatusCode::from_u16(status).unwrap(),
            retry_after: Some(Duration::from_secs(3)),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn client_errors_are_permanent_except_timeouts_conflicts_and_rate_limits() {
        assert!(matches!(
            judge_status(&answer(204, "")),
            Outcome::Delivered { status: 204 }
        ));
        for (status, permanent) in [
            (400, true),
            (404, true),
            (410, true),
            (408, false),
            (429, false),
            (500, false),
            (503, false),
        ] {
            let Outcome::Failed {
                permanent: p,
                retry_after,
                ..
            } = judge_status(&answer(status, ""))
            else {
                panic!("{status} delivered");
            };
            assert_eq!(p, permanent, "{status}");
            assert_eq!(retry_after, Some(Duration::from_secs(3)));
        }
    }

    #[test]
    fn slack_api_refusals_in_a_200_are_failures() {
        assert!(matches!(
            judge_slack_api(&answer(200, r#"{"ok":true}"#)),
            Outcome::Delivered { .. }
        ));
        assert!(matches!(
            judge_slack_api(&answer(200, r#"{"ok":false,"error":"channel_not_found"}"#)),
            Outcome::Failed {
                permanent: true,
                ..
            }
        ));
        assert!(matches!(
            judge_slack_api(&answer(200, r#"{"ok":false,"error":"ratelimited"}"#)),
            Outcome::Failed {
                permanent: false,
                ..
            }
        ));
        assert!(matches!(
            judge_slack_api(&answer(200, "<html>")),
            Outcome::Failed {
                permanent: false,
                ..
            }
        ));
    }
}
