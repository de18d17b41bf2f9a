//! The project service's errors and their one mapping to problems.
//!
//! Every variant has a stable `code`, given in [`ProjectError::problem`] and
//! nowhere else. Constraint names map to domain errors in the one
//! `From<DbError>` (`projects_slug_key` -> `project.slug_taken`). A caller
//! who is not a member of a project gets exactly the problem a nonexistent
//! project gives, so membership never leaks existence.

use tenant_core::client::ServiceCallError;
use tenant_core::idempotency::InvalidIdempotencyKey;
use tenant_core::{DbError, Problem};

use crate::domain::{Invalid, Refusal};

#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    /// No such project, a deleted one, or one the caller is not a member of.
    #[error("no project with this id or slug")]
    NotFound,
    #[error("the slug is taken")]
    SlugTaken,
    /// A membership rule forbids the change.
    #[error(transparent)]
    Refused(#[from] Refusal),
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
    #[error("name: at most 100 characters")]
    NameFilterTooLong,
    #[error(transparent)]
    InvalidIdempotencyKey(#[from] InvalidIdempotencyKey),
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
    #[error("give `user`, or `api_key_project` with `role`, and `project`")]
    AmbiguousAccessQuery,
    #[error("`after` cannot be negative")]
    NegativeFeedPosition,
    #[error("a stored value is not one this build knows: {0}")]
    CorruptRow(String),
    #[error("database error")]
    Db(#[source] DbError),
    #[error("the auth service did not answer as expected")]
    Auth(#[source] ServiceCallError),
    /// A refusal of tenant-core's (no user, not a platform admin, not a
    /// service, a bad page request), passed on as it was raised.
    #[error("{0}")]
    Context(#[from] Problem),
}

impl From<DbError> for ProjectError {
    fn from(error: DbError) -> Self {
        match error.constraint() {
            Some("projects_slug_key") => Self::SlugTaken,
            Some("projects_idempotency_key") => Self::IdempotencyRace,
            Some("memberships_pkey") if error.is_unique_violation() => Self::AlreadyMember,
            _ => Self::Db(error),
        }
    }
}

impl ProjectError {
    /// What the client sees; causes go to the log only.
    pub fn problem(&self) -> Problem {
        let detail = self.to_string();
        match self {
            Self::NotFound => Problem::not_found("project.not_found", detail),
            Self::SlugTaken => Problem::conflict("project.slug_taken", detail),
            Self::Refused(Refusal::RoleTooLow { .. }) => {
                Problem::forbidden("project.role_too_low", detail)
            }
            Self::Refused(Refusal::OwnerRequired) => {
                Problem::forbidden("membership.owner_required", detail)
            }
            Self::Refused(Refusal::LastOwner) => Problem::conflict("project.last_owner", detail),
            Self::Archived => Problem::conflict("project.archived", detail),
            Self::MemberNotFound => Problem::not_found("membership.not_found", detail),
            Self::AlreadyMember => Problem::conflict("membership.exists", detail),
            Self::UnknownUser => Problem::unprocessable("membership.unknown_user", detail),
            Self::UserDisabled => Problem::unprocessable("membership.user_disabled", detail),
            Self::InvalidInput(_) => Problem::unprocessable("request.invalid_body", detail),
            Self::NameFilterTooLong => Problem::bad_request("request.invalid_query", detail),
            Self::InvalidIdempotencyKey(_) => {
                Problem::bad_request("idempotency.invalid_key", detail)
            }
            Self::IdempotencyKeyReused => Problem::unprocessable("idempotency.key_reused", detail),
            Self::IdempotentResultGone | Self::IdempotencyRace => {
                Problem::conflict("idempotency.result_gone", detail)
            }
            Self::ContextMismatch => Problem::bad_request("project.context_mismatch", detail),
            Self::NoAccess => Problem::not_found("access.not_found", detail),
            Self::AmbiguousAccessQuery | Self::NegativeFeedPosition => {
                Problem::bad_request("access.invalid_query", detail)
            }
            Self::CorruptRow(_) => Problem::internal_cause(self),
            Self::Db(db) => db.problem(),
            Self::Auth(error) => error.problem(),
            Self::Context(problem) => problem.clone(),
        }
    }
}

tenant_core::problem_response!(ProjectError);

#[cfg(test)]
mod tests {
    use actix_web::ResponseError;
    use actix_web::body::MessageBody;

    use super::*;

    fn body(problem: &Problem) -> serde_json::Value {
        let bytes = problem
            .error_response()
            .into_body()
            .try_into_bytes()
            .unwrap_or_default();
        let mut body: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        body.as_object_mut().unwrap().remove("request_id");
        body
    }

    /// What tenant-core refuses requests with before a handler runs.
    fn refusals() -> [Problem; 3] {
        [
            Problem::forbidden(
                "auth.user_required",
                "this operation needs a signed-in user",
            ),
            Problem::bad_request("pagination.invalid_cursor", "the cursor is not valid"),
            Problem::unauthorized("context.missing_token", "no token"),
        ]
    }

    #[test]
    fn a_refusal_of_tenant_core_reaches_the_client_as_it_was_raised() {
        for (raised, expected) in refusals().into_iter().zip(refusals()) {
            let passed_on = ProjectError::from(raised).problem();
            assert_eq!(passed_on.status(), expected.status());
            assert_eq!(body(&passed_on), body(&expected));
        }
    }
}
