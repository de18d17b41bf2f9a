//! A backend crashing under load and coming back: the gateway's breaker
//! opens and answers 503 with `Retry-After` at once instead of waiting on
//! a dead service, then closes again by itself.

use std::time::{Duration, Instant};

use test_support::TestApp;

use super::cut::Cuttable;
use super::load::Load;
use crate::isolation::FullPlatform;

/// How long the backend is down.
const DOWN: Duration = Duration::from_secs(3);
/// The breaker's pause before it lets a probe through (set below).
const BREAKER_OPEN: Duration = Duration::from_millis(500);
/// A refusal while the backend is down must come at least this fast.
const FAIL_FAST: Duration = Duration::from_secs(1);
/// Requests in flight when the backend went away may break off (502);
/// those sent after this long must be refused cleanly.
const IN_FLIGHT: Duration = Duration::from_millis(200);

#[tokio::test]
async fn a_crashed_backend_opens_the_breaker_and_it_closes_when_the_backend_returns() {
    let failure = TestApp::spawn(&failure_service::SPEC, failure_service::build, &[]).await;
    let address = failure
        .url("")
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    let cut = Cuttable::start(address).await;
    let full = FullPlatform::start_with(
        failure,
        &[
            ("service.upstreams.failure.url", cut.url()),
            ("service.breaker_failure_threshold", "3".to_owned()),
            (
                "service.breaker_open_ms",
                BREAKER_OPEN.as_millis().to_string(),
            ),
        ],
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
    let opened_before = full.platform.metric("gateway_breaker_opened_total").await;

    let cut_at = Instant::now();
    cut.cut();
    let opened = test_support::app::poll_until(DOWN, Duration::from_millis(20), || async {
        (full.platform.metric("gateway_breaker_opened_total").await > opened_before).then_some(())
    })
    .await;
    assert!(
        opened.is_some(),
        "the breaker did not open; answers since the crash: {:?}",
        load.statuses_after(cut_at)
    );
    tokio::time::sleep(DOWN.saturating_sub(cut_at.elapsed())).await;

    let restored_at = Instant::now();
    cut.restore().await;
    test_support::app::eventually(
        "the breaker to close and every request to succeed",
        BREAKER_OPEN * 4 + Duration::from_secs(2),
        || async { load.all_succeeded_after(restored_at).then_some(()) },
    )
    .await;
    let record = load.finish().await;

    let mut refused = 0;
    for answer in record
        .answers
        .iter()
        .filter(|a| a.sent >= cut_at + IN_FLIGHT)
    {
        if answer.status.is_success() {
            continue;
        }
        refused += 1;
        assert!(
            answer.status == 503 && answer.retry_after,
            "{} while the backend was down: {} {}",
            answer.what,
            answer.status,
            answer.body
        );
        assert!(
            answer.took < FAIL_FAST,
            "{} refused after {:?}",
            answer.what,
            answer.took
        );
    }
    assert!(refused > 0, "nothing was refused: was the backend down?");
}
