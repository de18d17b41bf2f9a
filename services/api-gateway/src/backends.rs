//! What the gateway asks the auth and project services, with caches:
//! API key introspection, project access, and the two feeds that shorten
//! caches (access changes, session revocations).

use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use prometheus_client::metrics::counter::Counter;
use reqwest::StatusCode;
use serde::Deserialize;
use tenant_core::client::{ServiceCallError, ServiceClient};
use tenant_core::{Role, TenantContext};
use uuid::Uuid;

use crate::cache::TtlCache;

/// Who an API key is.
#[derive(Debug, Clone, Deserialize)]
pub struct KeyPrincipal {
    pub principal_id: Uuid,
    pub project_id: Uuid,
    pub role: Role,
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

#[derive(Debug)]
pub struct Backends {
    auth: ServiceClient,
    project: ServiceClient,
    service_id: Uuid,
    api_keys: TtlCache<[u8; 32], Option<KeyPrincipal>>,
    api_key_ttl: Duration,
    api_key_negative_ttl: Duration,
    access: TtlCache<(AccessSubject, String), Option<Access>>,
    access_ttl: Duration,
    access_seq: AtomicI64,
    /// When the access change feed was last read to its end.
    feed_read_at: Mutex<Option<Instant>>,
    feed_trusted_for: Duration,
    revoked: TtlCache<Uuid, ()>,
    revoked_cursor: Mutex<DateTime<Utc>>,
    pub access_hits: Counter,
    pub access_misses: Counter,
}

#[derive(Debug)]
pub struct BackendConfig {
    pub api_key_ttl: Duration,
    pub api_key_negative_ttl: Duration,
    pub api_key_cache_size: usize,
    pub access_ttl: Duration,
    pub access_cache_size: usize,
    /// Cached access answers are used only while the change feed that
    /// would revoke them was read successfully within this long.
    pub feed_trusted_for: Duration,
}

/// Access tokens live at most this long, so revocations older than it no
/// longer matter.
const LONGEST_TOKEN_LIFE: Duration = Duration::from_secs(3600);

impl Backends {
    pub fn new(auth: ServiceClient, project: ServiceClient, config: BackendConfig) -> Self {
        Self {
            auth,
            project,
            service_id: Uuid::now_v7(),
            api_keys: TtlCache::new(config.api_key_cache_size),
            api_key_ttl: config.api_key_ttl,
            api_key_negative_ttl: config.api_key_negative_ttl,
            access: TtlCache::new(config.access_cache_size),
            access_ttl: config.access_ttl,
            access_seq: AtomicI64::new(-1),
            feed_read_at: Mutex::new(None),
            feed_trusted_for: config.feed_trusted_for,
            revoked: TtlCache::new(1_000_000),
            revoked_cursor: Mutex::new(Utc::now() - chrono::Duration::hours(1)),
            access_hits: Counter::default(),
            access_misses: Counter::default(),
        }
    }

    fn context(&self, request_id: &str) -> TenantContext {
        TenantContext::service(self.service_id, request_id)
    }

    /// `None` for unknown, expired or revoked keys (cached briefly too).
    pub async fn introspect(
        &self,
        key: &str,
        request_id: &str,
    ) -> Result<Option<KeyPrincipal>, ServiceCallError> {
        use sha2::Digest;
        let digest: [u8; 32] = sha2::Sha256::digest(key.as_bytes()).into();
        if let Some(cached) = self.api_keys.get(&digest) {
            return Ok(cached);
        }
        let answer = self
            .auth
            .post_json::<_, KeyPrincipal>(
                "/internal/v1/api-keys/introspect",
                &serde_json::json!({ "key": key }),
                &self.context(request_id),
            )
            .await;
        let (value, ttl) = match answer {
            Ok(principal) => (Some(principal), self.api_key_ttl),
            Err(error) if error.status() == Some(StatusCode::UNAUTHORIZED) => {
                (None, self.api_key_negative_ttl)
            }
            Err(error) => return Err(error),
        };
        self.api_keys.insert(digest, value.clone(), ttl);
        Ok(value)
    }

    /// The subject's access to `project` (id or slug); `None` when there is
    /// none (not a member, no such project, wrong project for the key).
    pub async fn access(
        &self,
        subject: &AccessSubject,
        project: &str,
        request_id: &str,
    ) -> Result<Option<Access>, ServiceCallError> {
        let key = (subject.clone(), project.to_owned());
        // A cached answer is only as good as the feed that would revoke it.
        if self.feed_is_current()
            && let Some(cached) = self.access.get(&key)
        {
            self.access_hits.inc();
            return Ok(cached);
        }
        self.access_misses.inc();
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
        let seq_before = self.access_seq.load(Ordering::SeqCst);
        let answer = match self
            .project
            .get_json::<Access>(&path, &self.context(request_id))
            .await
        {
            Ok(access) => Some(access),
            Err(error)
                if matches!(
                    error.status(),
                    Some(StatusCode::NOT_FOUND | StatusCode::BAD_REQUEST)
                ) =>
            {
                None
            }
            Err(error) => return Err(error),
        };
        // An answer older than a change already applied must not be cached.
        let stale = answer.as_ref().is_some_and(|a| a.as_of_seq < seq_before);
        if !stale && self.access_seq.load(Ordering::SeqCst) == seq_before {
            self.access.insert(key, answer.clone(), self.access_ttl);
        }
        Ok(answer)
    }

