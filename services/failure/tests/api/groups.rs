//! Failures are stored in groups by signature: the same problem in
//! several builds is one group, counted once per failing test and build.

use serde_json::Value;
use tenant_core::TenantContext;
use test_support::TestApp;
use uuid::Uuid;

use crate::helpers::{self, Body, FailureApp, project_of};

/// A report with one failing test `name`, an `IllegalStateException`
/// about order `order` thrown at `line` of `Cart.java`.
fn failing_report(name: &str, order: u32, line: u32) -> String {
    format!(
        "<testsuite name=\"S\"><testcase classname=\"com.acme.CartTest\" name=\"{name}\">\
         <failure message=\"order {order} is closed\" type=\"java.lang.IllegalStateException\">\
         java.lang.IllegalStateException: order {order} is closed\n\
         \tat com.acme.Cart.add(Cart.java:{line})\n\
         \tat com.acme.CartTest.{name}(CartTest.java:{line})\n\
         </failure></testcase></testsuite>"
    )
}

/// The project's failures, newest first.
async fn failures(app: &TestApp, ctx: &TenantContext) -> Vec<Value> {
    let path = format!("/v1/projects/{}/failures", project_of(ctx));
    let body = app.get(&path, ctx).await.expect(200);
    body["items"].as_array().unwrap().clone()
}

/// `(occurrences, last_build_id)` of a group, read as the admin.
async fn group_row(app: &TestApp, group: &str) -> (i64, Uuid) {
    let admin = app.database().admin_client().await;
    let row = admin
        .query_one(
            "SELECT occurrences, last_build_id FROM failure.failure_groups WHERE id = $1",
            &[&group.parse::<Uuid>().unwrap()],
        )
        .await
        .unwrap();
    (row.try_get(0).unwrap(), row.try_get(1).unwrap())
}

#[tokio::test]
async fn one_problem_in_two_builds_at_shifted_lines_is_one_group_seen_twice() {
    let app = helpers::spawn().await;
    let ctx = helpers::uploader(Uuid::now_v7());
    let first = app.create_build(&ctx, "1").await;
    let second = app.create_build(&ctx, "2").await;
    let reply = app
        .upload(
            &ctx,
            first,
            Body::xml(failing_report("adds", 12345, 10)),
            None,
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    let reply = app
        .upload(
            &ctx,
            second,
            Body::xml(failing_report("adds", 67890, 42)),
            None,
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text);

    let items = failures(&app, &ctx).await;
    assert_eq!(items.len(), 2);
    let group = items[0]["group_id"].as_str().expect("a group").to_owned();
    assert_eq!(items[1]["group_id"], items[0]["group_id"]);
    let detail = app
        .get(
            &format!(
                "/v1/projects/{}/failures/{}",
                project_of(&ctx),
                items[1]["id"].as_str().unwrap()
            ),
            &ctx,
        )
        .await
        .expect(200);
    assert_eq!(detail["group_id"].as_str(), Some(group.as_str()));
    assert_eq!(group_row(&app, &group).await, (2, second));
    assert_eq!(app.count_rows("failure.failure_groups").await, 1);
}

#[tokio::test]
async fn two_different_problems_are_two_groups() {
    let app = helpers::spawn().await;
    let ctx = helpers::uploader(Uuid::now_v7());
    let build = app.create_build(&ctx, "1").await;
    let xml = "<testsuite name=\"S\">\
        <testcase name=\"a\"><failure message=\"expected 1 but was 2\"/></testcase>\
        <testcase name=\"b\"><failure message=\"connection refused\"/></testcase>\
        </testsuite>";
    let reply = app.upload(&ctx, build, Body::xml(xml), None).await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    let items = failures(&app, &ctx).await;
    assert_eq!(items.len(), 2);
    assert!(items[0]["group_id"].is_string() && items[1]["group_id"].is_string());
    assert_ne!(items[0]["group_id"], items[1]["group_id"]);
    for item in &items {
        assert_eq!(
            group_row(&app, item["group_id"].as_str().unwrap()).await,
            (1, build)
        );
    }
}

#[tokio::test]
async fn a_group_is_visible_only_in_its_project() {
    let app = helpers::spawn().await;
    let ctx = helpers::uploader(Uuid::now_v7());
    let build = app.create_build(&ctx, "1").await;
    let reply = app
        .upload(
            &ctx,
            build,
            Body::xml(failing_report("adds", 1234, 7)),
            None,
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    let app_role = app.database().connect_as("failure_app").await.unwrap();
    let visible = || async {
        app_role
            .query_one("SELECT count(*) FROM failure.failure_groups", &[])
            .await
            .unwrap()
            .try_get::<_, i64>(0)
            .unwrap()
    };
    assert_eq!(visible().await, 0, "no project set");
    app_role
        .batch_execute(&format!("SET app.project_id = '{}'", Uuid::now_v7()))
        .await
        .unwrap();
    assert_eq!(visible().await, 0, "another project");
    app_role
        .batch_execute(&format!("SET app.project_id = '{}'", project_of(&ctx)))
        .await
        .unwrap();
    assert_eq!(visible().await, 1, "its own project");
}

#[tokio::test]
async fn a_retried_upload_and_a_repeat_in_the_same_build_do_not_count_twice() {
    let app = helpers::spawn().await;
    let ctx = helpers::uploader(Uuid::now_v7());
    let build = app.create_build(&ctx, "1").await;
    let xml = failing_report("adds", 1234, 7);
    for _ in 0..2 {
        let reply = app
            .upload(&ctx, build, Body::xml(xml.clone()), Some("retry-1"))
            .await;
        assert!(reply.status.is_success(), "{}", reply.text);
    }
    let items = failures(&app, &ctx).await;
    assert_eq!(items.len(), 1);
    let group = items[0]["group_id"].as_str().unwrap().to_owned();
    assert_eq!(group_row(&app, &group).await.0, 1, "the retry replays");
    // The same test failing the same way in another upload of the build
    // is still one failure of the group.
    let reply = app
        .upload(
            &ctx,
            build,
            Body::xml(failing_report("adds", 5678, 9)),
            None,
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    assert_eq!(
        failures(&app, &ctx).await[0]["group_id"].as_str(),
        Some(group.as_str())
    );
    assert_eq!(
        group_row(&app, &group).await.0,
        1,
        "a repeat is one failure"
    );
}
