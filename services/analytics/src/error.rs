//! The analytics service's errors and their problem codes, in one place.

use tenant_core::client::ServiceCallError;
use tenant_core::{DbError, Problem};

use crate::domain::events::BatchError;
use crate::domain::filters::FilterError;

#[derive(Debug, thiserror::Error)]
pub enum AnalyticsError {
    #[error(transparent)]
    Db(#[from] DbError),
    /// A relayed batch that cannot be kept (nothing of it is).
    #[error(transparent)]
    Batch(#[from] BatchError),
    /// A dashboard filter out of bounds.
    #[error(transparent)]
    Filter(#[from] FilterError),
    /// The project in the path is not the one the gateway resolved.
    #[error("the project in the path is not the project of the request")]
    ContextMismatch,
    /// The project service did not answer (the overview's memberships).
    #[error("the project service failed")]
    Dependency(#[source] ServiceCallError),
    /// A refusal tenant-core decided (the caller's context).
    #[error(transparent)]
    Refused(Problem),
}

impl From<Problem> for AnalyticsError {
    fn from(problem: Problem) -> Self {
        Self::Refused(problem)
    }
}

impl AnalyticsError {
    /// What a client sees; the cause of a 5xx goes to the log only.
    pub fn problem(&self) -> Problem {
        match self {
            Self::Db(error) => error.problem(),
            Self::Batch(BatchError::ProjectMismatch) => Problem::bad_request(
                "project.context_mismatch",
                BatchError::ProjectMismatch.to_string(),
            ),
            Self::Batch(BatchError::Invalid(detail)) => {
                Problem::unprocessable("events.invalid_batch", detail.clone())
            }
            Self::Filter(error) => Problem::bad_request("filter.invalid", error.to_string()),
            Self::ContextMismatch => {
                Problem::bad_request("project.context_mismatch", self.to_string())
            }
            Self::Dependency(error) => error.problem(),
            Self::Refused(problem) => problem.clone(),
        }
    }
}

tenant_core::problem_response!(AnalyticsError);
