//! SIGTERM to a replica of each backend (auth, project, analytics and the
//! integration gateway) during a fixed-rate load through the gateway: not
//! one request fails; then a rolling restart of every backend, the failure
//! service included, one at a time under one load. The gateway is drilled
//! by its own rolling restart ([`super::rolling`]).
//!
//! What the drill does is what a cluster does to a pod it terminates, in
//! the order it happens there: the replica is told to stop (the shutdown
//! SIGTERM triggers) while it still gets traffic, turns unready, is taken
//! out of the endpoints once its readiness says so, and drains; a new
//! replica joins meanwhile.

use std::time::{Duration, Instant};

use test_support::TestApp;

use super::balancer::Balancer;
use super::load::Load;
use crate::isolation::FullPlatform;

/// The load's rate: one request every this long.
const EVERY: Duration = Duration::from_millis(25);
/// How long the endpoints controller may take to see a replica unready.
const UNREADY_SEEN_WITHIN: Duration = Duration::from_secs(5);

/// A backend behind the gateway that the drill stops.
#[derive(Debug, Clone, Copy)]
enum Backend {
    Auth,
    Project,
    Failure,
    Analytics,
    Integration,
}

/// Every backend, in the order a rolling restart takes them.
const EVERY_BACKEND: [Backend; 5] = [
    Backend::Auth,
    Backend::Project,
    Backend::Failure,
    Backend::Analytics,
    Backend::Integration,
];

impl Backend {
    /// The gateway setting naming this backend's address.
    fn upstream_setting(self) -> &'static str {
        match self {
            Self::Auth => "service.upstreams.auth.url",
            Self::Project => "service.upstreams.project.url",
            Self::Failure => "service.upstreams.failure.url",
            Self::Analytics => "service.upstreams.analytics.url",
            Self::Integration => "service.upstreams.integration.url",
        }
    }

    /// What the load reads from it, through the gateway.
    fn reads(self) -> &'static [&'static str] {
        match self {
            Self::Auth => &["/api/v1/me", "/api/v1/projects/shop/api-keys"],
            Self::Project => &["/api/v1/projects/shop", "/api/v1/projects/shop/members"],
            Self::Failure => &[
                "/api/v1/projects/shop/builds",
                "/api/v2/projects/shop/failures",
            ],
            Self::Analytics => &[
                "/api/v1/projects/shop/analytics/summary",
                "/api/v1/projects/shop/quality-gate-rules",
            ],
            Self::Integration => &[
                "/api/v1/projects/shop/integrations/connections",
                "/api/v1/projects/shop/integrations/rules",
            ],
        }
    }

    /// A new replica on the platform's database for this backend, with a
    /// drain delay longer than the gateway's idle timeout for upstream
    /// connections (as in production): a pooled connection to a draining
    /// replica is closed by an answer or expires before it stops.
    async fn replica(self, full: &FullPlatform) -> TestApp {
        let delay = api_gateway::proxy::UPSTREAM_IDLE_TIMEOUT + Duration::from_millis(500);
        let drain = ("server.drain_delay_ms", delay.as_millis().to_string());
        let platform = &full.platform;
        match self {
            Self::Auth => {
                TestApp::spawn_on(
                    &auth_service::SPEC,
                    auth_service::build,
                    Some(platform.database.clone()),
                    &[drain],
                )
                .await
            }
            Self::Project => {
                TestApp::spawn_on(
                    &project_service::SPEC,
                    project_service::build,
                    Some(platform.database.clone()),
                    &[drain, ("service.auth_url", platform.auth.url(""))],
                )
                .await
            }
            Self::Failure => {
                TestApp::spawn_on(
                    &failure_service::SPEC,
                    failure_service::build,
                    full.failure.shared_database(),
                    &[drain],
                )
                .await
            }
            Self::Analytics => {
                TestApp::spawn_on(
                    &analytics_service::SPEC,
                    analytics_service::build,
                    full.failure.shared_database(),
                    &[
                        drain,
                        (
                            "service.integration_gateway_url",
                            "http://127.0.0.1:9".to_owned(),
                        ),
                        ("service.project_url", platform.project.url("")),
                    ],
                )
                .await
            }
            Self::Integration => {
                TestApp::spawn_on(
                    &integration_gateway::SPEC,
                    integration_gateway::build,
                    full.integration.service.shared_database(),
                    &[
                        drain,
                        ("service.allow_http", "true".to_owned()),
                        ("service.allow_loopback", "true".to_owned()),
                    ],
                )
                .await
            }
        }
    }
}

#[tokio::test]
async fn sigterm_to_an_auth_replica_under_load_fails_no_request() {
    sigterm_drill(Backend::Auth).await;
}

#[tokio::test]
async fn sigterm_to_a_project_replica_under_load_fails_no_request() {
    sigterm_drill(Backend::Project).await;
}

#[tokio::test]
async fn sigterm_to_an_analytics_replica_under_load_fails_no_request() {
    sigterm_drill(Backend::Analytics).await;
}

