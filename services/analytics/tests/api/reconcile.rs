//! The reconciliation: a change that published no event still reaches the
//! rollups, within a bounded number of rounds.

use crate::helpers::{DEADLINE, Platform, Relay, kept_events, pass};

#[tokio::test]
async fn an_upload_to_a_finished_build_shows_after_a_reconciliation_round() {
    let platform = Platform::start_with(
        Relay::ToAnalytics,
        &[
            ("service.reconcile_interval_secs", "1".to_owned()),
            ("service.reconcile_slices_per_round", "1".to_owned()),
        ],
    )
    .await;
    let project = platform.new_project().await;
    let build = platform
        .build(&project, "ci", "main", &[pass("a")], "passed")
        .await;
    let summary = platform.wait_for_builds(&project, 1).await;
    assert_eq!(summary["period"]["tests"], 1);
    // Late results: an upload of passing tests to a finished build
    // publishes no event at all.
    platform
        .upload(&project, build, &[pass("b"), pass("c")])
        .await;
    let summary =
        test_support::eventually("a round to count the late results", DEADLINE, || async {
            let summary = platform
                .dashboard(&project, "summary", "")
                .await
                .expect(200);
            (summary["period"]["tests"] == 3).then_some(summary)
        })
        .await;
    assert_eq!(
        [&summary["period"]["failed"], &summary["period"]["passed"]],
        [0, 3]
    );
    let admin = platform.analytics.database().admin_client().await;
    let kinds: Vec<String> = kept_events(&admin, project.id)
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
