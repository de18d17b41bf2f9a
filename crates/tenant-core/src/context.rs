//! Who is calling, for which project, with which role.
//!
//! Backends never see a user's credentials. The gateway (or a service calling
//! another service) mints a short-lived internal context token: an HS256 JWT
//! with a key id, at most 60 s of life and the target service as audience,
//! carrying the principal, the resolved project, the role in it and the
//! request id. [`TenantContext`] is an actix extractor that verifies it; a
//! handler that takes a `TenantContext` cannot run without a valid one.

use std::collections::HashMap;
use std::fmt;
use std::future::{Ready, ready};
use std::net::IpAddr;
use std::str::FromStr;
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::config::InternalTokenSettings;
use crate::error::Problem;

/// A member's role in a project, ordered by what it allows.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Viewer,
    Member,
    Admin,
    Owner,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Viewer => "viewer",
            Self::Member => "member",
            Self::Admin => "admin",
            Self::Owner => "owner",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
#[error("`{0}` is not a role (viewer, member, admin, owner)")]
pub struct UnknownRole(String);

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value {
            "viewer" => Ok(Self::Viewer),
            "member" => Ok(Self::Member),
            "admin" => Ok(Self::Admin),
            "owner" => Ok(Self::Owner),
            other => Err(UnknownRole(other.to_owned())),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PrincipalKind {
    User,
    ApiKey,
    Service,
    /// A caller the gateway let through without credentials, on routes that
    /// are public (sign up, log in, refresh). Its id is the nil UUID.
    Anonymous,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub id: Uuid,
    pub kind: PrincipalKind,
}

/// The project a request acts on, as resolved and authorized by the gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProjectAccess {
    pub project_id: Uuid,
    pub role: Role,
}

/// The verified caller context of one request.
#[derive(Debug, Clone)]
pub struct TenantContext {
    principal: Principal,
    project: Option<ProjectAccess>,
    request_id: String,
    /// The user's platform role is `admin`. Never a shortcut to project
    /// data: it only unlocks platform operations (plans, user admin).
    platform_admin: bool,
    /// The sign-in session behind a user's access token.
    session_id: Option<Uuid>,
    /// The client's address as the gateway decided it from its trusted
    /// proxies: backends never read forwarding headers themselves.
    client_ip: Option<IpAddr>,
}

impl TenantContext {
    pub fn new(
        principal: Principal,
        project: Option<ProjectAccess>,
        request_id: impl Into<String>,
    ) -> Self {
        Self {
            principal,
            project,
            request_id: request_id.into(),
            platform_admin: false,
            session_id: None,
            client_ip: None,
        }
    }

    pub fn with_client_ip(mut self, client_ip: IpAddr) -> Self {
        self.client_ip = Some(client_ip);
        self
    }

    /// `None` for calls between services, which have no outside client.
    pub fn client_ip(&self) -> Option<IpAddr> {
        self.client_ip
    }

    pub fn with_session(mut self, session_id: Uuid) -> Self {
        self.session_id = Some(session_id);
        self
    }

    pub fn session_id(&self) -> Option<Uuid> {
        self.session_id
    }

    pub fn with_platform_admin(mut self, platform_admin: bool) -> Self {
        self.platform_admin = platform_admin;
        self
    }

    pub fn is_platform_admin(&self) -> bool {
        self.platform_admin
    }

    /// Refuses anyone who is not a platform admin (403).
    pub fn require_platform_admin(&self) -> Result<Uuid, Problem> {
        let user = self.require_user()?;
        if self.platform_admin {
            Ok(user)
        } else {
            Err(Problem::forbidden(
                "auth.platform_admin_required",
                "only platform admins may do this",
            ))
        }
    }

    /// The context of a service acting on its own behalf (no project).
    pub fn service(service_id: Uuid, request_id: impl Into<String>) -> Self {
        Self::new(
            Principal {
                id: service_id,
                kind: PrincipalKind::Service,
            },
            None,
            request_id,
        )
    }

    /// The context of a service acting on its own behalf inside one
    /// project (delivering that project's outbox events): the receiver
    /// opens its tenant transaction for that project. The role is
    /// `member`, what a CI pipeline writing results has, never more.
    pub fn service_in_project(
        service_id: Uuid,
        project_id: Uuid,
        request_id: impl Into<String>,
    ) -> Self {
        Self::new(
            Principal {
                id: service_id,
                kind: PrincipalKind::Service,
            },
            Some(ProjectAccess {
                project_id,
                role: Role::Member,
            }),
            request_id,
        )
    }

