//! A project's connections to third parties, as an admin describes them:
//! what is public (shown back) and what is secret (sealed, write-only).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;
use uuid::Uuid;

use super::webhooks::SigningKey;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionKind {
    Slack,
    Webhook,
    Github,
    Jira,
}

impl ConnectionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Slack => "slack",
            Self::Webhook => "webhook",
            Self::Github => "github",
            Self::Jira => "jira",
        }
    }
}

impl fmt::Display for ConnectionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ConnectionKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "slack" => Ok(Self::Slack),
            "webhook" => Ok(Self::Webhook),
            "github" => Ok(Self::Github),
            "jira" => Ok(Self::Jira),
            other => Err(format!("unknown connection kind `{other}`")),
        }
    }
}

/// A connection to create, as the API takes it: `kind` says which fields
/// apply. Secret fields are never shown back.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum NewConnection {
    /// An incoming webhook URL (secret), or a bot token (secret) and a
    /// channel id.
    Slack {
        /// 1 to 100 characters, unique in the project.
        name: String,
        #[schema(value_type = Option<String>)]
        webhook_url: Option<SecretString>,
        /// `xoxb-...`
        #[schema(value_type = Option<String>)]
        bot_token: Option<SecretString>,
        channel: Option<String>,
    },
    /// A receiver of signed webhooks (Standard Webhooks).
    Webhook {
        name: String,
        url: String,
        /// `whsec_` + base64 of 24 to 64 random bytes.
        #[schema(value_type = String)]
        signing_secret: SecretString,
    },
    /// A repository, reached with a fine-grained token.
    Github {
        name: String,
        #[schema(value_type = String)]
        token: SecretString,
        owner: String,
        repo: String,
    },
    /// A Jira Cloud site, reached with an account's API token.
    Jira {
        name: String,
        site_url: String,
        email: String,
        #[schema(value_type = String)]
        api_token: SecretString,
        /// The Jira project issues are created in (`ABC`).
        project_key: String,
    },
}

/// A connection checked and split into what is stored in the clear and
/// what is sealed.
#[derive(Debug)]
pub struct ConnectionDraft {
    pub kind: ConnectionKind,
    pub name: String,
    pub settings: Value,
    pub secrets: Vec<(&'static str, SecretString)>,
    /// URLs the service will call, to check against SSRF before storing.
    pub urls: Vec<String>,
}

/// Why a connection is refused: the field and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} {message}")]
pub struct InvalidConnection {
    pub field: &'static str,
    pub message: String,
}

fn invalid(field: &'static str, message: impl Into<String>) -> InvalidConnection {
    InvalidConnection {
        field,
        message: message.into(),
    }
}

fn name(name: String) -> Result<String, InvalidConnection> {
    let name = name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(invalid(
            "name",
            "must be 1 to 100 characters, no control characters",
        ));
    }
    Ok(name)
}

fn token(field: &'static str, value: SecretString) -> Result<SecretString, InvalidConnection> {
    let text = value.expose_secret();
    if text.trim().is_empty() || text.len() > 1000 || text.chars().any(char::is_whitespace) {
        return Err(invalid(
            field,
            "must be 1 to 1000 characters without spaces",
        ));
    }
    Ok(value)
}

fn identifier(field: &'static str, value: &str, max: usize) -> Result<String, InvalidConnection> {
    let ok = !value.is_empty()
        && value.len() <= max
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if !ok {
        return Err(invalid(
            field,
            format!("must be 1 to {max} letters, digits, `-`, `_` or `.`"),
        ));
    }
    Ok(value.to_owned())
}

