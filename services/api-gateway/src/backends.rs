//! What the gateway asks the auth and project services, with caches:
//! API key introspection, project access and session status, and the two
//! feeds that keep those caches right (the project service's access
//! changes, the auth service's revocations).
//!
//! A cached answer is only as good as the feed that would drop it, so each
//! cache is used only while its feed was read to the end recently
//! (`feed_trusted_for`); while a feed is stale every request asks again.
//!
//! A lookup races the feed: its answer may have been computed before a
//! change that the feed applies while the answer is on its way. Each cache
//! therefore has an epoch that the feed bumps *before* dropping entries; a
//! lookup notes the epoch before asking, inserts its answer, and takes it
//! back out if the epoch moved meanwhile. Whatever the interleaving, either
//! the feed's drop runs after the insert and removes it, or the lookup sees
//! the new epoch and removes it itself.

use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use reqwest::StatusCode;
use serde::Deserialize;
use tenant_core::client::{ServiceCallError, ServiceClient};
use tenant_core::{Role, TenantContext};
use uuid::Uuid;

use crate::cache::TtlCache;

mod feeds;

/// Who an API key is.
#[derive(Debug, Clone, Deserialize)]
pub struct KeyPrincipal {
    /// The key's id.
    pub principal_id: Uuid,
    pub project_id: Uuid,
    pub role: Role,
    /// Answers are cached no longer than this.
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
pub struct PlanLimits {
    pub requests_per_minute: u32,
    pub request_burst: u32,
    pub uploads_per_minute: u32,
    pub upload_burst: u32,
}

/// A principal's access to one project.
#[derive(Debug, Clone, Deserialize)]
pub struct Access {
    pub project_id: Uuid,
    pub slug: String,
    pub status: String,
    pub role: Role,
    pub limits: PlanLimits,
    pub as_of_seq: i64,
}

/// Whose access: a user, or an API key bound to a project with a role.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AccessSubject {
    User(Uuid),
    ApiKey { project_id: Uuid, role: Role },
}

/// Where a feed has been read to, and when it was last read to its end.
#[derive(Debug)]
struct FeedState {
    /// The last sequence applied; -1 before the first successful read.
    position: AtomicI64,
    read_at: Mutex<Option<Instant>>,
    /// `position`, for `/metrics`.
    gauge: Gauge,
}

impl FeedState {
    fn new() -> Self {
        Self {
            position: AtomicI64::new(-1),
            read_at: Mutex::new(None),
            gauge: Gauge::default(),
        }
    }

    fn position(&self) -> i64 {
        self.position.load(Ordering::SeqCst)
    }

    fn advance(&self, position: i64) {
        self.position.store(position, Ordering::SeqCst);
        self.gauge.set(position);
    }

    fn mark_read(&self) {
        if let Ok(mut read_at) = self.read_at.lock() {
            *read_at = Some(Instant::now());
        }
    }

    fn is_current(&self, trusted_for: Duration) -> bool {
        self.read_at
            .lock()
            .ok()
            .and_then(|read_at| *read_at)
            .is_some_and(|read_at| read_at.elapsed() <= trusted_for)
    }
}

/// The state of the access cache before a lookup; see the module docs.
#[derive(Debug, Clone, Copy)]
pub struct AccessTicket {
    epoch: u64,
    position: i64,
}

#[derive(Debug)]
pub struct Backends {
    auth: ServiceClient,
    project: ServiceClient,
    service_id: Uuid,
    feed_trusted_for: Duration,

    api_keys: TtlCache<[u8; 32], Option<KeyPrincipal>>,
    api_key_ttl: Duration,
    api_key_negative_ttl: Duration,
    api_key_epoch: AtomicU64,

    access: TtlCache<(AccessSubject, String), Option<Access>>,
    access_ttl: Duration,
    access_epoch: AtomicU64,
    access_feed: FeedState,

    revoked_sessions: TtlCache<Uuid, ()>,
    revocation_feed: FeedState,

    pub access_hits: Counter,
    pub access_misses: Counter,
    pub session_rechecks: Counter,
}

