//! Row level security end to end: no dashboard shows another project's
//! numbers, whatever the filters name, and the overview shows exactly the
//! caller's projects (as the real project service lists them).

use test_support::{TestApp, contexts};
use uuid::Uuid;

use crate::helpers::{Stack, fail, member, pass, project_of, viewer};

/// Project A: one build on main; project B: two builds on main, so every
/// count says whose it is.
async fn two_projects(stack: &Stack) -> (Uuid, Uuid) {
    let a = member(Uuid::now_v7());
    let b = member(Uuid::now_v7());
    stack
        .build(&a, "ci", "main", &[pass("t", 5)], "passed")
        .await;
    for _ in 0..2 {
        stack
            .build(
                &b,
                "ci",
                "main",
                &[fail("t", "java.lang.IllegalStateException")],
                "failed",
            )
            .await;
    }
    stack.wait_for_builds(&a, 1).await;
    stack.wait_for_builds(&b, 2).await;
    (project_of(&a), project_of(&b))
}

#[tokio::test]
async fn no_dashboard_shows_another_projects_numbers_whatever_the_filters_name() {
    let stack = Stack::start().await;
    let (a, b) = two_projects(&stack).await;
    let reader = viewer(a);
    for what in ["summary", "trends", "rankings", "mttr"] {
        let path = format!("/v1/projects/{b}/analytics/{what}");
        stack
            .analytics
            .get(&path, &reader)
            .await
            .expect_problem(400, "project.context_mismatch");
        let path = format!("/v1/projects/{a}/analytics/{what}?project={b}");
        stack
            .analytics
            .get(&path, &reader)
            .await
            .expect_problem(400, "request.invalid_query");
    }
    let summary = stack
        .dashboard(&reader, "summary", "branch=main&job=ci")
        .await
        .expect(200);
    assert_eq!(
        [&summary["period"]["builds"], &summary["period"]["failed"]],
        [1, 0]
    );
    let rankings = stack.dashboard(&reader, "rankings", "").await.expect(200);
    assert_eq!(
        rankings["top_failing_tests"],
        serde_json::json!([]),
        "B's failures are B's"
    );
    assert_eq!(rankings["top_groups"], serde_json::json!([]));
}

#[tokio::test]
async fn the_runtime_role_sees_only_its_transactions_project_and_only_published_columns() {
    let stack = Stack::start().await;
    let (a, b) = two_projects(&stack).await;
    let app = stack
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

/// A project service (on its own database) where `user` is a member of
/// `projects`.
async fn project_service(user: Uuid, projects: &[Uuid]) -> TestApp {
    let project = TestApp::spawn(
        &project_service::SPEC,
        project_service::build,
        &[(
            "service.key_creator_relay_interval_ms",
            "3600000".to_owned(),
        )],
    )
    .await;
    let admin = project.database().admin_client().await;
    for id in projects {
        let slug = format!("p-{}", &id.simple().to_string()[20..]);
        admin
            .execute(
                "INSERT INTO project.projects (id, slug, name) VALUES ($1, $2, $2)",
                &[id, &slug],
            )
            .await
            .unwrap();
        admin
            .execute(
                "INSERT INTO project.memberships (project_id, user_id, role) VALUES ($1, $2, 'viewer')",
                &[id, &user],
            )
            .await
            .unwrap();
    }
    project
}

#[tokio::test]
async fn the_overview_lists_exactly_the_callers_projects_side_by_side() {
    let user = Uuid::now_v7();
    let mut mine = [Uuid::now_v7(), Uuid::now_v7()];
    mine.sort();
    let projects = project_service(user, &mine).await;
    let stack = Stack::start_with(&[(
        "service.project_url",
        projects.url("").trim_end_matches('/').to_owned(),
    )])
    .await;
    let theirs = Uuid::now_v7();
    for (project, builds) in [(mine[0], 1), (mine[1], 2), (theirs, 3)] {
        let ctx = member(project);
        for _ in 0..builds {
            stack
                .build(
                    &ctx,
                    "ci",
                    "main",
                    &[pass("t", 5), fail("u", "java.io.IOException")],
                    "failed",
                )
                .await;
        }
        stack.wait_for_builds(&ctx, builds).await;
    }
    let overview = stack
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
    assert_eq!(listed, [(mine[0].to_string(), 1), (mine[1].to_string(), 2)]);
    for row in rows {
        assert_eq!(row["pass_rate"], 0.5, "{row}");
        assert_eq!(row["open_groups"], 1, "{row}");
    }
    let stranger = stack
        .analytics
        .get(
            "/v1/analytics/overview",
            &contexts::signed_in(Uuid::now_v7()),
        )
        .await
        .expect(200);
    assert_eq!(stranger["projects"], serde_json::json!([]));
    stack
        .analytics
        .get(
            "/v1/analytics/overview",
            &contexts::api_key(theirs, tenant_core::Role::Member),
        )
        .await
        .expect_problem(403, "auth.user_required");
}

#[tokio::test]
async fn the_overview_policy_shows_only_the_listed_projects_and_allows_no_write() {
    let stack = Stack::start().await;
    let (a, b) = two_projects(&stack).await;
    let app = stack
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
