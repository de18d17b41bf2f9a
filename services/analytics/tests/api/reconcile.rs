//! The reconciliation: a change that published no event still reaches the
//! rollups, within a bounded number of rounds.

use uuid::Uuid;

use crate::helpers::{DEADLINE, Stack, kept_events, member, pass, project_of};

#[tokio::test]
async fn an_upload_to_a_finished_build_shows_after_a_reconciliation_round() {
    let stack = Stack::start_with(&[
        ("service.reconcile_interval_secs", "1".to_owned()),
        ("service.reconcile_slices_per_round", "1".to_owned()),
    ])
    .await;
    let ctx = member(Uuid::now_v7());
    let build = stack
        .build(&ctx, "ci", "main", &[pass("a", 5)], "passed")
        .await;
    let summary = stack.wait_for_builds(&ctx, 1).await;
    assert_eq!(summary["period"]["tests"], 1);
    // Late results: an upload of passing tests to a finished build
    // publishes no event at all.
    stack
        .upload(&ctx, build, &[pass("b", 5), pass("c", 5)])
        .await;
    let summary =
        test_support::eventually("a round to count the late results", DEADLINE, || async {
            let summary = stack.dashboard(&ctx, "summary", "").await.expect(200);
            (summary["period"]["tests"] == 3).then_some(summary)
        })
        .await;
    assert_eq!(
        [&summary["period"]["failed"], &summary["period"]["passed"]],
        [0, 3]
    );
    let admin = stack.analytics.database().admin_client().await;
    let kinds: Vec<String> = kept_events(&admin, project_of(&ctx))
        .await
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(
        kinds,
        ["build.completed"],
        "no event told analytics about the late results"
    );
}
