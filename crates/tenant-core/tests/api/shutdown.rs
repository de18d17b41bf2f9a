//! A shutdown always ends: a worker that cannot stop (its thread blocked by
//! a handler) is left behind once the shutdown timeout and a grace period
//! have passed, instead of holding the process up.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use test_support::eventually;

use crate::probe;

#[tokio::test]
async fn a_stuck_worker_does_not_hold_shutdown_up() {
    let service = probe::spawn_probe(&[
        ("server.shutdown_timeout_secs", "1".to_owned()),
        ("server.workers", "1".to_owned()),
    ]);
    let url = service.url("/stuck");
    let _stuck = tokio::spawn(async move { reqwest::Client::new().get(url).send().await });
    eventually(
        "the stuck request to reach its worker",
        Duration::from_secs(10),
        || async { probe::STUCK_IN_FLIGHT.load(Ordering::SeqCst).then_some(()) },
    )
    .await;

    let started = Instant::now();
    service.stop().await.unwrap();
    // In-flight wait (1 s), then the workers' bound (1 s) and grace (5 s):
    // well before the handler lets its thread go.
    let took = started.elapsed();
    assert!(
        took < probe::STUCK_FOR / 2,
        "shutdown took {took:?}, waiting for the stuck worker"
    );
}