#[tokio::test]
async fn sigterm_to_an_integration_gateway_replica_under_load_fails_no_request() {
    sigterm_drill(Backend::Integration).await;
}

async fn sigterm_drill(backend: Backend) {
    let full = FullPlatform::start(&[]).await;
    let owner = full.platform.sign_up_and_log_in("owner@example.com").await;
    full.platform.create_project(&owner, "shop").await;
    full.raise_plan(&full.platform_admin().await, "shop").await;

    // Two replicas behind a balancer, and a gateway that reaches the
    // backend only through it.
    let balancer = Balancer::start().await;
    let first = backend.replica(&full).await;
    balancer.add(&first.url(""));
    let second = backend.replica(&full).await;
    balancer.add(&second.url(""));
    let gateway = full
        .another_gateway_with(&[(backend.upstream_setting(), balancer.url())])
        .await;

    let load = Load::reading(
        &gateway.url(""),
        &owner.access_token,
        backend.reads(),
        EVERY,
    );
    let started = Instant::now();
    test_support::app::eventually("the load to run", Duration::from_secs(10), || async {
        load.all_succeeded_after(started).then_some(())
    })
    .await;

    let (terminated_at, stopped_at, third) =
        replace_under_load(&full, backend, &balancer, first, &load).await;

    let record = load.finish().await;
    let during = record
        .answers
        .iter()
        .filter(|a| a.sent >= terminated_at && a.sent <= stopped_at)
        .count();
    assert!(
        during > 10,
        "only {during} requests were sent while {backend:?} drained"
    );
    record.assert_none_failed(&format!("{backend:?}"));
    drop((second, third));
}

/// A surge replica of `backend` joins the balancer, then `old` is
/// terminated while the balancer still sends it requests, leaves the
/// balancer once its readiness says so, and drains; the load must go on.
/// Answers when `old` was told to stop and when it had stopped, and the
/// surge replica.
async fn replace_under_load(
    full: &FullPlatform,
    backend: Backend,
    balancer: &Balancer,
    old: TestApp,
    load: &Load,
) -> (Instant, Instant, TestApp) {
    let surge = backend.replica(full).await;
    balancer.add(&surge.url(""));
    let terminated_at = Instant::now();
    let old_url = old.url("");
    let ready = old.service.admin_url("/readyz");
    let stopping = tokio::spawn(old.stop());
    let client = test_support::http_client();
    assert!(
        test_support::wait_for_status(&client, &ready, 503, UNREADY_SEEN_WITHIN).await,
        "{backend:?} stayed ready after SIGTERM"
    );
    balancer.remove(&old_url);
    super::within(
        "the replica to drain and stop",
        Duration::from_secs(30),
        stopping,
    )
    .await
    .unwrap();
    let stopped_at = Instant::now();
    test_support::app::eventually(
        "the load to go on after the drain",
        Duration::from_secs(10),
        || async { load.all_succeeded_after(stopped_at).then_some(()) },
    )
    .await;
    (terminated_at, stopped_at, surge)
}

#[tokio::test]
async fn a_rolling_restart_of_every_backend_one_at_a_time_under_load_fails_no_request() {
    let full = FullPlatform::start(&[]).await;
    let owner = full.platform.sign_up_and_log_in("owner@example.com").await;
    full.platform.create_project(&owner, "shop").await;
    full.raise_plan(&full.platform_admin().await, "shop").await;

    // Every backend as two replicas behind a balancer of its own, and one
    // gateway that reaches each through its balancer.
    let mut fleets = Vec::new();
    let mut upstreams = Vec::new();
    for backend in EVERY_BACKEND {
        let balancer = Balancer::start().await;
        let replicas = vec![backend.replica(&full).await, backend.replica(&full).await];
        for replica in &replicas {
            balancer.add(&replica.url(""));
        }
        upstreams.push((backend.upstream_setting(), balancer.url()));
        fleets.push((backend, balancer, replicas));
    }
    let gateway = full.another_gateway_with(&upstreams).await;
    let reads: Vec<&'static str> = EVERY_BACKEND
        .iter()
        .flat_map(|backend| backend.reads().iter().copied())
        .collect();
    let load = Load::reading(&gateway.url(""), &owner.access_token, &reads, EVERY);
    let started = Instant::now();
    test_support::app::eventually("the load to run", Duration::from_secs(10), || async {
        load.all_succeeded_after(started).then_some(())
    })
    .await;

    // One backend at a time, each of its replicas in turn.
    let mut kept = Vec::new();
    let mut balancers = Vec::new();
    for (backend, balancer, replicas) in fleets {
        for old in replicas {
            let (_, _, surge) = replace_under_load(&full, backend, &balancer, old, &load).await;
            kept.push(surge);
        }
        balancers.push(balancer);
    }

    let record = load.finish().await;
    record.assert_none_failed("rolling restart of every backend");
    drop((kept, balancers));
}