impl NewConnection {
    pub fn parse(self) -> Result<ConnectionDraft, InvalidConnection> {
        match self {
            Self::Slack {
                name: given,
                webhook_url,
                bot_token,
                channel,
            } => {
                let name = name(given)?;
                match (webhook_url, bot_token, channel) {
                    (Some(url), None, None) => Ok(ConnectionDraft {
                        kind: ConnectionKind::Slack,
                        name,
                        settings: json!({"mode": "webhook"}),
                        urls: vec![url.expose_secret().to_owned()],
                        secrets: vec![("webhook_url", token("webhook_url", url)?)],
                    }),
                    (None, Some(bot), Some(channel)) => Ok(ConnectionDraft {
                        kind: ConnectionKind::Slack,
                        name,
                        settings: json!({"mode": "bot", "channel": identifier("channel", &channel, 80)?}),
                        urls: Vec::new(),
                        secrets: vec![("bot_token", token("bot_token", bot)?)],
                    }),
                    _ => Err(invalid(
                        "webhook_url",
                        "give either webhook_url, or bot_token and channel",
                    )),
                }
            }
            Self::Webhook {
                name: given,
                url,
                signing_secret,
            } => {
                SigningKey::parse(signing_secret.expose_secret())
                    .map_err(|e| invalid("signing_secret", e.to_string()))?;
                Ok(ConnectionDraft {
                    kind: ConnectionKind::Webhook,
                    name: name(given)?,
                    settings: json!({"url": url}),
                    urls: vec![url],
                    secrets: vec![("signing_secret", signing_secret)],
                })
            }
            Self::Github {
                name: given,
                token: secret,
                owner,
                repo,
            } => Ok(ConnectionDraft {
                kind: ConnectionKind::Github,
                name: name(given)?,
                settings: json!({
                    "owner": identifier("owner", &owner, 100)?,
                    "repo": identifier("repo", &repo, 100)?,
                }),
                urls: Vec::new(),
                secrets: vec![("token", token("token", secret)?)],
            }),
            Self::Jira {
                name: given,
                site_url,
                email,
                api_token,
                project_key,
            } => {
                let email = email.trim().to_owned();
                if !email.contains('@') || email.len() > 254 {
                    return Err(invalid("email", "must be an e-mail address"));
                }
                let key_ok = (2..=10).contains(&project_key.len())
                    && project_key.starts_with(|c: char| c.is_ascii_uppercase())
                    && project_key
                        .bytes()
                        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
                if !key_ok {
                    return Err(invalid(
                        "project_key",
                        "must be 2 to 10 uppercase letters, digits or `_`, starting with a letter",
                    ));
                }
                let site_url = site_url.trim_end_matches('/').to_owned();
                Ok(ConnectionDraft {
                    kind: ConnectionKind::Jira,
                    name: name(given)?,
                    settings: json!({"site_url": site_url, "email": email, "project_key": project_key}),
                    urls: vec![site_url],
                    secrets: vec![("api_token", token("api_token", api_token)?)],
                })
            }
        }
    }
}

/// What the API shows of a secret: that it is set, and at most its last
/// four characters (none of a secret shorter than 16).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SecretStatus {
    pub configured: bool,
    pub last_four: Option<String>,
}

/// The last four characters of `secret`, if it is long enough that they
/// give nothing away.
pub fn last_four(secret: &SecretString) -> Option<String> {
    let chars: Vec<char> = secret.expose_secret().chars().collect();
    (chars.len() >= 16).then(|| chars[chars.len() - 4..].iter().collect())
}

/// A connection as the API shows it: settings, and of each secret only
/// its [`SecretStatus`].
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ConnectionView {
    pub id: Uuid,
    pub name: String,
    pub kind: ConnectionKind,
    /// `active`, or `needs_reauth` when the third party refused its
    /// credentials for good.
    pub status: String,
    /// The public part: `mode` and `channel` (Slack), `url` (webhook),
    /// `owner`/`repo` (GitHub), `site_url`/`email`/`project_key` (Jira).
    #[schema(value_type = Object)]
    pub settings: Value,
    pub secrets: BTreeMap<String, SecretStatus>,
    /// Open while its deliveries are held back after repeated failures.
    pub circuit_open_until: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slack(body: Value) -> Result<ConnectionDraft, InvalidConnection> {
        serde_json::from_value::<NewConnection>(body)
            .unwrap()
            .parse()
    }

    #[test]
    fn a_slack_connection_takes_a_webhook_url_or_a_bot_token_and_channel() {
        let hook = slack(json!({"kind": "slack", "name": "alerts", "webhook_url": "https://hooks.slack.com/services/T0/B0/XXXX"})).unwrap();
        assert_eq!(hook.secrets[0].0, "webhook_url");
        assert_eq!(hook.settings, json!({"mode": "webhook"}));
        let bot = slack(
            json!({"kind": "slack", "name": "alerts", "bot_token": "xoxb-1-2", "channel": "C0123"}),
        )
        .unwrap();
        assert_eq!(bot.settings["channel"], "C0123");
        assert!(slack(json!({"kind": "slack", "name": "alerts"})).is_err());
        assert!(slack(json!({"kind": "slack", "name": "alerts", "bot_token": "xoxb-1"})).is_err());
        assert!(slack(json!({"kind": "slack", "name": " ", "webhook_url": "https://x"})).is_err());
    }

    #[test]
    fn only_long_secrets_show_their_last_four_characters() {
        assert_eq!(
            last_four(&SecretString::from("github_pat_0123456789abcd")),
            Some("abcd".to_owned())
        );
        assert_eq!(last_four(&SecretString::from("short-token")), None);
    }
}
