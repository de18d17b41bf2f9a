//! The analytics service's errors and their problem codes, in one place.

use tenant_core::{DbError, Problem};

#[derive(Debug, thiserror::Error)]
pub enum AnalyticsError {
    #[error(transparent)]
    Db(#[from] DbError),
}

impl AnalyticsError {
    /// What a client sees; the cause of a 5xx goes to the log only.
    pub fn problem(&self) -> Problem {
        match self {
            Self::Db(error) => error.problem(),
        }
    }
}

tenant_core::problem_response!(AnalyticsError);
