//! The rankings (top failing tests, top groups, flakiest and slowest
//! tests) kept in memory per project, filter and limit, with the
//! project's rollup version they were read at
//! (`analytics.rollup_versions`).
//!
//! Summing a range's per-test and per-group rows and the tests' duration
//! histograms costs hundreds of milliseconds on a project with a million
//! results, far more than a dashboard may take, and the answer changes
//! only when the project's rollups do. So:
//! - an answer read at the project's current version is served as it is;
//! - when the version has moved on, one computation of the new answer
//!   starts on its own task, and every request for the key waits for it
//!   up to `service.rankings_fresh_wait_ms`; past that it is answered with
//!   the kept answer (a big project's viewers never queue behind slow
//!   recomputations, and the rankings then trail a build by one
//!   computation);
//! - the first request for a project and filter (or one after its entry
//!   expired) waits for its answer, and concurrent first requests share
//!   one computation.
//!
//! Entries are bounded in number and live at most
//! `service.rankings_cache_ttl_secs`; the key always holds the project
//! id from the request's verified context, so an answer is only ever
//! served within its own project.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tenant_core::cache::TtlCache;
use tenant_core::{Db, DbError, TenantContext};
use uuid::Uuid;

use super::dashboards::rank_groups;
use super::test_rankings::{self, TestMetric};
use crate::domain::dashboards::Rankings;
use crate::domain::filters::DashboardFilter;

/// What one answer is for: the request's project, filter and limit (the
/// previous period compared with derives from the filter).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    project_id: Uuid,
    filter: DashboardFilter,
    limit: i64,
}

/// One key's kept answer and the version it was read at; `fill` lets one
/// computation run at a time and `filled` wakes the requests waiting for
/// it.
#[derive(Debug, Default)]
struct Slot {
    kept: Mutex<Option<(i64, Arc<Rankings>)>>,
    fill: Arc<tokio::sync::Mutex<()>>,
    filled: tokio::sync::Notify,
}

impl Slot {
    fn kept(&self) -> Option<(i64, Arc<Rankings>)> {
        self.kept.lock().ok().and_then(|kept| kept.clone())
    }

    fn kept_at(&self, version: i64) -> Option<Arc<Rankings>> {
        self.kept()
            .and_then(|(at, answer)| (at >= version).then_some(answer))
    }

    /// Keeps `answer` unless a newer one is kept already.
    fn keep(&self, version: i64, answer: Arc<Rankings>) {
        if let Ok(mut kept) = self.kept.lock()
            && kept.as_ref().is_none_or(|(at, _)| *at < version)
        {
            *kept = Some((version, answer));
        }
    }
}

/// The kept rankings (see the module's documentation).
#[derive(Debug)]
pub struct RankingCache {
    slots: TtlCache<Key, Arc<Slot>>,
    ttl: Duration,
    fresh_wait: Duration,
}

impl RankingCache {
    /// At most `entries` kept answers, each for at most `ttl`; a request
    /// waits up to `fresh_wait` for a recomputation.
    pub fn new(entries: usize, ttl: Duration, fresh_wait: Duration) -> Self {
        Self {
            slots: TtlCache::new(entries),
            ttl,
            fresh_wait,
        }
    }

    /// The rankings of the request's project for `filter` and `limit`,
    /// as of rollup `version`; when the version has moved on and the new
    /// answer takes longer than `fresh_wait`, the answer kept from before.
    pub async fn rankings(
        &self,
        db: &Db,
        ctx: &TenantContext,
        filter: &DashboardFilter,
        limit: i64,
        version: i64,
    ) -> Result<Arc<Rankings>, DbError> {
        let key = Key {
            project_id: ctx.project().ok_or(DbError::NoProject)?.project_id,
            filter: filter.clone(),
            limit,
        };
        let slot = self
            .slots
            .get_or_insert_with(key.clone(), self.ttl, Arc::default);
        if let Some(answer) = slot.kept_at(version) {
            return Ok(answer);
        }
        let Some((_, before)) = slot.kept() else {
            // The first answer: computed here, once for concurrent requests.
            let _one_at_a_time = slot.fill.lock().await;
            if let Some((_, answer)) = slot.kept() {
                return Ok(answer);
            }
            let answer = Arc::new(read(db, ctx, &key).await?);
            slot.keep(version, answer.clone());
            return Ok(answer);
        };
        let filled = slot.filled.notified();
        tokio::pin!(filled);
        filled.as_mut().enable();
        start_fill(&slot, db, ctx, &key, version);
        if let Some(answer) = slot.kept_at(version) {
            return Ok(answer);
        }
        // A timeout is the kept answer's case, handled below.
        let _ = tokio::time::timeout(self.fresh_wait, filled).await;
        Ok(slot.kept().map_or(before, |(_, answer)| answer))
    }
}

/// Starts computing `slot`'s answer at `version` on its own task (which
/// outlives the request), unless a computation is running already.
fn start_fill(slot: &Arc<Slot>, db: &Db, ctx: &TenantContext, key: &Key, version: i64) {
    let Ok(one_at_a_time) = slot.fill.clone().try_lock_owned() else {
        return;
    };
    let (slot, db, ctx, key) = (slot.clone(), db.clone(), ctx.clone(), key.clone());
    tokio::spawn(async move {
        if slot.kept_at(version).is_none() {
            match read(&db, &ctx, &key).await {
                Ok(answer) => slot.keep(version, Arc::new(answer)),
                Err(error) => tracing::warn!(
                    error = %tenant_core::error::error_chain(&error),
                    "rankings not recomputed; the kept ones are served"
                ),
            }
        }
        drop(one_at_a_time);
        slot.filled.notify_waiters();
    });
}

/// The four rankings of `key` read in one transaction of the request's
/// project, each compared with the period before the filter's.
async fn read(db: &Db, ctx: &TenantContext, key: &Key) -> Result<Rankings, DbError> {
    let Key {
        project_id,
        filter,
        limit,
    } = key;
    let (project_id, limit, previous) = (*project_id, *limit, &filter.previous());
    let tx = db.tenant_tx(ctx).await?;
    let top_failing_tests = test_rankings::rank_tests(
        &tx,
        project_id,
        filter,
        previous,
        TestMetric::Failures,
        limit,
    )
    .await?;
    let flakiest_tests =
        test_rankings::rank_tests(&tx, project_id, filter, previous, TestMetric::Flaky, limit)
            .await?;
    let slowest_tests =
        test_rankings::slowest_tests(&tx, project_id, filter, previous, limit).await?;
    let top_groups = rank_groups(&tx, project_id, filter, previous, limit).await?;
    tx.commit().await?;
    Ok(Rankings {
        from: filter.from,
        to: filter.to,
        top_failing_tests,
        top_groups,
        flakiest_tests,
        slowest_tests,
    })
}
