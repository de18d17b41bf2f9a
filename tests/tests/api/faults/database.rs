//! PostgreSQL away for ten seconds while CI uploads and people read: the
//! failure service answers 503 with `Retry-After` at once rather than
//! hanging, says it is not ready, recovers by itself within seconds of the
//! database's return, and keeps every upload it acknowledged.

use std::sync::Arc;
use std::time::{Duration, Instant};

use test_support::{TestApp, TestDatabase};

use super::cut::Cuttable;
use super::load::Load;
use crate::isolation::FullPlatform;

/// How long the database is away (the drill the issue asks for).
const OUTAGE: Duration = Duration::from_secs(10);
/// Everything works again within this long of the database's return.
const RECOVERY: Duration = Duration::from_secs(5);
/// The longest a refused request may take: the pool's wait plus a connect
/// attempt (both set below), with room for a loaded machine.
const FAIL_FAST: Duration = Duration::from_secs(4);

/// How the database goes away.
#[derive(Debug, Clone, Copy)]
enum Outage {
    /// The server stopped: connections are refused at once.
    Stopped,
    /// A partition: connections hang until the pool's own timeouts.
    Partitioned,
}

#[tokio::test]
async fn a_stopped_database_fails_fast_recovers_and_loses_no_acknowledged_upload() {
    database_outage(Outage::Stopped).await;
}

#[tokio::test]
async fn a_partitioned_database_fails_fast_recovers_and_loses_no_acknowledged_upload() {
    database_outage(Outage::Partitioned).await;
}

async fn database_outage(outage: Outage) {
    let database = Arc::new(TestDatabase::create().await);
    let (host, port) = database.host_and_port();
    let cut = Cuttable::start(format!("{host}:{port}")).await;
    let failure = TestApp::spawn_on(
        &failure_service::SPEC,
        failure_service::build,
        Some(database.clone()),
        &[
            ("database.host", "127.0.0.1".to_owned()),
            ("database.port", cut.port().to_string()),
            ("database.connect_timeout_ms", "500".to_owned()),
            ("database.pool_wait_timeout_ms", "1000".to_owned()),
            ("database.ready_timeout_ms", "500".to_owned()),
        ],
    )
    .await;
    let full = FullPlatform::start_with(failure, &[]).await;
    let owner = full.platform.sign_up_and_log_in("owner@example.com").await;
    full.platform.create_project(&owner, "shop").await;
    full.raise_plan(&full.platform_admin().await, "shop").await;
    let key = full.platform.create_api_key(&owner, "shop").await;
    let ready = full.failure.service.admin_url("/readyz");
    let client = test_support::http_client();

    let load = Load::start(&full, "shop", &key, Duration::from_millis(100));
    let started = Instant::now();
    test_support::app::eventually("the load to run", Duration::from_secs(10), || async {
        load.all_succeeded_after(started).then_some(())
    })
    .await;

    let cut_at = Instant::now();
    match outage {
        Outage::Stopped => cut.cut(),
        Outage::Partitioned => cut.black_hole(),
    }
    assert!(
        test_support::wait_for_status(&client, &ready, 503, OUTAGE).await,
        "still ready with the database away"
    );
    test_support::app::eventually("a 503 through the gateway", OUTAGE, || async {
        load.saw_after(cut_at, 503).then_some(())
    })
    .await;
    // The outage lasts its full length whatever the checks above took.
    tokio::time::sleep(OUTAGE.saturating_sub(cut_at.elapsed())).await;

    let restored_at = Instant::now();
    cut.restore().await;
    assert!(
        test_support::wait_for_status(&client, &ready, 200, RECOVERY).await,
        "not ready within {RECOVERY:?} of the database's return"
    );
    test_support::app::eventually("every request to succeed again", RECOVERY, || async {
        load.all_succeeded_after(restored_at).then_some(())
    })
    .await;
    let record = load.finish().await;

    for answer in &record.answers {
        let ok = answer.status.is_success() || (answer.status == 503 && answer.retry_after);
        assert!(
            ok,
            "{outage:?}: {} at {:?} after the cut: {} {}",
            answer.what,
            answer.sent.saturating_duration_since(cut_at),
            answer.status,
            answer.body
        );
        assert!(
            answer.status.is_success() || answer.took < FAIL_FAST,
            "{outage:?}: {} refused only after {:?}",
            answer.what,
            answer.took
        );
    }
    let refused = record.answers.iter().filter(|a| a.status == 503).count();
    assert!(refused > 0, "the outage refused nothing: was it on?");

    let admin = database.admin_client().await;
    for upload in &record.uploads {
        let build: uuid::Uuid = upload.build.parse().unwrap();
        let results: i64 = admin
            .query_one(
                "SELECT count(*) FROM failure.test_results WHERE build_id = $1",
                &[&build],
            )
            .await
            .unwrap()
            .get(0);
        if upload.acknowledged {
            assert_eq!(results, 2, "acknowledged upload to {build} lost results");
        } else {
            assert!(
                results == 0 || results == 2,
                "refused upload to {build} left {results} of 2 results"
            );
        }
    }
    assert!(
        record.uploads.iter().filter(|u| u.acknowledged).count() >= 2,
        "too few acknowledged uploads to check"
    );
}
