//! The integration gateway's errors and their problem codes, in one place.

use tenant_core::{DbError, Problem};

use crate::domain::events::BatchError;

#[derive(Debug, thiserror::Error)]
pub enum IntegrationError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Batch(#[from] BatchError),
    /// A refusal tenant-core decided (the caller's context).
    #[error(transparent)]
    Refused(Problem),
}

impl From<Problem> for IntegrationError {
    fn from(problem: Problem) -> Self {
        Self::Refused(problem)
    }
}

impl IntegrationError {
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
            Self::Refused(problem) => problem.clone(),
        }
    }
}

tenant_core::problem_response!(IntegrationError);
