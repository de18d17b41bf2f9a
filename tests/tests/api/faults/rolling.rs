//! Rolling restarts under a fixed-rate load, of a backend and of the
//! gateway: each replica in turn leaves the endpoints, drains (what
//! SIGTERM starts) and is replaced; not one request fails.

use std::time::{Duration, Instant};

use test_support::TestApp;

use super::balancer::Balancer;
use super::load::Load;
use crate::isolation::FullPlatform;

/// Longer than the gateway's idle timeout for upstream connections (and
/// the test client's), as `server.drain_delay_ms` is in production: every
/// pooled connection to a draining replica is closed by an answer or
/// expires before the replica stops.
/// A replica drains and stops within this long: its drain delay plus the
/// shutdown timeout for requests in flight, with room for a loaded machine.
const STOP_WITHIN: Duration = Duration::from_secs(30);

fn drain_delay() -> (&'static str, String) {
    let delay = api_gateway::proxy::UPSTREAM_IDLE_TIMEOUT + Duration::from_millis(500);
    ("server.drain_delay_ms", delay.as_millis().to_string())
}

async fn replica(of: &TestApp) -> TestApp {
    TestApp::spawn_on(
        &failure_service::SPEC,
        failure_service::build,
        of.shared_database(),
        &[drain_delay()],
    )
    .await
}

#[tokio::test]
async fn a_rolling_restart_of_the_failure_service_fails_no_request() {
    let first = TestApp::spawn(
        &failure_service::SPEC,
        failure_service::build,
        &[drain_delay()],
    )
    .await;
    let second = replica(&first).await;
    let balancer = Balancer::start().await;
    balancer.add(&first.url(""));
    balancer.add(&second.url(""));
    // The platform's own replica stays out of the balancer: the new
    // replicas are made beside it, on its database.
    let full = FullPlatform::start_with(
        replica(&first).await,
        &[("service.upstreams.failure.url", balancer.url())],
    )
    .await;
    let owner = full.platform.sign_up_and_log_in("owner@example.com").await;
    full.platform.create_project(&owner, "shop").await;
    full.raise_plan(&full.platform_admin().await, "shop").await;
    let key = full.platform.create_api_key(&owner, "shop").await;

    let load = Load::start(&full, "shop", &key, Duration::from_millis(50));
    let started = Instant::now();
    test_support::app::eventually("the load to run", Duration::from_secs(10), || async {
        load.all_succeeded_after(started).then_some(())
    })
    .await;

    let mut replaced = Vec::new();
    for old in [first, second] {
        balancer.remove(&old.url(""));
        super::within("the old replica to drain and stop", STOP_WITHIN, old.stop()).await;
        let new = replica(&full.failure).await;
        balancer.add(&new.url(""));
        let since = Instant::now();
        test_support::app::eventually("the load to go on", Duration::from_secs(10), || async {
            load.all_succeeded_after(since).then_some(())
        })
        .await;
        replaced.push(new);
    }
    let record = load.finish().await;
    record.assert_none_failed("rolling restart of the failure service");
}

#[tokio::test]
async fn a_rolling_restart_of_the_gateway_fails_no_request() {
    let full = FullPlatform::start(&[drain_delay()]).await;
    let owner = full.platform.sign_up_and_log_in("owner@example.com").await;
    full.platform.create_project(&owner, "shop").await;
    full.raise_plan(&full.platform_admin().await, "shop").await;
    let key = full.platform.create_api_key(&owner, "shop").await;
    // Two more replicas behind the balancer; the platform's own gateway
    // stays out of it.
    let replicas = [
        full.platform.another_gateway().await,
        full.platform.another_gateway().await,
    ];
    let balancer = Balancer::start().await;
    for replica in &replicas {
        balancer.add(&replica.url(""));
    }

    let load = Load::start_at(&balancer.url(), "shop", &key, Duration::from_millis(50));
    let started = Instant::now();
    test_support::app::eventually("the load to run", Duration::from_secs(10), || async {
        load.all_succeeded_after(started).then_some(())
    })
    .await;

    let mut replaced = Vec::new();
    for old in replicas {
        balancer.remove(&old.url(""));
        super::within("the old replica to drain and stop", STOP_WITHIN, old.stop()).await;
        let new = full.platform.another_gateway().await;
        balancer.add(&new.url(""));
        let since = Instant::now();
        test_support::app::eventually("the load to go on", Duration::from_secs(10), || async {
            load.all_succeeded_after(since).then_some(())
        })
        .await;
        replaced.push(new);
    }
    let record = load.finish().await;
    record.assert_none_failed("rolling restart of the gateway");
}
