//! A build's quality gate on a history built through the failure service:
//! each rule kind's result on numbers worked out by hand, `pending` before
//! the build finishes, quarantined tests and muted groups left out, and
//! newly failing tests counted against the last good build.

use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{
    Platform, Project, Relay, error, fail, failing_tests, pass, rule_of, rules_path, skip, title,
};

/// Every rule kind on `main`, and one on release branches that a `main`
/// build must not be judged by.
async fn every_rule(platform: &Platform, project: &Project) {
    platform
        .rule(project, "few failures", "max_failures", Some(2.0), "main")
        .await;
    platform
        .rule(project, "pass rate", "min_pass_rate", Some(50.0), "main")
        .await;
    platform
        .rule(project, "no new groups", "no_new_groups", None, "main")
        .await;
    platform
        .rule(project, "no product bugs", "no_product_bugs", None, "main")
        .await;
    platform
        .rule(
            project,
            "few newly failing",
            "max_newly_failing",
            Some(1.0),
            "main",
        )
        .await;
    platform
        .rule(project, "enough tests", "min_tests", Some(4.0), "main")
        .await;
    platform
        .rule(
            project,
            "releases clean",
            "max_failures",
            Some(0.0),
            "release/*",
        )
        .await;
}

/// The baseline: `t3` fails with problem A (CI still called it passed).
async fn baseline(platform: &Platform, project: &Project) -> Uuid {
    platform
        .build(
            project,
            "ci",
            "main",
            &[pass("t1"), pass("t2"), fail("t3", "A"), pass("t4")],
            "passed",
        )
        .await
}

/// The build judged: t1 passes, t2 fails with B (new), t3 with A again,
/// t4 is skipped and the new test t5 errors with C (new).
async fn judged_build(platform: &Platform, project: &Project) -> Uuid {
    let build = platform.create_build(project, "ci", "main").await;
    platform
        .upload(
            project,
            build,
            &[
                pass("t1"),
                fail("t2", "B"),
                fail("t3", "A"),
                skip("t4"),
                error("t5", "C"),
            ],
        )
        .await;
    build
}

