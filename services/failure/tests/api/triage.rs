//! Triage of failure groups: status and assignee (members only), comments,
//! the activity log, regressions, grouping settings and the similarity
//! merge of messages without a trace.

use serde_json::{Value, json};
use tenant_core::{Role, TenantContext};
use test_support::TestApp;
use test_support::contexts;
use uuid::Uuid;

use crate::helpers::{self, Body, FailureApp, project_of};
use crate::members;

/// A report with one failing test `name` whose failure has `message` and
/// no stack trace.
fn report(name: &str, message: &str) -> String {
    format!(
        "<testsuite name=\"S\"><testcase classname=\"com.acme.CartTest\" name=\"{name}\">\
         <failure message=\"{message}\"/></testcase></testsuite>"
    )
}

/// A report with one failing test whose failure has a trace in `Cart`.
fn report_with_trace(name: &str, line: u32) -> String {
    format!(
        "<testsuite name=\"S\"><testcase classname=\"com.acme.CartTest\" name=\"{name}\">\
         <failure message=\"order closed\" type=\"java.lang.IllegalStateException\">\
         java.lang.IllegalStateException: order closed\n\
         \tat com.acme.Cart.add(Cart.java:{line})\n\
         \tat com.acme.CartTest.{name}(CartTest.java:{line})\n\
         </failure></testcase></testsuite>"
    )
}

/// The service with the real project service, which knows `members` of
/// the project of `ctx`; the project service runs while both are held.
async fn spawn_with_members(ctx: &TenantContext, members: &[Uuid]) -> (TestApp, TestApp) {
    let project = members::project_service(project_of(ctx), members).await;
    let app = helpers::spawn_with(&[("service.project_url", project.url(""))]).await;
    (app, project)
}

/// Uploads `xml` in a new build and answers the group of its one failure.
async fn upload_one(app: &TestApp, ctx: &TenantContext, build: &str, xml: String) -> Uuid {
    let build = app.create_build(ctx, build).await;
    app.upload(ctx, build, Body::xml(xml), None)
        .await
        .expect(201);
    let path = format!("/v1/projects/{}/failures?build={build}", project_of(ctx));
    let body = app.get(&path, ctx).await.expect(200);
    let items = body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{body}");
    items[0]["group_id"].as_str().unwrap().parse().unwrap()
}

fn group_path(ctx: &TenantContext, group: Uuid) -> String {
    format!("/v2/projects/{}/failures/{group}", project_of(ctx))
}

async fn activity(app: &TestApp, ctx: &TenantContext, group: Uuid) -> Vec<Value> {
    let path = format!("{}/activity", group_path(ctx, group));
    let body = app.get(&path, ctx).await.expect(200);
    body["items"].as_array().unwrap().clone()
}

#[tokio::test]
async fn a_member_sets_status_and_assignee_and_each_change_is_logged() {
    let project = Uuid::now_v7();
    let member = contexts::user(project, Role::Member);
    let assignee = Uuid::now_v7();
    let (app, _project) = spawn_with_members(&member, &[assignee]).await;
    let group = upload_one(&app, &helpers::uploader(project), "1", report("t", "boom")).await;

    let body = app
        .patch(
            &group_path(&member, group),
            &member,
            json!({"status": "triaged", "assignee_id": assignee}),
        )
        .await
        .expect(200);
    assert_eq!(body["status"], "triaged");
    assert_eq!(body["assignee_id"], assignee.to_string());
    // The group as read back, alone and in the list, names its assignee.
    let read = app
        .get(&group_path(&member, group), &member)
        .await
        .expect(200);
    assert_eq!(read["assignee_id"], assignee.to_string());
    let list = app
        .get(&format!("/v2/projects/{project}/failures"), &member)
        .await
        .expect(200);
    assert_eq!(list["items"][0]["assignee_id"], assignee.to_string());

    // The same values again change nothing and log nothing.
    app.patch(
        &group_path(&member, group),
        &member,
        json!({"status": "triaged"}),
    )
    .await
    .expect(200);
    let body = app
        .patch(
            &group_path(&member, group),
            &member,
            json!({"assignee_id": null}),
        )
        .await
        .expect(200);
    assert_eq!(body["assignee_id"], Value::Null);
    assert_eq!(
        body["status"], "triaged",
        "absent fields are left as they are"
    );

    let log = activity(&app, &member, group).await;
    let actor = member.principal().id.to_string();
    let entries: Vec<(&str, &str, Value, Value)> = log
        .iter()
        .map(|e| {
            assert_eq!(e["actor_id"], actor);
            (
                e["kind"].as_str().unwrap(),
                "",
                e["old_value"].clone(),
                e["new_value"].clone(),
            )
        })
        .collect();
    assert_eq!(
        entries,
        vec![
            ("assignee", "", json!(assignee.to_string()), Value::Null),
            ("assignee", "", Value::Null, json!(assignee.to_string())),
            ("status", "", json!("open"), json!("triaged")),
        ],
        "newest first"
    );
}

