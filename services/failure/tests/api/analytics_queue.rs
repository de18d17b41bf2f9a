//! What the analytics service receives: every event of the outbox, copied
//! into its own queue by the same statement, and the triage and label
//! events it counts time to resolution and failures by label from.

use serde_json::{Value, json};
use test_support::TestApp;
use uuid::Uuid;

use crate::helpers::{self, Body, FailureApp, project_of};

/// `(id, kind, payload)` of `table`'s events, oldest first.
async fn events(app: &TestApp, table: &str) -> Vec<(Uuid, String, Value)> {
    app.database()
        .admin_client()
        .await
        .query(
            &format!("SELECT id, kind, payload FROM failure.{table} ORDER BY id"),
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| {
            (
                row.try_get(0).unwrap(),
                row.try_get(1).unwrap(),
                row.try_get(2).unwrap(),
            )
        })
        .collect()
}

const FAILING: &str = "<testsuite name=\"S\"><testcase classname=\"com.acme.T\" name=\"t\">\
    <failure message=\"boom\" type=\"com.acme.BoomError\">com.acme.BoomError: boom\n\
    \tat com.acme.T.run(T.java:1)\n</failure></testcase></testsuite>";

#[tokio::test]
async fn every_event_is_queued_for_analytics_and_triage_and_labels_publish_their_own() {
    let app = helpers::spawn().await;
    let ctx = helpers::uploader(Uuid::now_v7());
    let member = test_support::contexts::user(project_of(&ctx), tenant_core::Role::Member);
    let build = app.create_build(&ctx, "b1").await;
    let reply = app.upload(&ctx, build, Body::xml(FAILING), None).await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    let project = project_of(&ctx);
    let groups = app
        .get(&format!("/v2/projects/{project}/failures"), &member)
        .await
        .expect(200);
    let group = groups["items"][0]["id"].as_str().unwrap().to_owned();
    let path = format!("/v2/projects/{project}/failures/{group}");
    app.patch(&path, &member, json!({"status": "triaged"}))
        .await
        .expect(200);
    app.patch(&path, &member, json!({"status": "triaged"}))
        .await
        .expect(200);
    app.put(
        &format!("{path}/label"),
        &member,
        json!({"label": "product_bug"}),
    )
    .await
    .expect(200);

    let published = events(&app, "outbox").await;
    let kinds: Vec<&str> = published.iter().map(|(_, kind, _)| kind.as_str()).collect();
    assert_eq!(
        kinds,
        ["group.created", "group.status_changed", "group.labelled"],
        "the same status again publishes nothing"
    );
    let status = &published[1].2;
    assert_eq!(
        [
            &status["group_id"],
            &status["old_status"],
            &status["new_status"]
        ],
        [&json!(group), &json!("open"), &json!("triaged")]
    );
    assert!(status["changed_at"].is_string());
    assert_eq!(
        published[2].2,
        json!({"group_id": group, "label": "product_bug", "user_label": true})
    );
    assert_eq!(events(&app, "outbox_analytics").await, published);
}
