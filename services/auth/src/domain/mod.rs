//! The auth service's types and rules: what a valid password, display name
//! or API key is, what a token says, how long an account stays locked.
//! Nothing here talks to the database or to HTTP.

pub mod account_backoff;
pub mod api_key;
pub mod audit;
pub mod display_name;
pub mod password;
pub mod policy;
pub mod refresh_token;
pub mod revocations;
pub mod signing_keys;
pub mod tokens;
pub mod user;

/// Input a rule refused: which field, and what is wrong with it. Clients
/// see both (`auth.invalid_input`, with the field in `errors`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{field} {message}")]
pub struct Invalid {
    pub field: &'static str,
    pub message: &'static str,
}

impl Invalid {
    /// What auth has always answered for an address
    /// [`tenant_core::email::Email`] refuses.
    pub const EMAIL: Self = Self {
        field: "email",
        message: "is not a valid email address",
    };
}