#[derive(Debug)]
pub struct BackendConfig {
    pub api_key_ttl: Duration,
    pub api_key_negative_ttl: Duration,
    pub api_key_cache_size: usize,
    pub access_ttl: Duration,
    pub access_cache_size: usize,
    /// Cached answers are used only while the feed that would drop them
    /// was read to its end within this long.
    pub feed_trusted_for: Duration,
}

/// Access tokens live at most an hour (plus the verifiers' leeway), so a
/// revoked session matters no longer than this.
const LONGEST_TOKEN_LIFE: Duration = Duration::from_secs(3600 + 300);

impl Backends {
    pub fn new(auth: ServiceClient, project: ServiceClient, config: BackendConfig) -> Self {
        Self {
            auth,
            project,
            service_id: Uuid::now_v7(),
            feed_trusted_for: config.feed_trusted_for,
            api_keys: TtlCache::new(config.api_key_cache_size),
            api_key_ttl: config.api_key_ttl,
            api_key_negative_ttl: config.api_key_negative_ttl,
            api_key_epoch: AtomicU64::new(0),
            access: TtlCache::new(config.access_cache_size),
            access_ttl: config.access_ttl,
            access_epoch: AtomicU64::new(0),
            access_feed: FeedState::new(),
            revoked_sessions: TtlCache::new(1_000_000),
            revocation_feed: FeedState::new(),
            access_hits: Counter::default(),
            access_misses: Counter::default(),
            session_rechecks: Counter::default(),
        }
    }

    fn context(&self, request_id: &str) -> TenantContext {
        TenantContext::service(self.service_id, request_id)
    }

    /// The last applied sequence of the access change feed, for `/metrics`.
    pub fn access_feed_position(&self) -> Gauge {
        self.access_feed.gauge.clone()
    }

    /// The last applied sequence of the revocation feed, for `/metrics`.
    pub fn revocation_feed_position(&self) -> Gauge {
        self.revocation_feed.gauge.clone()
    }

    // --- API keys -----------------------------------------------------------

    /// `None` for unknown, expired or revoked keys. Refusals are cached
    /// briefly; a key's principal is cached while the revocation feed,
    /// which drops it when the key is revoked, is current.
    pub async fn introspect(
        &self,
        key: &str,
        request_id: &str,
    ) -> Result<Option<KeyPrincipal>, ServiceCallError> {
        use sha2::Digest;
        let digest: [u8; 32] = sha2::Sha256::digest(key.as_bytes()).into();
        match self.api_keys.get(&digest) {
            Some(None) => return Ok(None),
            Some(Some(principal)) if self.revocation_feed.is_current(self.feed_trusted_for) => {
                return Ok(Some(principal));
            }
            _ => {}
        }
        let epoch = self.api_key_epoch.load(Ordering::SeqCst);
        let answer = self
            .auth
            .post_json::<_, KeyPrincipal>(
                "/internal/v1/api-keys/introspect",
                &serde_json::json!({ "key": key }),
                &self.context(request_id),
            )
            .await;
        let (value, ttl) = match answer {
            Ok(principal) => {
                let until_expiry = principal
                    .expires_at
                    .and_then(|at| (at - Utc::now()).to_std().ok())
                    .unwrap_or(Duration::ZERO);
                let ttl = if principal.expires_at.is_some() {
                    self.api_key_ttl.min(until_expiry)
                } else {
                    self.api_key_ttl
                };
                (Some(principal), ttl)
            }
            Err(error) if error.status() == Some(StatusCode::UNAUTHORIZED) => {
                (None, self.api_key_negative_ttl)
            }
            Err(error) => return Err(error),
        };
        if !ttl.is_zero() {
            self.api_keys.insert(digest, value.clone(), ttl);
            if self.api_key_epoch.load(Ordering::SeqCst) != epoch {
                self.api_keys.remove(&digest);
            }
        }
        Ok(value)
    }

    // --- project access -------------------------------------------------------

