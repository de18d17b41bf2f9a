//! The analytics service's errors and their problem codes, in one place.
//!
//! Every handler returns `Result<_, AnalyticsError>`; the answer a client
//! sees is [`AnalyticsError::problem`], and only there. A database error
//! whose constraint means something here becomes its own variant in
//! `From<DbError>`; any other stays [`AnalyticsError::Db`] and answers as
//! tenant-core maps it. Refusals tenant-core decides (the caller's role)
//! arrive as a [`Problem`] and are passed on as they are.

use tenant_core::client::ServiceCallError;
use tenant_core::error::FieldProblem;
use tenant_core::{DbError, Problem};

use crate::domain::filters::FilterError;
use tenant_core::outbox::inbox::BatchError;

#[derive(Debug, thiserror::Error)]
pub enum AnalyticsError {
    /// A field of a request that does not hold; `code` says which rule.
    #[error("{field} {message}")]
    Invalid {
        code: &'static str,
        field: String,
        message: String,
    },
    #[error("build not found")]
    BuildNotFound,
    #[error("quality gate rule not found")]
    GateRuleNotFound,
    #[error("a quality gate rule of this name exists")]
    GateRuleNameTaken,
    /// The project in the path is not the one the gateway resolved.
    #[error("the project in the path is not the project of the request")]
    ContextMismatch,
    /// A relayed batch that cannot be kept (nothing of it is).
    #[error(transparent)]
    Batch(#[from] BatchError),
    /// A dashboard filter out of bounds.
    #[error(transparent)]
    Filter(#[from] FilterError),
    /// The project service did not answer (the overview's memberships).
    #[error("the project service failed")]
    Dependency(#[source] ServiceCallError),
    /// A refusal tenant-core decided (the caller's context).
    #[error(transparent)]
    Refused(Problem),
    #[error("database")]
    Db(#[source] DbError),
}

impl AnalyticsError {
    /// A body field that does not hold (`request.invalid_body`).
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::invalid_as("request.invalid_body", field, message)
    }

    /// A field that breaks the rule `code` names.
    pub fn invalid_as(
        code: &'static str,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self::Invalid {
            code,
            field: field.into(),
            message: message.into(),
        }
    }

    /// What a client sees; the cause of a 5xx goes to the log only.
    pub fn problem(&self) -> Problem {
        match self {
            Self::Invalid {
                code,
                field,
                message,
            } => Problem::unprocessable(code, format!("{field} {message}")).with_errors(vec![
                FieldProblem {
                    field: field.clone(),
                    message: message.clone(),
                },
            ]),
            Self::BuildNotFound => {
                Problem::not_found("build.not_found", "no such build in this project")
            }
            Self::GateRuleNotFound => Problem::not_found(
                "quality_gate_rule.not_found",
                "no such quality gate rule in this project",
            ),
            Self::GateRuleNameTaken => Problem::conflict(
                "quality_gate_rule.name_taken",
                "the project has a quality gate rule of this name",
            ),
            Self::ContextMismatch => {
                Problem::bad_request("project.context_mismatch", self.to_string())
            }
            Self::Batch(BatchError::ProjectMismatch) => Problem::bad_request(
                "project.context_mismatch",
                BatchError::ProjectMismatch.to_string(),
            ),
            Self::Batch(BatchError::Invalid(detail)) => {
                Problem::unprocessable("events.invalid_batch", detail.clone())
            }
            Self::Filter(error) => Problem::bad_request(error.code(), error.to_string()),
            Self::Dependency(error) => error.problem(),
            Self::Refused(problem) => problem.clone(),
            Self::Db(error) => error.problem(),
        }
    }
}

tenant_core::problem_response!(AnalyticsError);

/// Constraints that mean something to a client; any other database error
/// answers as tenant-core maps it.
impl From<DbError> for AnalyticsError {
    fn from(db: DbError) -> Self {
        match db.constraint() {
            Some("quality_gate_rules_name_key") if db.is_unique_violation() => {
                Self::GateRuleNameTaken
            }
            _ => Self::Db(db),
        }
    }
}

impl From<Problem> for AnalyticsError {
    fn from(problem: Problem) -> Self {
        Self::Refused(problem)
    }
}
