//! The auth service's errors and their problem codes, in one place.
//!
//! Every variant maps to one stable `code` in [`AuthError::problem`]. Sign-in
//! and refresh failures are deliberately coarse: an unknown account and a
//! wrong password are the same `auth.invalid_credentials`, and every bad
//! refresh token is the same `auth.invalid_grant`, so answers reveal
//! nothing. Internal failures answer an opaque 500 and log their cause.

use actix_web::http::StatusCode;
use tenant_core::email::InvalidEmail;
use tenant_core::error::FieldProblem;
use tenant_core::{DbError, Problem};

use crate::crypto::CryptoError;
use crate::domain::Invalid;
use crate::domain::api_key::RoleTooHigh;
use crate::password_hasher::PasswordError;

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("{0}")]
    Invalid(#[from] Invalid),
    #[error("an account with this email exists")]
    EmailTaken,
    /// Unknown account and wrong password alike: callers cannot tell them apart.
    #[error("invalid credentials")]
    InvalidCredentials,
    #[error("too many failed sign-ins")]
    Throttled { retry_after_secs: u64 },
    /// Unknown, expired, revoked and reused refresh tokens alike.
    #[error("invalid refresh token")]
    InvalidGrant,
    #[error("the session has ended")]
    SessionEnded,
    #[error("user not found")]
    UserNotFound,
    #[error("api key not found")]
    ApiKeyNotFound,
    #[error(transparent)]
    ApiKeyRoleTooHigh(#[from] RoleTooHigh),
    #[error("API key expiry must be in the future and at most {max_days} days away")]
    ApiKeyExpiry { max_days: i64 },
    #[error("invalid API key")]
    ApiKeyInvalid,
    /// The project service reported the creator's demotion or removal
    /// after the caller's role was looked up.
    #[error("the creator may no longer create API keys in this project")]
    KeyCreatorRoleTooLow,
    /// The queue for the connections of callers without credentials is
    /// closed (never, while the service runs).
    #[error("the service is shutting down")]
    Unavailable,
    /// A refused context or page request, as tenant-core words it.
    #[error(transparent)]
    Context(#[from] Problem),
    #[error("database")]
    Db(#[source] DbError),
    #[error("password hashing")]
    Password(#[from] PasswordError),
    #[error("cryptography")]
    Crypto(#[from] CryptoError),
    #[error("token signing")]
    Token(#[from] jsonwebtoken::errors::Error),
}

impl From<DbError> for AuthError {
    fn from(error: DbError) -> Self {
        match error.constraint() {
            Some("users_email_key") => Self::EmailTaken,
            _ => Self::Db(error),
        }
    }
}

/// Auth has always answered a bad address as an invalid `email` field,
/// without quoting it back.
impl From<InvalidEmail> for AuthError {
    fn from(_: InvalidEmail) -> Self {
        Self::Invalid(Invalid::EMAIL)
    }
}

impl AuthError {
    /// What the client sees.
    pub fn problem(&self) -> Problem {
        match self {
            Self::Invalid(invalid) => {
                Problem::unprocessable("auth.invalid_input", invalid.to_string()).with_errors(vec![
                    FieldProblem {
                        field: invalid.field.to_owned(),
                        message: invalid.message.to_owned(),
                    },
                ])
            }
            Self::EmailTaken => Problem::conflict(
                "auth.email_taken",
                "an account with this email already exists",
            ),
            Self::InvalidCredentials => Problem::unauthorized(
                "auth.invalid_credentials",
                "the email or the password is wrong",
            ),
            Self::Throttled { retry_after_secs } => Problem::new(
                StatusCode::TOO_MANY_REQUESTS,
                "auth.throttled",
                "Too many requests",
            )
            .with_detail("too many failed sign-ins; try again later")
            .with_retry_after(*retry_after_secs),
            Self::InvalidGrant => Problem::bad_request(
                "auth.invalid_grant",
                "the refresh token is invalid, expired or revoked; sign in again",
            ),
            Self::SessionEnded => Problem::unauthorized(
                "auth.session_ended",
                "this session has ended; sign in again",
            ),
            Self::UserNotFound => Problem::not_found("user.not_found", "no such user"),
            Self::ApiKeyNotFound => Problem::not_found("api_key.not_found", "no such api key"),
            Self::ApiKeyRoleTooHigh(_) => Problem::unprocessable(
                "api_key.role_too_high",
                "API keys may have the viewer or member role only",
            ),
            Self::ApiKeyExpiry { .. } => {
                Problem::unprocessable("api_key.invalid_expiry", self.to_string())
            }
            Self::ApiKeyInvalid => Problem::unauthorized(
                "api_key.invalid",
                "the API key is invalid, expired or revoked",
            ),
            Self::KeyCreatorRoleTooLow => Problem::forbidden(
                "api_key.creator_role_too_low",
                "your role in this project no longer allows creating API keys",
            ),
            Self::Unavailable => Problem::unavailable("auth.unavailable", 1),
            Self::Context(problem) => problem.clone(),
            Self::Db(db) => db.problem(),
            Self::Password(_) | Self::Crypto(_) | Self::Token(_) => Problem::internal_cause(self),
        }
    }
}

tenant_core::problem_response!(AuthError);

#[cfg(test)]
mod tests {
    use tenant_core::email::Email;

    use super::*;

    #[test]
    fn an_invalid_email_is_the_invalid_email_field_without_the_address() {
        let error = AuthError::from(Email::parse("not an address").unwrap_err());
        let problem = error.problem();
        assert_eq!(problem.code(), "auth.invalid_input");
        assert_eq!(problem.detail(), Some("email is not a valid email address"));
        assert_eq!(problem.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }

    #[test]
    fn a_context_problem_keeps_its_status_code_and_detail() {
        let original = Problem::forbidden("context.role_too_low", "needs admin");
        let problem = AuthError::from(original).problem();
        assert_eq!(
            (problem.status(), problem.code(), problem.detail()),
            (
                StatusCode::FORBIDDEN,
                "context.role_too_low",
                Some("needs admin")
            )
        );
        assert!(problem.to_string().starts_with("Forbidden "));
    }
}
