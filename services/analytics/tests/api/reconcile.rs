//! The reconciliation: a change that published no event still reaches the
//! rollups, within a bounded number of rounds.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::helpers::{DEADLINE, Platform, Relay, kept_events, pass};

/// The project's rollup version and when a round last computed one of
/// its slices again, as one snapshot.
async fn version_and_last_round(
    admin: &tokio_postgres::Client,
    project_id: Uuid,
) -> (i64, DateTime<Utc>) {
    let row = admin
        .query_one(
            "SELECT (SELECT version FROM analytics.rollup_versions WHERE project_id = $1),
                    (SELECT max(refreshed_at) FROM analytics.rollup_slices WHERE project_id = $1)",
            &[&project_id],
        )
        .await
        .unwrap();
    (row.get(0), row.get(1))
}

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
    let rankings = platform
        .dashboard(&project, "rankings", "")
        .await
        .expect(200);
    assert_eq!(rankings["slowest_tests"].as_array().unwrap().len(), 1);
    // Late results: an upload of passing tests to a finished build
    // publishes no event at all.
    platform
        .upload(&project, build, &[pass("b").taking(900), pass("c")])
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
    // The rankings kept from before the round are not served: the round
    // that found the late results increased the rollup version.
    let rankings = platform
        .dashboard(&project, "rankings", "")
        .await
        .expect(200);
    assert_eq!(rankings["slowest_tests"][0]["name"], "b");
    assert_eq!(rankings["slowest_tests"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn rounds_that_find_nothing_changed_keep_the_rollup_version() {
    let platform = Platform::start_with(
        Relay::ToAnalytics,
        &[("service.reconcile_interval_secs", "1".to_owned())],
    )
    .await;
    let project = platform.new_project().await;
    platform
        .build(&project, "ci", "main", &[pass("a")], "passed")
        .await;
    platform.wait_for_builds(&project, 1).await;
    let admin = platform.analytics.database().admin_client().await;
    let (version, computed) = version_and_last_round(&admin, project.id).await;
    // Two rounds later: each computed the slice again and found what the
    // build's event had computed.
    let mut last = computed;
    for round in ["a first round", "a second round"] {
        let (now, at) = test_support::eventually(round, DEADLINE, || async {
            let (now, at) = version_and_last_round(&admin, project.id).await;
            (at > last).then_some((now, at))
        })
        .await;
        assert_eq!(now, version, "{round} changed nothing, so kept the version");
        last = at;
    }
}
