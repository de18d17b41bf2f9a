//! Failures are stored in groups by signature: the same problem in
//! several builds is one group, counted once per failing test and build.

use std::time::Duration;

use futures_util::StreamExt;
use reqwest::Method;
use serde_json::Value;
use tenant_core::TenantContext;
use test_support::{Reply, TestApp};
use uuid::Uuid;

use crate::helpers::{self, Body, FailureApp, project_of, results_path};

/// A report with one failing test `name`, an `IllegalStateException`
/// about order `order` thrown at `line` of `Cart.java`.
fn failing_report(name: &str, order: u32, line: u32) -> String {
    failing_report_in("S", name, order, line)
}

/// [`failing_report`] in suite `suite`: another test, the same problem.
fn failing_report_in(suite: &str, name: &str, order: u32, line: u32) -> String {
    format!(
        "<testsuite name=\"{suite}\"><testcase classname=\"com.acme.CartTest\" name=\"{name}\">\
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

/// `(occurrences, last_build_id)` of each of `groups` in their order, as
/// the groups list (v2) shows them: figures kept on each group by the
/// uploads that add to it.
async fn group_stats_of(app: &TestApp, ctx: &TenantContext, groups: &[&str]) -> Vec<(i64, Uuid)> {
    let mut stats = Vec::new();
    for group in groups {
        let path = format!("/v2/projects/{}/failures/{group}", project_of(ctx));
        let body = app.get(&path, ctx).await.expect(200);
        let last_build = body["latest_sample"]["build"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("no latest sample in {body}"))
            .parse()
            .unwrap();
        stats.push((body["occurrences"].as_i64().unwrap(), last_build));
    }
    stats
}

/// `(occurrences, last_build_id)` of one group.
async fn group_row(app: &TestApp, ctx: &TenantContext, group: &str) -> (i64, Uuid) {
    group_stats_of(app, ctx, &[group]).await[0]
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
    assert_eq!(group_row(&app, &ctx, &group).await, (2, second));
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
    let groups: Vec<&str> = items
        .iter()
        .map(|item| item["group_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        group_stats_of(&app, &ctx, &groups).await,
        [(1, build), (1, build)]
    );
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
    assert_eq!(
        group_row(&app, &ctx, &group).await.0,
        1,
        "the retry replays"
    );
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
        group_row(&app, &ctx, &group).await.0,
        1,
        "a repeat is one failure"
    );
}

/// Uploads of one project running at once (CI matrix jobs) whose failures
/// share a signature do not wait for each other: ingestion neither updates
/// nor locks an existing group. Each body stays open until both uploads
/// have written their failure, so both transactions are open at once.
#[tokio::test]
async fn concurrent_uploads_sharing_a_signature_both_succeed() {
    // One case per batch: a case is written as soon as it is parsed.
    let app = helpers::spawn_with(&[("service.insert_batch_size", "1".to_owned())]).await;
    let ctx = helpers::uploader(Uuid::now_v7());
    // The group exists: only a signature's first appearance, inserted by
    // two uploads at once, makes one wait for the other's commit.
    let seed = app.create_build(&ctx, "0").await;
    let reply = app
        .upload(
            &ctx,
            seed,
            Body::xml(failing_report_in("seed", "adds", 1, 7)),
            None,
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    let builds = [
        app.create_build(&ctx, "1").await,
        app.create_build(&ctx, "2").await,
    ];
    let mut releases = Vec::new();
    let mut uploads = Vec::new();
    for (index, build) in builds.iter().enumerate() {
        // Another suite per job: other tests, the same problem.
        let mut head = failing_report_in(&format!("matrix-{index}"), "adds", 100 + index as u32, 7)
            .into_bytes();
        let tail = head.split_off(head.len() - "</testsuite>".len());
        let (release, released) = tokio::sync::oneshot::channel::<()>();
        releases.push(release);
        let body = futures_util::stream::iter([Ok::<_, std::io::Error>(head)]).chain(
            futures_util::stream::once(async move {
                released.await.ok();
                Ok(tail)
            }),
        );
        let request = app
            .request_as(Method::POST, &results_path(&ctx, *build), &ctx)
            .header("content-type", "application/xml")
            .body(reqwest::Body::wrap_stream(body));
        uploads.push(tokio::spawn(Reply::from_request(request)));
    }
    // Both have inserted their failure (the insert's lock on
    // failure.failures is held to the commit) while neither has committed.
    let admin = app.database().admin_client().await;
    test_support::eventually(
        "both uploads writing failures at once",
        Duration::from_secs(20),
        || async {
            let writers: i64 = admin
                .query_one(
                    "SELECT count(DISTINCT pid) FROM pg_locks
                      WHERE locktype = 'relation' AND mode = 'RowExclusiveLock' AND granted
                        AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
                        AND relation = 'failure.failures'::regclass",
                    &[],
                )
                .await
                .unwrap()
                .try_get(0)
                .unwrap();
            (writers == 2).then_some(())
        },
    )
    .await;
    for release in releases {
        release.send(()).unwrap();
    }
    for upload in uploads {
        let reply = upload.await.unwrap();
        assert_eq!(reply.status, 201, "{}", reply.text);
    }
    let items = failures(&app, &ctx).await;
    assert_eq!(items.len(), 3);
    assert!(
        items
            .iter()
            .all(|item| item["group_id"] == items[0]["group_id"])
    );
    let group = items[0]["group_id"].as_str().unwrap();
    let (occurrences, last_build) = group_row(&app, &ctx, group).await;
    assert_eq!(occurrences, 3);
    assert!(builds.contains(&last_build));
    assert_eq!(app.count_rows("failure.failure_groups").await, 1);
}
