//! The failures list, one failure, a test's history.

use serde_json::Value;
use uuid::Uuid;

use crate::helpers::{self, Body, FailureApp, project_of};

fn failing_report(suite: &str, failing: usize) -> String {
    let mut xml = format!("<testsuite name=\"{suite}\">");
    for i in 0..failing {
        xml.push_str(&format!(
            "<testcase classname=\"{suite}.Case\" name=\"test_{i}\"><failure message=\"expected {i}\" type=\"{}\">at {suite}.Case.test_{i}(Case.java:{i})\nfull trace line 2</failure></testcase>",
            if i % 2 == 0 { "AssertionError" } else { "TimeoutError" }
        ));
    }
    xml.push_str("<testcase name=\"passing\"/></testsuite>");
    xml
}

#[tokio::test]
async fn failures_list_newest_first_with_build_and_test_and_filters() {
    let app = helpers::spawn().await;
    let ctx = helpers::uploader(Uuid::now_v7());
    let project = project_of(&ctx);
    let older = app.create_build(&ctx, "older").await;
    app.upload(&ctx, older, Body::xml(failing_report("Old", 2)), None)
        .await;
    let newer = app.create_build(&ctx, "newer").await;
    app.upload(&ctx, newer, Body::xml(failing_report("New", 4)), None)
        .await;

    let page = app
        .get(&format!("/v1/projects/{project}/failures"), &ctx)
        .await
        .expect(200);
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 6);
    assert_eq!(items[0]["build"]["external_id"], "newer");
    assert_eq!(items[5]["build"]["external_id"], "older");
    assert_eq!(items[0]["build"]["job_name"], "ci");
    assert!(
        items[0]["test"]["name"]
            .as_str()
            .unwrap()
            .starts_with("test_")
    );

    let by_build = app
        .get(
            &format!("/v1/projects/{project}/failures?build={older}"),
            &ctx,
        )
        .await
        .body;
    assert_eq!(by_build["items"].as_array().unwrap().len(), 2);
    let by_type = app
        .get(
            &format!("/v1/projects/{project}/failures?error_type=TimeoutError"),
            &ctx,
        )
        .await
        .body;
    assert_eq!(by_type["items"].as_array().unwrap().len(), 3);
    let by_name = app
        .get(&format!("/v1/projects/{project}/failures?test=T_3"), &ctx)
        .await
        .body;
    assert_eq!(by_name["items"].as_array().unwrap().len(), 1, "{by_name}");
    let by_branch = app
        .get(
            &format!("/v1/projects/{project}/failures?branch=other&job=ci"),
            &ctx,
        )
        .await
        .body;
    assert_eq!(by_branch["items"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn the_failures_list_issues_the_same_number_of_queries_for_any_page_size() {
    let app = helpers::spawn().await;
    let ctx = helpers::uploader(Uuid::now_v7());
    let project = project_of(&ctx);
    for n in 0..3 {
        let build = app.create_build(&ctx, &format!("b{n}")).await;
        app.upload(
            &ctx,
            build,
            Body::xml(failing_report(&format!("S{n}"), 20)),
            None,
        )
        .await;
    }
    let mut per_request = Vec::new();
    for limit in [1, 10, 60] {
        let before = app.statements().await;
        let page = app
            .get(
                &format!("/v1/projects/{project}/failures?limit={limit}"),
                &ctx,
            )
            .await
            .expect(200);
        assert_eq!(page["items"].as_array().unwrap().len(), limit);
        per_request.push(app.statements().await - before);
    }
    assert_eq!(per_request, vec![1, 1, 1]);
}

#[tokio::test]
async fn one_failure_has_its_full_stack_trace_and_a_test_has_its_history() {
    let app = helpers::spawn().await;
    let ctx = helpers::uploader(Uuid::now_v7());
    let project = project_of(&ctx);
    for n in 0..3 {
        let build = app.create_build(&ctx, &format!("h{n}")).await;
        let xml = if n == 1 {
            "<testsuite name=\"H\"><testcase classname=\"H\" name=\"t\"/></testsuite>".to_owned()
        } else {
            failing_report("H", 1)
                .replace("H.Case", "H")
                .replace("test_0", "t")
        };
        app.upload(&ctx, build, Body::xml(xml), None).await;
    }
    let page = app
        .get(&format!("/v1/projects/{project}/failures?limit=1"), &ctx)
        .await
        .body;
    let failure = &page["items"][0];
    let id = failure["id"].as_str().unwrap();
    let detail = app
        .get(&format!("/v1/projects/{project}/failures/{id}"), &ctx)
        .await
        .expect(200);
    assert!(
        detail["stack_trace"]
            .as_str()
            .unwrap()
            .contains("full trace line 2"),
        "{detail}"
    );

    let test = failure["test"]["id"].as_str().unwrap();
    let history = app
        .get(
            &format!("/v1/projects/{project}/tests/{test}/history?limit=10"),
            &ctx,
        )
        .await
        .expect(200);
    let statuses: Vec<&str> = history["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r: &Value| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, vec!["failed", "passed", "failed"]);
}

#[tokio::test]
async fn the_test_filter_finds_a_test_that_passed_before_it_failed_and_no_test_that_only_passed() {
    let app = helpers::spawn().await;
    let ctx = helpers::uploader(Uuid::now_v7());
    let project = project_of(&ctx);
    let green = app.create_build(&ctx, "green").await;
    app.upload(
        &ctx,
        green,
        Body::xml(
            "<testsuite name=\"Shop\"><testcase classname=\"Shop\" name=\"checkout_flow\"/>\
             <testcase classname=\"Shop\" name=\"checkout_total\"/></testsuite>",
        ),
        None,
    )
    .await;
    let red = app.create_build(&ctx, "red").await;
    app.upload(
        &ctx,
        red,
        Body::xml(
            "<testsuite name=\"Shop\"><testcase classname=\"Shop\" name=\"checkout_flow\">\
             <failure message=\"boom\" type=\"AssertionError\">at Shop.checkout_flow(Shop.java:1)</failure>\
             </testcase><testcase classname=\"Shop\" name=\"checkout_total\"/></testsuite>",
        ),
        None,
    )
    .await;

    let found = app
        .get(
            &format!("/v1/projects/{project}/failures?test=OUT_FL"),
            &ctx,
        )
        .await
        .expect(200);
    let items = found["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{found}");
    assert_eq!(items[0]["test"]["name"], "checkout_flow");
    assert_eq!(items[0]["build"]["external_id"], "red");
    let none = app
        .get(&format!("/v1/projects/{project}/failures?test=total"), &ctx)
        .await
        .expect(200);
    assert_eq!(none["items"].as_array().unwrap().len(), 0, "{none}");
}
