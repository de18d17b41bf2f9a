//! Access tokens (EdDSA JWTs) and opaque refresh tokens: what they say
//! and how they are made.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, Header};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::signing_keys::Keyring;
use crate::crypto::{self, CryptoError};

pub const REFRESH_PREFIX: &str = "flr_";

/// The claims of an access token. Project roles are deliberately absent:
/// the gateway looks them up, so a role change takes effect at once.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub sub: Uuid,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    pub nbf: i64,
    pub jti: Uuid,
    pub sid: Uuid,
    pub user_role: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_project: Option<Uuid>,
}

#[derive(Debug, Clone)]
pub struct AccessTokenIssuer {
    pub issuer: String,
    pub audience: String,
    pub ttl_secs: i64,
}

/// Who a token is for.
#[derive(Debug, Clone)]
pub struct Subject {
    pub user_id: Uuid,
    pub session_id: Uuid,
    pub platform_role: String,
    pub default_project: Option<Uuid>,
}

impl AccessTokenIssuer {
    pub fn issue(
        &self,
        keyring: &Keyring,
        subject: &Subject,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        let now = chrono::Utc::now().timestamp();
        let claims = AccessClaims {
            iss: self.issuer.clone(),
            sub: subject.user_id,
            aud: self.audience.clone(),
            exp: now + self.ttl_secs,
            iat: now,
            nbf: now,
            jti: Uuid::now_v7(),
            sid: subject.session_id,
            user_role: subject.platform_role.clone(),
            default_project: subject.default_project,
        };
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(keyring.signing.kid.clone());
        header.typ = Some("at+jwt".to_owned());
        jsonwebtoken::encode(&header, &claims, &keyring.signing.key)
    }
}

/// An access token and the refresh token that renews it.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Tokens)]
pub struct TokenResponse {
    pub access_token: String,
    /// Always `Bearer`.
    #[schema(value_type = String)]
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    pub refresh_token: String,
}

impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenResponse")
            .field("expires_in", &self.expires_in)
            .finish_non_exhaustive()
    }
}

/// A new opaque refresh token: `flr_` + 256 random bits.
pub fn new_refresh_token() -> Result<String, CryptoError> {
    Ok(format!(
        "{REFRESH_PREFIX}{}",
        URL_SAFE_NO_PAD.encode(crypto::random_bytes::<32>()?)
    ))
}

pub fn hash_refresh_token(token: &str) -> Vec<u8> {
    crypto::sha256(token.as_bytes())
}