    /// The subject's access to `project` (id or slug); `None` when there is
    /// none (not a member, no such project, wrong project for the key).
    pub async fn access(
        &self,
        subject: &AccessSubject,
        project: &str,
        request_id: &str,
    ) -> Result<Option<Access>, ServiceCallError> {
        if let Some(cached) = self.cached_access(subject, project) {
            self.access_hits.inc();
            return Ok(cached);
        }
        self.access_misses.inc();
        let ticket = self.access_ticket();
        let answer = self.ask_access(subject, project, request_id).await?;
        self.cache_access(subject, project, answer.clone(), ticket);
        Ok(answer)
    }

    /// A cached answer, while the change feed that would drop it is current.
    pub fn cached_access(&self, subject: &AccessSubject, project: &str) -> Option<Option<Access>> {
        if !self.access_feed.is_current(self.feed_trusted_for) {
            return None;
        }
        self.access.get(&(subject.clone(), project.to_owned()))
    }

    /// Take this before [`Backends::ask_access`] and hand it to
    /// [`Backends::cache_access`] with the answer.
    pub fn access_ticket(&self) -> AccessTicket {
        AccessTicket {
            epoch: self.access_epoch.load(Ordering::SeqCst),
            position: self.access_feed.position(),
        }
    }

    /// Asks the project service, bypassing the cache.
    pub async fn ask_access(
        &self,
        subject: &AccessSubject,
        project: &str,
        request_id: &str,
    ) -> Result<Option<Access>, ServiceCallError> {
        let project_param = urlencode(project);
        let path = match subject {
            AccessSubject::User(user) => {
                format!("/internal/v1/access?user={user}&project={project_param}")
            }
            AccessSubject::ApiKey { project_id, role } => {
                format!(
                    "/internal/v1/access?api_key_project={project_id}&role={role}&project={project_param}"
                )
            }
        };
        match self
            .project
            .get_json::<Access>(&path, &self.context(request_id))
            .await
        {
            Ok(access) => Ok(Some(access)),
            Err(error)
                if matches!(
                    error.status(),
                    Some(StatusCode::NOT_FOUND | StatusCode::BAD_REQUEST)
                ) =>
            {
                Ok(None)
            }
            Err(error) => Err(error),
        }
    }

    /// Caches an answer obtained after `ticket` was taken, unless a change
    /// applied since may have made it stale (see the module docs).
    pub fn cache_access(
        &self,
        subject: &AccessSubject,
        project: &str,
        answer: Option<Access>,
        ticket: AccessTicket,
    ) {
        // Computed before a change the feed had already applied.
        if answer
            .as_ref()
            .is_some_and(|access| access.as_of_seq < ticket.position)
        {
            return;
        }
        let key = (subject.clone(), project.to_owned());
        self.access.insert(key.clone(), answer, self.access_ttl);
        if self.access_epoch.load(Ordering::SeqCst) != ticket.epoch {
            self.access.remove(&key);
        }
    }

    /// Drops every cached access answer for `user`, so a change they just
    /// made (a project created, a member added) holds for their next
    /// request rather than after the change feed's next poll.
    pub fn forget_user(&self, user: Uuid) {
        self.access_epoch.fetch_add(1, Ordering::SeqCst);
        self.access
            .remove_where(|(subject, _), _| *subject == AccessSubject::User(user));
    }

    // --- sessions -------------------------------------------------------------

    /// Whether a verified token's session is still live: from the
    /// revocation feed while it is current, else asked of the auth service
    /// (an error then refuses the request rather than trusting the token).
    pub async fn session_is_live(
        &self,
        session_id: Uuid,
        user_id: Uuid,
        request_id: &str,
    ) -> Result<bool, ServiceCallError> {
        if self.revoked_sessions.get(&session_id).is_some() {
            return Ok(false);
        }
        if self.revocation_feed.is_current(self.feed_trusted_for) {
            return Ok(true);
        }
        self.session_rechecks.inc();
        #[derive(Deserialize)]
        struct Status {
            live: bool,
        }
        let status: Status = self
            .auth
            .get_json(
                &format!("/internal/v1/sessions/{session_id}?user={user_id}"),
                &self.context(request_id),
            )
            .await?;
        Ok(status.live)
    }
}

/// Percent-encodes a query value.
pub fn urlencode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}