#[tokio::test]
async fn an_assignee_who_is_not_a_member_is_refused_and_nothing_changes() {
    let project = Uuid::now_v7();
    let member = contexts::user(project, Role::Member);
    let (app, _project) = spawn_with_members(&member, &[Uuid::now_v7()]).await;
    let group = upload_one(&app, &helpers::uploader(project), "1", report("t", "boom")).await;

    let reply = app
        .patch(
            &group_path(&member, group),
            &member,
            json!({"status": "resolved", "assignee_id": Uuid::now_v7()}),
        )
        .await;
    reply.expect_problem(422, "group.assignee_not_member");
    assert!(activity(&app, &member, group).await.is_empty());
    assert_eq!(app.count_rows("failure.group_activity").await, 0);
    let body = app
        .patch(&group_path(&member, group), &member, json!({}))
        .await
        .expect(200);
    assert_eq!(body["status"], "open");
}

#[tokio::test]
async fn triage_of_an_unknown_group_or_with_a_bad_status_is_refused() {
    let project = Uuid::now_v7();
    let member = contexts::user(project, Role::Member);
    let app = helpers::spawn().await;
    app.patch(
        &group_path(&member, Uuid::now_v7()),
        &member,
        json!({"status": "open"}),
    )
    .await
    .expect_problem(404, "failure_group.not_found");
    let group = upload_one(&app, &helpers::uploader(project), "1", report("t", "boom")).await;
    let reply = app
        .patch(
            &group_path(&member, group),
            &member,
            json!({"status": "closed"}),
        )
        .await;
    assert_eq!(reply.status.as_u16(), 422, "{}", reply.text);
}

#[tokio::test]
async fn a_viewer_reads_comments_but_cannot_triage_or_comment() {
    let project = Uuid::now_v7();
    let viewer = helpers::viewer(project);
    let app = helpers::spawn().await;
    let group = upload_one(&app, &helpers::uploader(project), "1", report("t", "boom")).await;
    app.patch(
        &group_path(&viewer, group),
        &viewer,
        json!({"status": "muted"}),
    )
    .await
    .expect_problem(403, "context.role_too_low");
    let comments = format!("{}/comments", group_path(&viewer, group));
    app.post(&comments, &viewer, json!({"body": "mine"}))
        .await
        .expect_problem(403, "context.role_too_low");
    let body = app.get(&comments, &viewer).await.expect(200);
    assert_eq!(body["items"], json!([]));
}