    /// Refuses anything but a signed-in user (401 for anonymous callers,
    /// 403 for API keys and services).
    pub fn require_user(&self) -> Result<Uuid, Problem> {
        match self.principal.kind {
            PrincipalKind::User => Ok(self.principal.id),
            PrincipalKind::Anonymous => Err(Problem::unauthorized(
                "auth.required",
                "sign in to use this endpoint",
            )),
            PrincipalKind::ApiKey | PrincipalKind::Service => Err(Problem::forbidden(
                "auth.user_required",
                "this endpoint is for signed-in users only",
            )),
        }
    }

    /// Refuses anything but another Faultline service (internal endpoints).
    pub fn require_service(&self) -> Result<(), Problem> {
        if self.principal.kind == PrincipalKind::Service {
            Ok(())
        } else {
            Err(Problem::forbidden(
                "context.service_required",
                "internal endpoint",
            ))
        }
    }

    pub fn principal(&self) -> &Principal {
        &self.principal
    }

    pub fn project(&self) -> Option<&ProjectAccess> {
        self.project.as_ref()
    }

    pub fn request_id(&self) -> &str {
        &self.request_id
    }

    /// The project, or a 400 for routes that need one.
    pub fn require_project(&self) -> Result<&ProjectAccess, Problem> {
        self.project.as_ref().ok_or_else(|| {
            Problem::bad_request("context.project_required", "this operation needs a project")
        })
    }

