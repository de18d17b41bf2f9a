//! What the gateway asks the auth and project services about its callers,
//! with caches: API key introspection (`api_keys`), project access
//! (`access`) and session status (`sessions`), and the two feeds that
//! keep those caches right (`feeds`: the project service's access
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

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use tenant_core::TenantContext;
use tenant_core::client::ServiceClient;
use uuid::Uuid;

use tenant_core::cache::TtlCache;

mod access;
mod api_keys;
mod feeds;
mod sessions;

use access::AccessKey;
pub use access::{Access, AccessSubject, AccessTicket, PlanLimits};
pub use api_keys::KeyPrincipal;

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

/// The caller lookups of one gateway, their caches and feeds.
#[derive(Debug)]
pub struct Lookups {
    auth: ServiceClient,
    project: ServiceClient,
    service_id: Uuid,
    feed_trusted_for: Duration,

    api_keys: TtlCache<[u8; 32], Option<KeyPrincipal>>,
    api_key_ttl: Duration,
    api_key_negative_ttl: Duration,
    api_key_epoch: AtomicU64,

    access: TtlCache<AccessKey, Option<Arc<Access>>>,
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
pub struct LookupConfig {
    pub api_key_ttl: Duration,
    pub api_key_negative_ttl: Duration,
    pub api_key_cache_size: usize,
    pub access_ttl: Duration,
    pub access_cache_size: usize,
    /// Cached answers are used only while the feed that would drop them
    /// was read to its end within this long.
    pub feed_trusted_for: Duration,
}

impl Lookups {
    pub fn new(auth: ServiceClient, project: ServiceClient, config: LookupConfig) -> Self {
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

    /// The gateway as a service caller, within the request `request_id`.
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
}
