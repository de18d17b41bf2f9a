//! The auth service's errors and their problem codes, in one place.

use actix_web::http::StatusCode;
use tenant_core::error::FieldProblem;
use tenant_core::{DbError, Problem};

use crate::crypto::CryptoError;
use crate::password::PasswordError;

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("{field} {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
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
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("API keys may have the viewer or member role only")]
    ApiKeyRoleTooHigh,
    #[error("API key expiry must be in the future and at most {max_days} days away")]
    ApiKeyExpiry { max_days: i64 },
    #[error("invalid API key")]
    ApiKeyInvalid,
    /// The project service reported the creator's demotion or removal
    /// after the caller's role was looked up.
    #[error("the creator may no longer create API keys in this project")]
    KeyCreatorRoleTooLow,
    #[error(transparent)]
    Context(#[from] Problem),
    #[error("database")]
    Db(#[from] DbError),
    #[error("password hashing")]
    Password(#[from] PasswordError),
    #[error("cryptography")]
    Crypto(#[from] CryptoError),
    #[error("token signing")]
    Token(#[from] jsonwebtoken::errors::Error),
}

impl From<AuthError> for Problem {
    fn from(error: AuthError) -> Self {
        match error {
            AuthError::Invalid { field, message } => {
                Problem::unprocessable("auth.invalid_input", format!("{field} {message}"))
                    .with_errors(vec![FieldProblem {
                        field: field.to_owned(),
                        message,
                    }])
            }
            AuthError::EmailTaken => Problem::conflict(
                "auth.email_taken",
                "an account with this email already exists",
            ),
            AuthError::InvalidCredentials => Problem::unauthorized(
                "auth.invalid_credentials",
                "the email or the password is wrong",
            ),
            AuthError::Throttled { retry_after_secs } => Problem::new(
                StatusCode::TOO_MANY_REQUESTS,
                "auth.throttled",
                "Too many requests",
            )
            .with_detail("too many failed sign-ins; try again later")
            .with_retry_after(retry_after_secs),
            AuthError::InvalidGrant => Problem::bad_request(
                "auth.invalid_grant",
                "the refresh token is invalid, expired or revoked; sign in again",
            ),
            AuthError::SessionEnded => Problem::unauthorized(
                "auth.session_ended",
                "this session has ended; sign in again",
            ),
            AuthError::NotFound(what) => Problem::not_found(
                match what {
                    "user" => "user.not_found",
                    "api key" => "api_key.not_found",
                    _ => "not_found",
                },
                format!("no such {what}"),
            ),
            AuthError::ApiKeyRoleTooHigh => Problem::unprocessable(
                "api_key.role_too_high",
                "API keys may have the viewer or member role only",
            ),
            error @ AuthError::ApiKeyExpiry { .. } => {
                Problem::unprocessable("api_key.invalid_expiry", error.to_string())
            }
            AuthError::ApiKeyInvalid => Problem::unauthorized(
                "api_key.invalid",
                "the API key is invalid, expired or revoked",
            ),
            AuthError::KeyCreatorRoleTooLow => Problem::forbidden(
                "api_key.creator_role_too_low",
                "your role in this project no longer allows creating API keys",
            ),
            AuthError::Context(problem) => problem,
            AuthError::Db(error) => error.into(),
            error @ (AuthError::Password(_) | AuthError::Crypto(_) | AuthError::Token(_)) => {
                Problem::internal(error)
            }
        }
    }
}