    /// The project, if the caller's role there is at least `minimum`.
    pub fn require_role(&self, minimum: Role) -> Result<&ProjectAccess, Problem> {
        let project = self.require_project()?;
        if project.role >= minimum {
            Ok(project)
        } else {
            Err(Problem::forbidden(
                "context.role_too_low",
                format!("this operation needs the {minimum} role or higher"),
            ))
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct InternalClaims {
    iss: String,
    aud: String,
    sub: Uuid,
    iat: i64,
    exp: i64,
    jti: Uuid,
    /// principal kind
    pkd: PrincipalKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pid: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rol: Option<Role>,
    rid: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    padm: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sid: Option<Uuid>,
    /// client address
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cip: Option<IpAddr>,
}

#[derive(Debug, thiserror::Error)]
pub enum InternalTokenError {
    #[error("the signing key `{0}` is not configured")]
    UnknownSigningKey(String),
    #[error("token claims could not be encoded: {0}")]
    Encode(#[source] serde_json::Error),
}

/// Mints internal context tokens for calls to other services: HS256 JWTs
/// any JWT library verifies ([`InternalTokenVerifier`] does). The gateway
/// mints one per request, so the constant part is prepared once: the
/// encoded header and the keyed HMAC.
#[derive(Clone)]
pub struct InternalTokenIssuer {
    issuer: String,
    kid: String,
    /// `base64url({"alg":"HS256","typ":"JWT","kid":...})`.
    header: Arc<str>,
    key: hmac::Key,
    ttl_secs: i64,
}

impl fmt::Debug for InternalTokenIssuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InternalTokenIssuer")
            .field("issuer", &self.issuer)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl InternalTokenIssuer {
    pub fn new(settings: &InternalTokenSettings) -> Result<Self, InternalTokenError> {
        let secret = settings.keys.get(&settings.signing_key_id).ok_or_else(|| {
            InternalTokenError::UnknownSigningKey(settings.signing_key_id.clone())
        })?;
        let header = serde_json::json!({
            "alg": "HS256",
            "typ": "JWT",
            "kid": settings.signing_key_id,
        });
        Ok(Self {
            issuer: settings.issuer.clone(),
            kid: settings.signing_key_id.clone(),
            header: URL_SAFE_NO_PAD.encode(header.to_string()).into(),
            key: hmac::Key::new(hmac::HMAC_SHA256, secret.expose_secret().as_bytes()),
            ttl_secs: i64::try_from(settings.ttl_secs).unwrap_or(60).min(60),
        })
    }

    /// A token for `audience` (the target service's name) carrying `context`.
    pub fn issue(
        &self,
        audience: &str,
        context: &TenantContext,
    ) -> Result<String, InternalTokenError> {
        let now = chrono::Utc::now().timestamp();
        let claims = InternalClaims {
            iss: self.issuer.clone(),
            aud: audience.to_owned(),
            sub: context.principal.id,
            iat: now,
            exp: now + self.ttl_secs,
            jti: Uuid::now_v7(),
            pkd: context.principal.kind,
            pid: context.project.map(|p| p.project_id),
            rol: context.project.map(|p| p.role),
            rid: context.request_id.clone(),
            padm: context.platform_admin,
            sid: context.session_id,
            cip: context.client_ip,
        };
        let payload = serde_json::to_vec(&claims).map_err(InternalTokenError::Encode)?;
        let mut token = String::with_capacity(self.header.len() + payload.len() * 4 / 3 + 48);
        token.push_str(&self.header);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(&payload, &mut token);
        let signature = hmac::sign(&self.key, token.as_bytes());
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(signature.as_ref(), &mut token);
        Ok(token)
    }
}

/// Verifies internal context tokens addressed to this service.
#[derive(Clone)]
pub struct InternalTokenVerifier {
    keys: Arc<HashMap<String, DecodingKey>>,
    validation: Arc<Validation>,
}

impl fmt::Debug for InternalTokenVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InternalTokenVerifier")
            .field("kids", &self.keys.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl InternalTokenVerifier {
    /// `audience` is this service's name: tokens minted for another service are refused.
    pub fn new(settings: &InternalTokenSettings, audience: &str) -> Self {
        let keys = settings
            .keys
            .iter()
            .map(|(kid, secret)| {
                (
                    kid.clone(),
                    DecodingKey::from_secret(secret.expose_secret().as_bytes()),
                )
            })
            .collect();
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_audience(&[audience]);
        validation.set_issuer(&[&settings.issuer]);
        validation.set_required_spec_claims(&["exp", "aud", "iss", "sub"]);
        validation.leeway = settings.leeway_secs;
        Self {
            keys: Arc::new(keys),
            validation: Arc::new(validation),
        }
    }

    pub fn verify(&self, token: &str) -> Result<TenantContext, Problem> {
        let invalid =
            |detail: &str| Problem::unauthorized("context.invalid_token", detail.to_owned());
        let header =
            jsonwebtoken::decode_header(token).map_err(|_| invalid("malformed context token"))?;
        let key = header
            .kid
            .as_deref()
            .and_then(|kid| self.keys.get(kid))
            .ok_or_else(|| invalid("context token signed with an unknown key"))?;
        let data = jsonwebtoken::decode::<InternalClaims>(token, key, &self.validation).map_err(
            |error| {
                use jsonwebtoken::errors::ErrorKind;
                match error.kind() {
                    ErrorKind::ExpiredSignature => invalid("context token expired"),
                    ErrorKind::InvalidAudience => invalid("context token is for another service"),
                    ErrorKind::InvalidSignature => invalid("context token signature is invalid"),
                    _ => invalid("context token is invalid"),
                }
            },
        )?;
        let claims = data.claims;
        // A token can never live longer than a minute, whatever its issuer claims.
        if claims.exp - claims.iat > 60 {
            return Err(invalid("context token lifetime exceeds 60 s"));
        }
        let project = match (claims.pid, claims.rol) {
            (Some(project_id), Some(role)) => Some(ProjectAccess { project_id, role }),
            (None, None) => None,
            _ => return Err(invalid("context token has a project without a role")),
        };
        Ok(TenantContext {
            principal: Principal {
                id: claims.sub,
                kind: claims.pkd,
            },
            project,
            request_id: claims.rid,
            platform_admin: claims.padm,
            session_id: claims.sid,
            client_ip: claims.cip,
        })
    }
}

impl FromRequest for TenantContext {
    type Error = Problem;
    type Future = Ready<Result<Self, Problem>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        ready(extract_context(req))
    }
}

fn extract_context(req: &HttpRequest) -> Result<TenantContext, Problem> {
    let verifier = req
        .app_data::<web::Data<InternalTokenVerifier>>()
        .ok_or_else(|| Problem::internal(MissingVerifier))?;
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .ok_or_else(|| {
            Problem::unauthorized(
                "context.missing_token",
                "this service is only reachable through the gateway",
            )
        })?;
    let context = verifier.verify(token.trim())?;
    let span = tracing::Span::current();
    span.record(
        "principal_id",
        tracing::field::display(context.principal.id),
    );
    if let Some(project) = context.project {
        span.record("project_id", tracing::field::display(project.project_id));
    }
    Ok(context)
}

#[derive(Debug, thiserror::Error)]
#[error("no InternalTokenVerifier registered as app data")]
struct MissingVerifier;

#[cfg(test)]
mod tests;