    /// Whether the access change feed was read recently enough for cached
    /// answers to be trusted (they may live long: the feed drops them).
    fn feed_is_current(&self) -> bool {
        self.feed_read_at
            .lock()
            .ok()
            .and_then(|read_at| *read_at)
            .is_some_and(|read_at| read_at.elapsed() <= self.feed_trusted_for)
    }

    /// Drops every cached access answer for `user`, so a change they just
    /// made (a project created, a member added) holds for their next
    /// request rather than after the change feed's next poll.
    pub fn forget_user(&self, user: Uuid) {
        self.access
            .remove_where(|(subject, _), _| *subject == AccessSubject::User(user));
    }

    pub fn is_revoked(&self, session_id: Uuid) -> bool {
        self.revoked.get(&session_id).is_some()
    }

    /// One poll of both feeds; errors are logged and retried next time.
    pub async fn poll_feeds(&self) {
        if let Err(error) = self.poll_access_changes().await {
            tracing::warn!(error = %tenant_core::error::error_chain(&error), "access change feed unavailable");
        }
        if let Err(error) = self.poll_revocations().await {
            tracing::warn!(error = %tenant_core::error::error_chain(&error), "session revocation feed unavailable");
        }
    }

    async fn poll_access_changes(&self) -> Result<(), ServiceCallError> {
        #[derive(Deserialize)]
        struct Change {
            seq: i64,
            project_id: Uuid,
            user_id: Option<Uuid>,
        }
        #[derive(Deserialize)]
        struct Changes {
            changes: Vec<Change>,
            latest: i64,
            has_more: bool,
            reset: bool,
        }
        loop {
            let after = self.access_seq.load(Ordering::SeqCst);
            let path = if after < 0 {
                "/internal/v1/access/changes".to_owned()
            } else {
                format!("/internal/v1/access/changes?after={after}")
            };
            let feed: Changes = self
                .project
                .get_json(&path, &self.context("access-feed"))
                .await?;
            if after < 0 || feed.reset {
                self.access.clear();
            } else {
                for change in &feed.changes {
                    self.access.remove_where(|(subject, _), access| {
                        let project_matches = access
                            .as_ref()
                            .is_some_and(|a| a.project_id == change.project_id);
                        let user_matches = match (subject, change.user_id) {
                            (AccessSubject::User(user), Some(changed)) => *user == changed,
                            (AccessSubject::ApiKey { project_id, .. }, _) => {
                                *project_id == change.project_id
                            }
                            (_, None) => true,
                        };
                        // Negative answers may turn positive (a new member): drop them for the user too.
                        (project_matches || access.is_none()) && user_matches
                    });
                }
            }
            let newest = feed.changes.last().map_or(feed.latest, |c| c.seq);
            self.access_seq.store(
                if feed.has_more { newest } else { feed.latest },
                Ordering::SeqCst,
            );
            if !feed.has_more {
                if let Ok(mut read_at) = self.feed_read_at.lock() {
                    *read_at = Some(Instant::now());
                }
                return Ok(());
            }
        }
    }

    async fn poll_revocations(&self) -> Result<(), ServiceCallError> {
        #[derive(Deserialize)]
        struct Revoked {
            session_id: Uuid,
            revoked_at: DateTime<Utc>,
        }
        #[derive(Deserialize)]
        struct Feed {
            revoked: Vec<Revoked>,
        }
        let since = self
            .revoked_cursor
            .lock()
            .map(|c| *c)
            .unwrap_or_else(|_| Utc::now());
        let path = format!(
            "/internal/v1/sessions/revoked?since={}",
            urlencode(&since.to_rfc3339())
        );
        let feed: Feed = self
            .auth
            .get_json(&path, &self.context("revocation-feed"))
            .await?;
        for revoked in &feed.revoked {
            self.revoked
                .insert(revoked.session_id, (), LONGEST_TOKEN_LIFE);
        }
        if let Some(last) = feed.revoked.last()
            && let Ok(mut cursor) = self.revoked_cursor.lock()
        {
            *cursor = last.revoked_at;
        }
        Ok(())
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
