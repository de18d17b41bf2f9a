//! Server-side sessions: the browser holds a random id in an HttpOnly
//! cookie; the user's access and refresh tokens never leave the server
//! (kept sealed in the `web` schema, [`crate::repository::sessions`]).

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use rand::RngCore;
use sha2::{Digest, Sha256};

/// The cookie that names a session.
pub const SESSION_COOKIE: &str = "faultline_session";

/// 256 random bits, base64url: a session id or a CSRF token.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// What the store keeps of a session id: its SHA-256, so the stored rows
/// name no usable cookie.
pub fn id_hash(id: &str) -> Vec<u8> {
    Sha256::digest(id.as_bytes()).to_vec()
}

/// Compares two secrets in time independent of where they differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The tokens the auth service issued at sign-in (or the last refresh).
#[derive(Clone)]
pub struct Tokens {
    pub access_token: String,
    pub refresh_token: String,
    /// When the access token stops being accepted.
    pub access_expires_at: DateTime<Utc>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Tokens([redacted])")
    }
}

impl Tokens {
    pub fn new(access_token: String, refresh_token: String, expires_in_secs: u64) -> Self {
        Self {
            access_token,
            refresh_token,
            access_expires_at: Utc::now()
                + chrono::Duration::seconds(
                    i64::try_from(expires_in_secs)
                        .unwrap_or(i64::MAX / 1000)
                        .min(86_400 * 365),
                ),
        }
    }

    /// Whether the access token expires within `margin`, and so should be
    /// refreshed before it is used.
    pub fn due_for_refresh(&self, margin: Duration) -> bool {
        let margin = chrono::Duration::from_std(margin).unwrap_or(chrono::Duration::MAX);
        Utc::now() + margin >= self.access_expires_at
    }
}

/// One signed-in browser.
#[derive(Debug, Clone)]
pub struct Session {
    pub id: String,
    pub email: String,
    /// Every form of this session carries it; a POST without it is refused.
    pub csrf_token: String,
    pub tokens: Tokens,
    /// The `X-Forwarded-For` the gateway sent with the current request,
    /// passed on with the API calls it makes (not kept between requests).
    pub forwarded_for: Option<String>,
}

impl Session {
    /// A new session for `email` with its tokens: a fresh id and CSRF token.
    pub fn new(email: String, tokens: Tokens) -> Self {
        Self {
            id: random_token(),
            email,
            csrf_token: random_token(),
            tokens,
            forwarded_for: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens() -> Tokens {
        Tokens::new("a".into(), "r".into(), 600)
    }

    #[test]
    fn a_session_id_is_stored_as_its_hash() {
        let session = Session::new("a@example.com".into(), tokens());
        let hash = id_hash(&session.id);
        assert_eq!(hash.len(), 32);
        assert_ne!(session.id, session.csrf_token);
        assert_eq!(hash, id_hash(&session.id));
    }

    #[test]
    fn secrets_compare_equal_only_when_identical() {
        let token = random_token();
        assert_eq!(token.len(), 43);
        assert!(same_secret(&token, &token.clone()));
        assert!(!same_secret(&token, &random_token()));
        assert!(!same_secret(&token, ""));
    }

    #[test]
    fn a_token_about_to_expire_is_refreshed_first() {
        let margin = Duration::from_secs(30);
        assert!(Tokens::new("a".into(), "r".into(), 10).due_for_refresh(margin));
        assert!(!tokens().due_for_refresh(margin));
    }
}
