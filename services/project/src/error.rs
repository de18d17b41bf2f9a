//! The project service's errors and their one mapping to problems.
//!
//! Every variant has a stable `code`. Constraint names map to domain errors
//! here and nowhere else (`projects_slug_key` -> `project.slug_taken`).
//! A caller who is not a member of a project gets exactly the problem a
//! nonexistent project gives, so membership never leaks existence.

use tenant_core::client::ServiceCallError;
use tenant_core::{DbError, Problem, Role};

use crate::domain::Invalid;

#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    /// No such project, a deleted one, or one the caller is not a member of.
    #[error("no project with this id or slug")]
    NotFound,
    #[error("the slug is taken")]
    SlugTaken,
    #[error("this operation needs the {needed} role or higher")]
    RoleTooLow { needed: Role },
    #[error("only owners grant, change or remove the owner role")]
    OwnerRequired,
    #[error("a project needs at least one owner")]
    LastOwner,
    #[error("the project is archived; restore it first")]
    Archived,
    #[error("the user is not a member of this project")]
    MemberNotFound,
    #[error("the user is already a member of this project")]
    AlreadyMember,
    #[error("no user has this email address")]
    UnknownUser,
    #[error("the user is disabled")]
    UserDisabled,
    #[error("{0}")]
    InvalidInput(#[from] Invalid),
    #[error("{0}")]
    InvalidIdempotencyKey(Invalid),
    #[error("this Idempotency-Key was used for a different request")]
    IdempotencyKeyReused,
    #[error("the project created with this Idempotency-Key is no longer available")]
    IdempotentResultGone,
    /// Another create with the same key committed first; the caller
    /// replays its result instead of failing.
    #[error("a create with this Idempotency-Key is already done")]
    IdempotencyRace,
    #[error("the request's project context names another project than its path")]
    ContextMismatch,
    #[error("no access: not a member, or the project is not available")]
    NoAccess,
    #[error("{0}")]
    InvalidAccessQuery(&'static str),
    #[error("a stored value is not one this build knows: {0}")]
    CorruptRow(String),
    #[error("database error")]
    Database(#[source] DbError),
    #[error("the auth service did not answer as expected")]
    Auth(#[source] ServiceCallError),
    /// A problem from tenant-core (missing user, platform admin required).
    #[error("{0}")]
    Problem(Problem),
}

impl From<DbError> for ProjectError {
    fn from(error: DbError) -> Self {
        match error.constraint() {
            Some("projects_slug_key") => Self::SlugTaken,
            Some("projects_idempotency_key") => Self::IdempotencyRace,
            Some("memberships_pkey") if error.is_unique_violation() => Self::AlreadyMember,
            _ => Self::Database(error),
        }
    }
}

impl From<Problem> for ProjectError {
    fn from(problem: Problem) -> Self {
        Self::Problem(problem)
    }
}

impl From<ProjectError> for Problem {
    fn from(error: ProjectError) -> Self {
        let detail = error.to_string();
        match error {
            ProjectError::NotFound => Problem::not_found("project.not_found", detail),
            ProjectError::SlugTaken => Problem::conflict("project.slug_taken", detail),
            ProjectError::RoleTooLow { .. } => Problem::forbidden("project.role_too_low", detail),
            ProjectError::OwnerRequired => Problem::forbidden("membership.owner_required", detail),
            ProjectError::LastOwner => Problem::conflict("project.last_owner", detail),
            ProjectError::Archived => Problem::conflict("project.archived", detail),
            ProjectError::MemberNotFound => Problem::not_found("membership.not_found", detail),
            ProjectError::AlreadyMember => Problem::conflict("membership.exists", detail),
            ProjectError::UnknownUser => Problem::unprocessable("membership.unknown_user", detail),
            ProjectError::UserDisabled => {
                Problem::unprocessable("membership.user_disabled", detail)
            }
            ProjectError::InvalidInput(_) => Problem::unprocessable("request.invalid_body", detail),
            ProjectError::InvalidIdempotencyKey(_) => {
                Problem::bad_request("idempotency.invalid_key", detail)
            }
            ProjectError::IdempotencyKeyReused => {
                Problem::unprocessable("idempotency.key_reused", detail)
            }
            ProjectError::IdempotentResultGone | ProjectError::IdempotencyRace => {
                Problem::conflict("idempotency.result_gone", detail)
            }
            ProjectError::ContextMismatch => {
                Problem::bad_request("project.context_mismatch", detail)
            }
            ProjectError::NoAccess => Problem::not_found("access.not_found", detail),
            ProjectError::InvalidAccessQuery(_) => {
                Problem::bad_request("access.invalid_query", detail)
            }
            ProjectError::CorruptRow(_) => Problem::internal(error),
            ProjectError::Database(source) => source.into(),
            ProjectError::Auth(source) => source.into(),
            ProjectError::Problem(problem) => problem,
        }
    }
}