#[tokio::test]
async fn comments_are_listed_newest_first_page_by_page() {
    let project = Uuid::now_v7();
    let member = contexts::user(project, Role::Member);
    let app = helpers::spawn().await;
    let group = upload_one(&app, &helpers::uploader(project), "1", report("t", "boom")).await;
    let comments = format!("{}/comments", group_path(&member, group));
    let mut ids = Vec::new();
    for text in ["first", "second", "third"] {
        let reply = app.post(&comments, &member, json!({"body": text})).await;
        let location = reply.header("location").unwrap().to_owned();
        let body = reply.expect(201);
        assert_eq!(body["author_id"], member.principal().id.to_string());
        assert_eq!(
            location,
            format!("comments/{}", body["id"].as_str().unwrap())
        );
        let shown = app
            .get(
                &format!("{}/{}", comments, body["id"].as_str().unwrap()),
                &member,
            )
            .await
            .expect(200);
        assert_eq!(shown["body"], text);
        ids.push(body["id"].clone());
    }
    let first = app
        .get(&format!("{comments}?limit=2"), &member)
        .await
        .expect(200);
    let items = first["items"].as_array().unwrap();
    assert_eq!(
        items.iter().map(|c| c["id"].clone()).collect::<Vec<_>>(),
        vec![ids[2].clone(), ids[1].clone()]
    );
    let cursor = first["next_cursor"].as_str().unwrap();
    let rest = app
        .get(&format!("{comments}?limit=2&cursor={cursor}"), &member)
        .await
        .expect(200);
    assert_eq!(rest["items"][0]["body"], "first");
    assert_eq!(rest["next_cursor"], Value::Null);

    for (body, why) in [
        (json!({"body": "  "}), "blank"),
        (json!({"body": "x".repeat(10_001)}), "too long"),
        (json!({}), "missing"),
    ] {
        let reply = app.post(&comments, &member, body).await;
        assert_eq!(reply.status.as_u16(), 422, "{why}: {}", reply.text);
    }
    app.post(
        &format!("{}/comments", group_path(&member, Uuid::now_v7())),
        &member,
        json!({"body": "lost"}),
    )
    .await
    .expect_problem(404, "failure_group.not_found");
    // Another project sees none of it.
    let other = contexts::user(Uuid::now_v7(), Role::Member);
    app.get(&format!("{}/comments", group_path(&other, group)), &other)
        .await
        .expect_problem(404, "failure_group.not_found");
}