fn actual_and_status(gate: &Value, kind: &str) -> (Value, String) {
    let rule = rule_of(gate, kind);
    (
        rule["actual"].clone(),
        rule["status"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test]
async fn each_rule_kind_is_judged_on_a_history_whose_answer_is_known() {
    let platform = Platform::start(Relay::Nowhere).await;
    let project = platform.new_project().await;
    every_rule(&platform, &project).await;
    let first = baseline(&platform, &project).await;
    let build = judged_build(&platform, &project).await;
    let (_, group_b, _) = platform.failure_of(&project, build, "t2").await;
    platform.label(&project, group_b, "product_bug").await;
    platform.finish(&project, build, "failed").await;

    let gate = platform.gate(&project, build).await.expect(200);
    assert_eq!(gate["status"], "failed", "{gate}");
    assert_eq!(gate["build_id"], build.to_string());
    assert_eq!(gate["baseline_build_id"], first.to_string());
    assert_eq!(gate["reason"], Value::Null);
    assert!(gate["evaluated_at"].is_string());
    // The release rule does not apply to main.
    assert_eq!(gate["rules"].as_array().unwrap().len(), 6, "{gate}");

    // 3 failing of 5 tests; 1 passed of the 4 that ran.
    assert_eq!(
        actual_and_status(&gate, "max_failures"),
        (json!(3), "failed".into())
    );
    let failures = rule_of(&gate, "max_failures");
    assert_eq!(failures["threshold"], json!(2));
    assert_eq!(failures["summary"], "3 failures, at most 2 allowed");
    assert_eq!(
        failing_tests(failures),
        [title("t2"), title("t3"), title("t5")]
    );
    assert!(failures["failures"][0]["failure_id"].is_string());
    assert_eq!(failures["failures"][0]["group_id"], group_b.to_string());

    assert_eq!(
        actual_and_status(&gate, "min_pass_rate"),
        (json!(25.0), "failed".into())
    );
    // B and C are first seen here; A was seen in the baseline.
    let new_groups = rule_of(&gate, "no_new_groups");
    assert_eq!(
        (new_groups["actual"].clone(), new_groups["status"].clone()),
        (json!(2), json!("failed"))
    );
    assert_eq!(failing_tests(new_groups), [title("t2"), title("t5")]);
    let bugs = rule_of(&gate, "no_product_bugs");
    assert_eq!(bugs["actual"], json!(1));
    assert_eq!(failing_tests(bugs), [title("t2")]);
    // t2 passed in the baseline, t5 was not in it; t3 failed there too.
    let newly = rule_of(&gate, "max_newly_failing");
    assert_eq!(
        (newly["actual"].clone(), newly["status"].clone()),
        (json!(2), json!("failed"))
    );
    assert_eq!(failing_tests(newly), [title("t2"), title("t5")]);
    // Four tests ran (the skipped one does not count): exactly enough.
    assert_eq!(
        actual_and_status(&gate, "min_tests"),
        (json!(4), "passed".into())
    );
    assert_eq!(rule_of(&gate, "min_tests")["failures"], json!([]));

    // The baseline itself: its one failure is within every limit, but its
    // group was new then, and without an earlier good build every failing
    // test is newly failing.
    let gate = platform.gate(&project, first).await.expect(200);
    assert_eq!(gate["baseline_build_id"], Value::Null);
    assert_eq!(
        actual_and_status(&gate, "max_failures"),
        (json!(1), "passed".into())
    );
    assert_eq!(
        actual_and_status(&gate, "min_pass_rate"),
        (json!(75.0), "passed".into())
    );
    assert_eq!(
        actual_and_status(&gate, "no_new_groups"),
        (json!(1), "failed".into())
    );
    assert_eq!(
        actual_and_status(&gate, "no_product_bugs"),
        (json!(0), "passed".into())
    );
    assert_eq!(
        actual_and_status(&gate, "max_newly_failing"),
        (json!(1), "passed".into())
    );
}

#[tokio::test]
async fn the_gate_is_pending_until_the_build_finishes_then_stays_the_same() {
    let platform = Platform::start(Relay::Nowhere).await;
    let project = platform.new_project().await;
    platform
        .rule(&project, "no failures", "max_failures", Some(0.0), "*")
        .await;
    let build = platform.create_build(&project, "ci", "main").await;
    let gate = platform.gate(&project, build).await.expect(200);
    assert_eq!(
        (gate["status"].clone(), gate["reason"].clone()),
        (json!("pending"), json!("the build is still running"))
    );
    assert_eq!(gate["rules"], json!([]));
    assert_eq!(gate["evaluated_at"], Value::Null);

    platform.upload(&project, build, &[fail("t1", "A")]).await;
    assert_eq!(
        platform.gate(&project, build).await.expect(200)["status"],
        "pending"
    );
    platform.finish(&project, build, "failed").await;
    let first = platform.gate(&project, build).await;
    assert_eq!(first.body["status"], "failed", "{}", first.text);

    // Stored once: a later rule change does not rewrite the answer.
    let rules = platform
        .analytics
        .get(&rules_path(&project), &project.viewer)
        .await
        .expect(200);
    let rule = rules["items"][0]["id"].as_str().unwrap();
    platform
        .analytics
        .patch(
            &format!("{}/{rule}", rules_path(&project)),
            &project.admin,
            json!({"threshold": 5}),
        )
        .await
        .expect(200);
    let again = platform.gate(&project, build).await;
    assert_eq!(again.text, first.text);
}

#[tokio::test]
async fn a_project_without_a_matching_rule_passes_with_no_rules() {
    let platform = Platform::start(Relay::Nowhere).await;
    let project = platform.new_project().await;
    platform
        .rule(&project, "release", "max_failures", Some(0.0), "release/*")
        .await;
    let build = platform
        .build(&project, "ci", "main", &[fail("t1", "A")], "failed")
        .await;
    let gate = platform.gate(&project, build).await.expect(200);
    assert_eq!(
        (gate["status"].clone(), gate["rules"].clone()),
        (json!("passed"), json!([]))
    );
    // A release branch is judged by it.
    let release = platform
        .build(&project, "ci", "release/1.0", &[fail("t1", "A")], "failed")
        .await;
    let gate = platform.gate(&project, release).await.expect(200);
    assert_eq!(gate["status"], "failed");
}

#[tokio::test]
async fn quarantined_tests_and_muted_groups_never_count() {
    let platform = Platform::start(Relay::Nowhere).await;
    let project = platform.new_project().await;
    every_rule(&platform, &project).await;
    baseline(&platform, &project).await;
    let build = judged_build(&platform, &project).await;
    let (_, group_b, test_2) = platform.failure_of(&project, build, "t2").await;
    let (_, group_c, _) = platform.failure_of(&project, build, "t5").await;
    platform.label(&project, group_b, "product_bug").await;
    // t2 (B, a product bug) quarantined; C muted. Only t3 (A) is left.
    platform.quarantine(&project, test_2).await;
    platform.mute(&project, group_c).await;
    platform.finish(&project, build, "failed").await;

    let gate = platform.gate(&project, build).await.expect(200);
    assert_eq!(
        actual_and_status(&gate, "max_failures"),
        (json!(1), "passed".into())
    );
    assert_eq!(
        failing_tests(rule_of(&gate, "max_failures")),
        Vec::<String>::new()
    );
    // t1 passed, t3 failed: the quarantined and muted results are out.
    assert_eq!(
        actual_and_status(&gate, "min_pass_rate"),
        (json!(50.0), "passed".into())
    );
    assert_eq!(
        actual_and_status(&gate, "no_new_groups"),
        (json!(0), "passed".into())
    );
    assert_eq!(
        actual_and_status(&gate, "no_product_bugs"),
        (json!(0), "passed".into())
    );
    assert_eq!(
        actual_and_status(&gate, "max_newly_failing"),
        (json!(0), "passed".into())
    );
    // They ran, though.
    assert_eq!(
        actual_and_status(&gate, "min_tests"),
        (json!(4), "passed".into())
    );
    assert_eq!(gate["status"], "passed", "{gate}");
}

#[tokio::test]
async fn newly_failing_tests_are_counted_against_the_last_good_build_of_the_job_and_branch() {
    let platform = Platform::start(Relay::Nowhere).await;
    let project = platform.new_project().await;
    platform
        .rule(
            &project,
            "no newly failing",
            "max_newly_failing",
            Some(0.0),
            "*",
        )
        .await;
    let good = platform
        .build(&project, "ci", "main", &[pass("t1"), pass("t2")], "passed")
        .await;
    // Not good: a failed build of the job on main.
    platform
        .build(
            &project,
            "ci",
            "main",
            &[fail("t1", "A"), pass("t2")],
            "failed",
        )
        .await;
    // Good, but of another job, and of another branch.
    let other_job = platform.create_build(&project, "nightly", "main").await;
    platform
        .upload(&project, other_job, &[fail("t1", "A"), fail("t2", "B")])
        .await;
    platform.finish(&project, other_job, "passed").await;
    platform
        .build(
            &project,
            "ci",
            "dev",
            &[fail("t1", "A"), fail("t2", "B")],
            "passed",
        )
        .await;

    let build = platform
        .build(
            &project,
            "ci",
            "main",
            &[fail("t1", "A"), fail("t2", "B")],
            "failed",
        )
        .await;
    let gate = platform.gate(&project, build).await.expect(200);
    assert_eq!(gate["baseline_build_id"], good.to_string(), "{gate}");
    let rule = rule_of(&gate, "max_newly_failing");
    // Against build 2, only t2 would be newly failing; against 3 or 4, none.
    assert_eq!(rule["actual"], json!(2));
    assert_eq!(failing_tests(rule), [title("t1"), title("t2")]);
    assert_eq!(
        rule["summary"],
        format!("2 tests newly failing against build {good}, at most 0 allowed")
    );
}

#[tokio::test]
async fn the_consumer_can_evaluate_a_finished_build_eagerly_and_the_endpoint_reads_it() {
    let platform = Platform::start(Relay::Nowhere).await;
    let project = platform.new_project().await;
    platform
        .rule(&project, "no failures", "max_failures", Some(0.0), "*")
        .await;
    let build = platform
        .build(&project, "ci", "main", &[pass("t1")], "passed")
        .await;
    let db = platform.analytics_db().await;
    let eager = analytics_service::jobs::gate_evaluation::evaluate_on_build_completed(
        &db, project.id, build,
    )
    .await
    .unwrap();
    assert_eq!(eager.status.as_str(), "passed");
    let gate = platform.gate(&project, build).await.expect(200);
    assert_eq!(gate["evaluated_at"], json!(eager.evaluated_at));
    assert_eq!(
        platform
            .analytics
            .count_rows("analytics.quality_gate_evaluations")
            .await,
        1
    );
    // An unknown build is not evaluated.
    let missing = analytics_service::jobs::gate_evaluation::evaluate_on_build_completed(
        &db,
        project.id,
        Uuid::now_v7(),
    )
    .await;
    assert!(matches!(
        missing,
        Err(analytics_service::error::AnalyticsError::BuildNotFound)
    ));
}

#[tokio::test]
async fn a_finished_build_whose_failures_are_not_grouped_yet_is_pending() {
    let platform = Platform::start(Relay::Nowhere).await;
    let project = platform.new_project().await;
    platform
        .rule(&project, "no failures", "max_failures", Some(0.0), "*")
        .await;
    let build = platform.create_build(&project, "ci", "main").await;
    platform.upload(&project, build, &[fail("t1", "A")]).await;
    let (failure, group, _) = platform.failure_of(&project, build, "t1").await;
    // As a failure stored before grouping: no group.
    let admin = platform.database.admin_client().await;
    let ungroup = "UPDATE failure.failures SET group_id = $2 WHERE id = $1";
    admin
        .execute(ungroup, &[&failure, &None::<Uuid>])
        .await
        .unwrap();
    platform.finish(&project, build, "failed").await;
    let gate = platform.gate(&project, build).await.expect(200);
    assert_eq!(
        (gate["status"].clone(), gate["reason"].clone()),
        (
            json!("pending"),
            json!("the build's failures are not analysed yet")
        )
    );
    assert_eq!(
        platform
            .analytics
            .count_rows("analytics.quality_gate_evaluations")
            .await,
        0
    );
    admin
        .execute(ungroup, &[&failure, &Some(group)])
        .await
        .unwrap();
    let gate = platform.gate(&project, build).await.expect(200);
    assert_eq!(gate["status"], "failed");
}
