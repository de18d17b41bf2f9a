//! The integration gateway's errors and their problem codes, in one place.
//!
//! Every handler returns `Result<_, IntegrationError>`; what a client sees
//! is [`IntegrationError::problem`], and only there. Constraint names that
//! mean something here become their own variant in `From<DbError>`.
//! Causes (a sealing failure, a database error) go to the log, never into
//! a 5xx body, and no variant ever carries a secret.

use tenant_core::client::ServiceCallError;
use tenant_core::error::FieldProblem;
use tenant_core::{DbError, Problem};

use crate::domain::connections::InvalidConnection;
use crate::domain::rules::InvalidRule;
use crate::github::GithubError;
use crate::jira::JiraError;
use crate::jira_oauth::OAuthError;
use crate::outbound::TargetRefused;
use crate::sealing::SealingError;
use tenant_core::outbox::inbox::BatchError;

#[derive(Debug, thiserror::Error)]
pub enum IntegrationError {
    #[error("database")]
    Db(#[source] DbError),
    #[error(transparent)]
    Batch(#[from] BatchError),
    /// A refusal tenant-core decided (the caller's context).
    #[error(transparent)]
    Refused(Problem),
    #[error("the path names another project than the request context")]
    ContextMismatch,
    #[error("{field} {message}")]
    Invalid { field: String, message: String },
    /// Fields that are each valid but do not go together.
    #[error("{field} {message}")]
    InvalidCombination {
        field: &'static str,
        message: String,
    },
    #[error("{field}: {reason}")]
    UrlRefused {
        field: &'static str,
        reason: TargetRefused,
    },
    #[error("connection not found")]
    ConnectionNotFound,
    #[error("a connection with this name exists")]
    ConnectionNameTaken,
    #[error("the project has {max} connections already")]
    TooManyConnections { max: i64 },
    #[error("notification rule not found")]
    RuleNotFound,
    #[error("the project has {max} notification rules already")]
    TooManyRules { max: i64 },
    #[error("delivery not found")]
    DeliveryNotFound,
    #[error("the delivery was delivered already")]
    AlreadyDelivered,
    #[error("secrets could not be sealed or opened")]
    Sealing(#[from] SealingError),
    #[error("failure group not found")]
    GroupNotFound,
    #[error("the failure service did not answer")]
    Failure(#[source] ServiceCallError),
    #[error("Jira: {0}")]
    Jira(#[source] JiraError),
    #[error("GitHub: {0}")]
    Github(#[source] GithubError),
    #[error("no Jira OAuth app is configured")]
    OAuthNotConfigured,
    #[error("the authorisation state is {0}")]
    InvalidState(&'static str),
    #[error("Atlassian: {0}")]
    OAuth(#[source] OAuthError),
    #[error("the member has not connected a Jira account")]
    NotConnected,
    #[error("the Jira connection must be authorised again")]
    NeedsReauth,
}

impl From<Problem> for IntegrationError {
    fn from(problem: Problem) -> Self {
        Self::Refused(problem)
    }
}

impl From<DbError> for IntegrationError {
    fn from(error: DbError) -> Self {
        match error.constraint() {
            Some("connections_name_key") => Self::ConnectionNameTaken,
            Some("notification_rules_connection_fkey") => Self::ConnectionNotFound,
            _ => Self::Db(error),
        }
    }
}

impl From<InvalidConnection> for IntegrationError {
    fn from(error: InvalidConnection) -> Self {
        if error.combination {
            Self::InvalidCombination {
                field: error.field,
                message: error.message,
            }
        } else {
            Self::invalid(error.field, error.message)
        }
    }
}

impl From<InvalidRule> for IntegrationError {
    fn from(error: InvalidRule) -> Self {
        Self::invalid(error.field, error.message)
    }
}

impl IntegrationError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }

    /// What a client sees; the cause of a 5xx goes to the log only.
    pub fn problem(&self) -> Problem {
        match self {
            Self::Db(error) => error.problem(),
            Self::Batch(BatchError::ProjectMismatch) | Self::ContextMismatch => {
                Problem::bad_request("project.context_mismatch", self.to_string())
            }
            Self::Batch(BatchError::Invalid(detail)) => {
                Problem::unprocessable("events.invalid_batch", detail.clone())
            }
            Self::Refused(problem) => problem.clone(),
            Self::Invalid { field, message } => {
                Problem::unprocessable("request.invalid_body", format!("{field} {message}"))
                    .with_errors(vec![FieldProblem {
                        field: field.clone(),
                        message: message.clone(),
                    }])
            }
            Self::InvalidCombination { field, message } => Problem::unprocessable(
                "connection.invalid_combination",
                format!("{field} {message}"),
            )
            .with_errors(vec![FieldProblem {
                field: (*field).to_owned(),
                message: message.clone(),
            }]),
            Self::UrlRefused { field, reason } => {
                Problem::unprocessable("connection.url_refused", format!("{field}: {reason}"))
                    .with_errors(vec![FieldProblem {
                        field: (*field).to_owned(),
                        message: reason.to_string(),
                    }])
            }
            Self::ConnectionNotFound => {
                Problem::not_found("connection.not_found", "no such connection in this project")
            }
            Self::ConnectionNameTaken => Problem::conflict(
                "connection.name_taken",
                "the project has a connection with this name",
            ),
            Self::TooManyConnections { .. } => {
                Problem::conflict("connection.too_many", self.to_string())
            }
            Self::RuleNotFound => Problem::not_found(
                "notification_rule.not_found",
                "no such notification rule in this project",
            ),
            Self::TooManyRules { .. } => {
                Problem::conflict("notification_rule.too_many", self.to_string())
            }
            Self::DeliveryNotFound => {
                Problem::not_found("delivery.not_found", "no such delivery in this project")
            }
            Self::AlreadyDelivered => Problem::conflict(
                "delivery.already_delivered",
                "the delivery succeeded; there is nothing to retry",
            ),
            Self::Sealing(error) => Problem::internal_cause(error),
            Self::GroupNotFound => Problem::not_found(
                "failure_group.not_found",
                "no such failure group in this project",
            ),
            Self::Failure(error) => error.problem(),
            Self::Jira(error) => Problem::new(
                actix_web::http::StatusCode::BAD_GATEWAY,
                "jira.failed",
                "Bad gateway",
            )
            .with_cause(error),
            Self::Github(error) => Problem::new(
                actix_web::http::StatusCode::BAD_GATEWAY,
                "github.failed",
                "Bad gateway",
            )
            .with_cause(error),
            Self::OAuthNotConfigured => Problem::conflict(
                "jira_oauth.not_configured",
                "no Jira OAuth app is configured for this installation",
            ),
            Self::InvalidState(why) => Problem::bad_request(
                "oauth.invalid_state",
                format!("the authorisation state is {why}: start again"),
            ),
            Self::OAuth(OAuthError::InvalidGrant(_)) => Problem::bad_request(
                "oauth.exchange_failed",
                "Atlassian refused the authorisation code: start again",
            ),
            Self::OAuth(error) => Problem::new(
                actix_web::http::StatusCode::BAD_GATEWAY,
                "jira.failed",
                "Bad gateway",
            )
            .with_cause(error),
            Self::NotConnected => {
                Problem::conflict("jira.not_connected", "connect your Jira account first")
            }
            Self::NeedsReauth => Problem::conflict(
                "jira.needs_reauth",
                "Jira refused the stored authorisation: connect your Jira account again",
            ),
        }
    }
}

tenant_core::problem_response!(IntegrationError);