#[tokio::test]
async fn a_resolved_group_that_occurs_again_reopens_as_a_regression() {
    let project = Uuid::now_v7();
    let member = contexts::user(project, Role::Member);
    let uploader = helpers::uploader(project);
    let app = helpers::spawn().await;
    let group = upload_one(&app, &uploader, "1", report_with_trace("t", 10)).await;
    app.patch(
        &group_path(&member, group),
        &member,
        json!({"status": "resolved"}),
    )
    .await
    .expect(200);

    let again = upload_one(&app, &uploader, "2", report_with_trace("t", 42)).await;
    assert_eq!(again, group, "the same problem, its line shifted");
    let body = app
        .patch(&group_path(&member, group), &member, json!({}))
        .await
        .expect(200);
    assert_eq!(body["status"], "open");
    assert_eq!(body["regression_count"], 1);
    assert!(body["regressed_at"].is_string());
    let log = activity(&app, &member, group).await;
    assert_eq!(log[0]["kind"], "regressed");
    assert_eq!(log[0]["actor_id"], Value::Null);
    assert_eq!(log[0]["old_value"], "resolved");

    // Open now: a third occurrence is no regression.
    upload_one(&app, &uploader, "3", report_with_trace("t", 7)).await;
    let body = app
        .patch(&group_path(&member, group), &member, json!({}))
        .await
        .expect(200);
    assert_eq!(body["regression_count"], 1);

    // One `group.regressed` event, published by the upload that reopened it.
    let events = app
        .database()
        .admin_client()
        .await
        .query(
            "SELECT payload FROM failure.outbox WHERE kind = 'group.regressed'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(events.len(), 1);
    let payload: Value = events[0].try_get(0).unwrap();
    assert_eq!(payload["group_id"], group.to_string());
}

#[tokio::test]
async fn a_muted_group_stays_muted_when_it_occurs_again() {
    let project = Uuid::now_v7();
    let member = contexts::user(project, Role::Member);
    let uploader = helpers::uploader(project);
    let app = helpers::spawn().await;
    let group = upload_one(&app, &uploader, "1", report_with_trace("t", 10)).await;
    app.patch(
        &group_path(&member, group),
        &member,
        json!({"status": "muted"}),
    )
    .await
    .expect(200);
    upload_one(&app, &uploader, "2", report_with_trace("t", 11)).await;
    let body = app
        .patch(&group_path(&member, group), &member, json!({}))
        .await
        .expect(200);
    assert_eq!(body["status"], "muted");
    assert_eq!(body["regression_count"], 0);
}

#[tokio::test]
async fn grouping_settings_change_the_signatures_of_new_failures_only() {
    let project = Uuid::now_v7();
    let admin = contexts::user(project, Role::Admin);
    let uploader = helpers::uploader(project);
    let app = helpers::spawn().await;
    let settings = format!("/v1/projects/{project}/settings/grouping");
    let body = app
        .get(&settings, &helpers::viewer(project))
        .await
        .expect(200);
    assert_eq!(body, json!({"in_app_prefixes": [], "keep_numbers": false}));

    let first = upload_one(&app, &uploader, "1", report("t", "quota 123456 exceeded")).await;
    let second = upload_one(&app, &uploader, "2", report("t", "quota 654321 exceeded")).await;
    assert_eq!(first, second, "long numbers are masked by default");

    app.put(
        &settings,
        &member_of(project),
        json!({"in_app_prefixes": [], "keep_numbers": true}),
    )
    .await
    .expect_problem(403, "context.role_too_low");
    let reply = app
        .put(
            &settings,
            &admin,
            json!({"in_app_prefixes": ["com.acme.", "a b"], "keep_numbers": true}),
        )
        .await;
    reply.expect_problem(422, "request.invalid_body");
    assert!(reply.text.contains("in_app_prefixes[1]"), "{}", reply.text);
    let body = app
        .put(
            &settings,
            &admin,
            json!({"in_app_prefixes": ["com.acme."], "keep_numbers": true}),
        )
        .await
        .expect(200);
    assert_eq!(
        body,
        json!({"in_app_prefixes": ["com.acme."], "keep_numbers": true})
    );
    assert_eq!(app.get(&settings, &admin).await.expect(200), body);

    let third = upload_one(&app, &uploader, "3", report("t", "quota 123456 exceeded")).await;
    let fourth = upload_one(&app, &uploader, "4", report("t", "quota 654321 exceeded")).await;
    assert_ne!(third, first, "numbers are kept now: another signature");
    assert_ne!(third, fourth);
    // Stored failures keep their group until a regroup job moves them.
    let path = format!("/v1/projects/{project}/failures");
    let all = app.get(&path, &uploader).await.expect(200);
    let groups: Vec<&str> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["group_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        groups.iter().filter(|g| **g == first.to_string()).count(),
        2
    );
}

fn member_of(project: Uuid) -> TenantContext {
    contexts::user(project, Role::Member)
}

#[tokio::test]
async fn a_near_duplicate_message_without_a_trace_joins_the_stored_group() {
    let project = Uuid::now_v7();
    let uploader = helpers::uploader(project);
    let app = helpers::spawn().await;
    let stored = upload_one(
        &app,
        &uploader,
        "1",
        report("t", "the cart checkout timed out"),
    )
    .await;
    let near = upload_one(
        &app,
        &uploader,
        "2",
        report("u", "the cart payment timed out"),
    )
    .await;
    assert_eq!(near, stored, "one token in five differs: similarity 0.8");
    let far = upload_one(
        &app,
        &uploader,
        "3",
        report("v", "the order payment was refused"),
    )
    .await;
    assert_ne!(far, stored, "two tokens differ: a new group");
    let short = upload_one(&app, &uploader, "4", report("w", "disk is empty")).await;
    let short_near = upload_one(&app, &uploader, "5", report("w", "disk is full")).await;
    assert_ne!(short, short_near, "under five tokens nothing is relaxed");
    let typed = upload_one(
        &app,
        &uploader,
        "6",
        report("x", "java.io.IOException: the cart payment timed out"),
    )
    .await;
    assert_ne!(typed, stored, "another exception type never joins");
    assert_eq!(app.count_rows("failure.failure_groups").await, 5);
}
