//! Row level security end to end: no dashboard shows another project's
//! numbers, whatever the filters name, and the overview shows exactly the
//! caller's projects (as the real project service lists them).

use tenant_core::Role;
use test_support::contexts;
use uuid::Uuid;

use crate::helpers::{Platform, Project, Relay, fail, pass};

/// Project A: one build on main; project B: two builds on main, so every
/// count says whose it is.
async fn two_projects(platform: &Platform) -> (Project, Project) {
    let a = platform.new_project().await;
    let b = platform.new_project().await;
    platform
        .build(&a, "ci", "main", &[pass("t")], "passed")
        .await;
    for _ in 0..2 {
        platform
            .build(
                &b,
                "ci",
                "main",
                &[fail("t", "java.lang.IllegalStateException")],
                "failed",
            )
            .await;
    }
    platform.wait_for_builds(&a, 1).await;
    platform.wait_for_builds(&b, 2).await;
    (a, b)
}

#[tokio::test]
async fn no_dashboard_shows_another_projects_numbers_whatever_the_filters_name() {
    let platform = Platform::start(Relay::ToAnalytics).await;
    let (a, b) = two_projects(&platform).await;
    for what in ["summary", "trends", "rankings", "mttr"] {
        let path = format!("/v1/projects/{}/analytics/{what}", b.id);
        platform
            .analytics
            .get(&path, &a.viewer)
            .await
            .expect_problem(400, "project.context_mismatch");
        let path = format!("/v1/projects/{}/analytics/{what}?project={}", a.id, b.id);
        platform
            .analytics
            .get(&path, &a.viewer)
            .await
            .expect_problem(400, "request.invalid_query");
    }
    let summary = platform
        .dashboard(&a, "summary", "branch=main&job=ci")
        .await
        .expect(200);
    assert_eq!(
        [&summary["period"]["builds"], &summary["period"]["failed"]],
        [1, 0]
    );
    let rankings = platform.dashboard(&a, "rankings", "").await.expect(200);
    assert_eq!(
        rankings["top_failing_tests"],
        serde_json::json!([]),
        "B's failures are B's"
    );
    assert_eq!(rankings["top_groups"], serde_json::json!([]));
}

#[tokio::test]
async fn the_runtime_role_sees_only_its_transactions_project_and_only_published_columns() {
    let platform = Platform::start(Relay::ToAnalytics).await;
    let (a, b) = two_projects(&platform).await;
    let (a, b) = (a.id, b.id);
    let app = platform
        .analytics
        .database()
        .connect_as("analytics_app")
        .await
        .unwrap();
    app.batch_execute(&format!(
        "BEGIN; SELECT set_config('app.project_id', '{a}', true);"
    ))
    .await
    .unwrap();
    for table in [
        "analytics.build_rollups",
        "failure.analytics_builds",
        "failure.analytics_test_results",
    ] {
        let projects: Vec<Uuid> = app
            .query(&format!("SELECT DISTINCT project_id FROM {table}"), &[])
            .await
            .unwrap()
            .iter()
            .map(|row| row.get(0))
            .collect();
        assert_eq!(projects, vec![a], "{table}");
    }
    let named = app
        .query(
            "SELECT count(*) FROM analytics.build_rollups WHERE project_id = $1",
            &[&b],
        )
        .await
        .unwrap();
    assert_eq!(named[0].get::<_, i64>(0), 0, "naming B's id finds nothing");
    app.batch_execute("ROLLBACK").await.unwrap();
    for private in [
        "SELECT message FROM failure.failures",
        "SELECT * FROM failure.uploads",
        "SELECT stack_trace FROM failure.failure_groups",
        "SELECT payload FROM failure.outbox",
    ] {
        let error = app.query(private, &[]).await.unwrap_err();
        assert_eq!(
            error.code(),
            Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE),
            "{private}"
        );
    }
    let error = app
        .execute("DELETE FROM failure.analytics_builds", &[])
        .await
        .unwrap_err();
    assert_eq!(
        error.code(),
        Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE)
    );
}

#[tokio::test]
async fn the_overview_lists_exactly_the_callers_projects_side_by_side() {
    let platform = Platform::start(Relay::ToAnalytics).await;
    let user = Uuid::now_v7();
    let mut mine = [platform.new_project().await, platform.new_project().await];
    mine.sort_by_key(|project| project.id);
    for project in &mine {
        platform.add_member(project.id, user, Role::Viewer).await;
    }
    let theirs = platform.new_project().await;
    for (project, builds) in [(&mine[0], 1), (&mine[1], 2), (&theirs, 3)] {
        for _ in 0..builds {
            platform
                .build(
                    project,
                    "ci",
                    "main",
                    &[pass("t"), fail("u", "java.io.IOException")],
                    "failed",
                )
                .await;
        }
        platform.wait_for_builds(project, builds).await;
    }
    let overview = platform
        .analytics
        .get("/v1/analytics/overview", &contexts::signed_in(user))
        .await
        .expect(200);
    let rows = overview["projects"].as_array().unwrap();
    let listed: Vec<(String, i64)> = rows
        .iter()
        .map(|p| {
            (
                p["project_id"].as_str().unwrap().to_owned(),
                p["builds"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        [(mine[0].id.to_string(), 1), (mine[1].id.to_string(), 2)]
    );
    for row in rows {
        assert_eq!(row["pass_rate"], 0.5, "{row}");
        assert_eq!(row["open_groups"], 1, "{row}");
    }
    let stranger = platform
        .analytics
        .get(
            "/v1/analytics/overview",
            &contexts::signed_in(Uuid::now_v7()),
        )
        .await
        .expect(200);
    assert_eq!(stranger["projects"], serde_json::json!([]));
    platform
        .analytics
        .get("/v1/analytics/overview", &theirs.ci)
        .await
        .expect_problem(403, "auth.user_required");
}

#[tokio::test]
async fn the_overview_policy_shows_only_the_listed_projects_and_allows_no_write() {
    let platform = Platform::start(Relay::ToAnalytics).await;
    let (a, b) = two_projects(&platform).await;
    let (a, b) = (a.id, b.id);
    let app = platform
        .analytics
        .database()
        .connect_as("analytics_app")
        .await
        .unwrap();
    app.batch_execute(&format!(
        "BEGIN; SELECT set_config('app.member_project_ids', '{{{a}}}', true);"
    ))
    .await
    .unwrap();
    let seen: Vec<Uuid> = app
        .query(
            "SELECT DISTINCT project_id FROM analytics.daily_rollups",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(seen, vec![a]);
    let hidden = app
        .query("SELECT count(*) FROM analytics.build_rollups", &[])
        .await
        .unwrap();
    assert_eq!(
        hidden[0].get::<_, i64>(0),
        0,
        "tables without the policy show nothing"
    );
    let updated = app
        .execute(
            "UPDATE analytics.daily_rollups SET builds = 0 WHERE project_id = $1",
            &[&a],
        )
        .await
        .unwrap();
    assert_eq!(updated, 0, "the policy is for reading only");
    app.batch_execute("ROLLBACK").await.unwrap();
    let _ = b;
}
