//! Fault drills on the whole platform under load: the database going away
//! and coming back, a backend crashing and restarting, a backend's first
//! connection failing, SIGTERM to every backend and rolling restarts. Each
//! fault is made for the test alone, by a proxy it cuts and restores
//! ([`cut::Cuttable`]), a balancer ([`balancer::Balancer`]) or a listener
//! of its own.

mod backend;
pub mod balancer;
mod cut;
mod database;
mod load;
mod redis;
mod retry;
mod rolling;
mod sigterm;

use std::future::Future;
use std::time::Duration;

/// Awaits `future` for at most `limit`, failing the test with `what`
/// otherwise: no wait in these drills is left without a deadline, so a
/// drill that goes wrong on a loaded machine fails with a reason instead
/// of hanging the run.
pub async fn within<T>(what: &str, limit: Duration, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(limit, future)
        .await
        .unwrap_or_else(|_| panic!("waited {limit:?} for {what}"))
}
