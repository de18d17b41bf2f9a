//! OAuth 2.0 authorization code with PKCE (RFC 7636, S256) for Jira Cloud
//! (3LO): the random `state` and verifier, the challenge, and the
//! authorisation URL a member's browser is sent to.

use aws_lc_rs::digest::{SHA256, digest};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::Url;

/// How long a started authorisation may be completed.
pub const STATE_TTL_SECS: i64 = 600;

/// The scopes asked of Atlassian: read and write issues, and a refresh
/// token (`offline_access`).
pub const SCOPES: &str = "read:jira-work write:jira-work offline_access";

#[derive(Debug, thiserror::Error)]
#[error("the system random generator failed")]
pub struct RandomFailed;

/// `bytes` random bytes, base64url without padding.
pub fn random_token(bytes: usize) -> Result<String, RandomFailed> {
    let mut buffer = vec![0_u8; bytes];
    aws_lc_rs::rand::fill(&mut buffer).map_err(|_| RandomFailed)?;
    Ok(URL_SAFE_NO_PAD.encode(buffer))
}

/// A new `state`: 32 random bytes (43 characters).
pub fn new_state() -> Result<String, RandomFailed> {
    random_token(32)
}

/// A new PKCE verifier: 64 random bytes (86 characters, within RFC 7636's
/// 43 to 128 of the unreserved alphabet).
pub fn new_verifier() -> Result<String, RandomFailed> {
    random_token(64)
}

/// The S256 challenge of `verifier`: base64url(SHA-256(verifier)).
pub fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(digest(&SHA256, verifier.as_bytes()).as_ref())
}

/// What a `state` is stored as: its SHA-256, so the table alone cannot
/// complete anyone's authorisation.
pub fn state_hash(state: &str) -> Vec<u8> {
    digest(&SHA256, state.as_bytes()).as_ref().to_vec()
}

/// The authorisation URL with every parameter Atlassian's 3LO needs.
pub fn authorize_url(
    base: &str,
    client_id: &str,
    redirect_uri: &str,
    state: &str,
    challenge: &str,
) -> Result<String, String> {
    let mut url = Url::parse(base).map_err(|e| e.to_string())?;
    url.query_pairs_mut()
        .append_pair("audience", "api.atlassian.com")
        .append_pair("client_id", client_id)
        .append_pair("scope", SCOPES)
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("state", state)
        .append_pair("response_type", "code")
        .append_pair("prompt", "consent")
        .append_pair("code_challenge", challenge)
        .append_pair("code_challenge_method", "S256");
    Ok(url.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_challenge_is_the_unpadded_base64url_sha256_of_the_verifier() {
        // Computed apart from this code (Python's hashlib and base64).
        assert_eq!(
            challenge("dBjftJeZ4CVP-mJ92K1ftlsOGEwqsJd4XuO4ZbrPyGk"),
            "JBA6y3SRo87KujmZ4OVp-nKeX-Ji2UepZskXl5d7cBI"
        );
    }

    #[test]
    fn states_and_verifiers_are_random_and_long_enough() {
        let (a, b) = (new_state().unwrap(), new_state().unwrap());
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        let verifier = new_verifier().unwrap();
        assert!((43..=128).contains(&verifier.len()));
        assert!(
            verifier
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
    }

    #[test]
    fn the_authorisation_url_carries_the_challenge_and_the_state() {
        let url = authorize_url(
            "https://auth.atlassian.com/authorize",
            "app",
            "https://f/cb",
            "st",
            "ch",
        )
        .unwrap();
        let parsed = Url::parse(&url).unwrap();
        let pairs: std::collections::HashMap<_, _> = parsed.query_pairs().into_owned().collect();
        assert_eq!(pairs["state"], "st");
        assert_eq!(pairs["code_challenge"], "ch");
        assert_eq!(pairs["code_challenge_method"], "S256");
        assert_eq!(pairs["scope"], SCOPES);
    }
}
