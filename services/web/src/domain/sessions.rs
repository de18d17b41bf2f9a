//! Server-side sessions: the browser holds a random id in an HttpOnly
//! cookie; the user's access and refresh tokens never leave this process.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;

/// The cookie that names a session.
pub const SESSION_COOKIE: &str = "faultline_session";

/// 256 random bits, base64url: a session id or a CSRF token.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
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
    pub access_expires_at: Instant,
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
            access_expires_at: Instant::now() + Duration::from_secs(expires_in_secs),
        }
    }

    /// Whether the access token expires within `margin`, and so should be
    /// refreshed before it is used.
    pub fn due_for_refresh(&self, margin: Duration) -> bool {
        Instant::now() + margin >= self.access_expires_at
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
    last_used: Instant,
}

/// Sessions by id, forgotten after `idle` without use.
#[derive(Debug)]
pub struct SessionStore {
    sessions: Mutex<HashMap<String, Session>>,
    idle: Duration,
}

impl SessionStore {
    pub fn new(idle: Duration) -> Self {
        Self {
            sessions: Mutex::new(HashMap::new()),
            idle,
        }
    }

    fn locked(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        self.sessions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Starts a session for `email` with its tokens; forgets idle ones.
    pub fn start(&self, email: String, tokens: Tokens) -> Session {
        let now = Instant::now();
        let session = Session {
            id: random_token(),
            email,
            csrf_token: random_token(),
            tokens,
            forwarded_for: None,
            last_used: now,
        };
        let mut sessions = self.locked();
        sessions.retain(|_, s| now.duration_since(s.last_used) < self.idle);
        sessions.insert(session.id.clone(), session.clone());
        session
    }

    /// The live session with this id, marked as used.
    pub fn find(&self, id: &str) -> Option<Session> {
        let now = Instant::now();
        let mut sessions = self.locked();
        let session = sessions.get_mut(id)?;
        if now.duration_since(session.last_used) >= self.idle {
            sessions.remove(id);
            return None;
        }
        session.last_used = now;
        Some(session.clone())
    }

    /// Replaces a session's tokens after a refresh.
    pub fn update_tokens(&self, id: &str, tokens: Tokens) {
        if let Some(session) = self.locked().get_mut(id) {
            session.tokens = tokens;
        }
    }

    /// Forgets a session: its cookie names nothing from now on.
    pub fn end(&self, id: &str) -> Option<Session> {
        self.locked().remove(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens() -> Tokens {
        Tokens::new("a".into(), "r".into(), 600)
    }

    #[test]
    fn an_ended_session_is_not_found_again() {
        let store = SessionStore::new(Duration::from_secs(60));
        let session = store.start("a@example.com".into(), tokens());
        assert!(store.find(&session.id).is_some());
        store.end(&session.id);
        assert!(store.find(&session.id).is_none());
    }

    #[test]
    fn an_idle_session_is_forgotten() {
        let store = SessionStore::new(Duration::ZERO);
        let session = store.start("a@example.com".into(), tokens());
        assert!(store.find(&session.id).is_none());
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
