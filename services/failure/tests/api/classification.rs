//! Classification end to end: reports uploaded as JUnit XML come back as
//! failure groups labelled by the built-in rules, a project's rules, flaky
//! evidence, members and what members taught, each label explained.

use serde_json::{Value, json};
use tenant_core::{Role, TenantContext};
use test_support::{TestApp, contexts};
use uuid::Uuid;

use crate::helpers::{self, Body, FailureApp, project_of};

mod learned;
mod migration;
mod rules;

/// A `<testcase>` in class `class` failing with `message` (an attribute)
/// and `trace` (the body); `kind` is `failure` or `error`.
pub(super) fn case(class: &str, name: &str, kind: &str, message: &str, trace: &str) -> String {
    format!(
        "<testcase classname=\"{class}\" name=\"{name}\"><{kind} message=\"{}\">{}</{kind}></testcase>",
        escape(message),
        escape(trace)
    )
}

pub(super) fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

pub(super) fn report(cases: &[String]) -> String {
    format!("<testsuite name=\"S\">{}</testsuite>", cases.concat())
}

/// A JVM trace of `exception` through `frames` (`com.acme.` classes and
/// methods, top first).
pub(super) fn jvm_trace(exception: &str, frames: &[&str]) -> String {
    let mut trace = format!("{exception}\n");
    for frame in frames {
        let class = frame.rsplit_once('.').map_or(*frame, |(class, _)| class);
        trace.push_str(&format!("\tat com.acme.{frame}({class}.java:10)\n"));
    }
    trace
}

pub(super) async fn upload(app: &TestApp, ctx: &TenantContext, external_id: &str, xml: String) {
    let build = app.create_build(ctx, external_id).await;
    app.upload(ctx, build, Body::xml(xml), None)
        .await
        .expect(201);
}

/// The project's groups (v2), latest seen first.
pub(super) async fn groups(app: &TestApp, ctx: &TenantContext, query: &str) -> Vec<Value> {
    let path = format!("/v2/projects/{}/failures{query}", project_of(ctx));
    let body = app.get(&path, ctx).await.expect(200);
    body["items"].as_array().unwrap().clone()
}

/// The group whose latest failure is of test `name`.
pub(super) async fn group_of(app: &TestApp, ctx: &TenantContext, name: &str) -> Value {
    let all = groups(app, ctx, "?limit=500").await;
    let found = all
        .iter()
        .find(|g| g["latest_sample"]["test"]["name"] == name)
        .unwrap_or_else(|| panic!("no group for {name} in {all:#?}"));
    group(app, ctx, found["id"].as_str().unwrap()).await
}

pub(super) async fn group(app: &TestApp, ctx: &TenantContext, id: &str) -> Value {
    let path = format!("/v2/projects/{}/failures/{id}", project_of(ctx));
    app.get(&path, ctx).await.expect(200)
}

pub(super) fn label_path(ctx: &TenantContext, group: &Value) -> String {
    format!(
        "/v2/projects/{}/failures/{}/label",
        project_of(ctx),
        group["id"].as_str().unwrap()
    )
}

pub(super) fn member(ctx: &TenantContext) -> TenantContext {
    contexts::user(project_of(ctx), Role::Member)
}

pub(super) fn admin(ctx: &TenantContext) -> TenantContext {
    contexts::user(project_of(ctx), Role::Admin)
}

#[tokio::test]
async fn each_builtin_rule_kind_labels_new_groups_and_their_failures_at_upload() {
    let app = helpers::spawn().await;
    let ctx = helpers::uploader(Uuid::now_v7());
    let cases = [
        case(
            "com.acme.ApiTest",
            "infra",
            "error",
            "java.net.ConnectException: Connection refused",
            "",
        ),
        case(
            "com.acme.ApiTest",
            "gateway",
            "failure",
            "expected 200 but the checkout answered HTTP 503 Service Unavailable",
            "",
        ),
        case(
            "com.acme.UiTest",
            "locator",
            "error",
            "org.openqa.selenium.NoSuchElementException: Unable to locate element: #buy",
            "",
        ),
        case(
            "com.acme.UiTest",
            "stale",
            "error",
            "org.openqa.selenium.StaleElementReferenceException: stale element reference",
            "",
        ),
        case(
            "com.acme.CartTest",
            "test_code",
            "error",
            "java.lang.NullPointerException: cart",
            &jvm_trace("java.lang.NullPointerException: cart", &["CartTest.adds"]),
        ),
        case(
            "com.acme.CartTest",
            "product",
            "failure",
            "java.lang.AssertionError: total must be positive",
            &jvm_trace(
                "java.lang.AssertionError: total must be positive",
                &["cart.Cart.total", "CartTest.adds"],
            ),
        ),
        case(
            "com.acme.CartTest",
            "unknown",
            "failure",
            "the total is 5, 7 was expected",
            "",
        ),
    ];
    upload(&app, &ctx, "1", report(&cases)).await;

    let expected = [
        (
            "infra",
            "infrastructure",
            Some("connection_refused_or_reset"),
        ),
        ("gateway", "infrastructure", Some("http_gateway_error")),
        ("locator", "automation_bug", Some("element_not_found")),
        ("stale", "automation_bug", Some("stale_element")),
        ("test_code", "automation_bug", Some("error_in_test_code")),
        ("product", "product_bug", Some("assertion_in_product_code")),
        ("unknown", "to_investigate", None),
    ];
    for (test, label, rule) in expected {
        let group = group_of(&app, &ctx, test).await;
        assert_eq!(group["label"], label, "{test}: {group:#}");
        match rule {
            Some(rule) => {
                assert_eq!(group["label_source"], "rule", "{test}");
                assert_eq!(group["explanation"]["decided_by"], "builtin_rule", "{test}");
                assert_eq!(group["explanation"]["rule"], rule, "{test}");
                assert!(
                    group["explanation"]["matched"]
                        .as_str()
                        .is_some_and(|m| !m.is_empty())
                );
                let confidence = group["confidence"].as_f64().unwrap();
                assert!(confidence > 0.0 && confidence < 1.0, "{test}: {confidence}");
            }
            None => {
                assert_eq!(group["label_source"], Value::Null);
                assert_eq!(group["explanation"], json!({"decided_by": "nothing"}));
                assert_eq!(group["confidence"], 0.0);
            }
        }
        // The failure carries its own label, in v1 too.
        let failure = &group["recent_occurrences"][0];
        assert_eq!(failure["label"], label, "{test}");
        assert_eq!(group["occurrences"], 1);
        assert_eq!(group["affected_tests"], 1);
    }
    let v1 = app
        .get(&format!("/v1/projects/{}/failures", project_of(&ctx)), &ctx)
        .await
        .expect(200);
    assert!(
        v1["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["label"].is_string()
                && f["confidence"].is_number()
                && f.get("label_source").is_some())
    );

    // Filters and pages of the v2 list.
    assert_eq!(groups(&app, &ctx, "?label=automation_bug").await.len(), 3);
    assert_eq!(groups(&app, &ctx, "?min_confidence=0.01").await.len(), 6);
    assert_eq!(groups(&app, &ctx, "?q=TOTAL%20IS").await.len(), 1);
    assert_eq!(groups(&app, &ctx, "?status=open").await.len(), 7);
    assert_eq!(groups(&app, &ctx, "?status=resolved").await.len(), 0);
    let path = format!("/v2/projects/{}/failures?limit=4", project_of(&ctx));
    let first = app.get(&path, &ctx).await.expect(200);
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = app
        .get(&format!("{path}&cursor={cursor}"), &ctx)
        .await
        .expect(200);
    assert_eq!(second["items"].as_array().unwrap().len(), 3);
    assert!(second["next_cursor"].is_null());
    let bad = app.get(&format!("{path}&min_confidence=2"), &ctx).await;
    bad.expect_problem(400, "request.invalid_query");
    let bad = app.get(&format!("{path}&label=nonsense"), &ctx).await;
    assert_eq!(bad.status, 400, "{}", bad.text);
}

#[tokio::test]
async fn a_test_that_passed_on_retry_in_the_same_build_is_flaky_over_the_rules() {
    let app = helpers::spawn().await;
    let ctx = helpers::uploader(Uuid::now_v7());
    // A rerun written as a repeated test case: failed, then passed.
    let xml = format!(
        "{}<testcase classname=\"com.acme.ApiTest\" name=\"retried\"/>",
        case(
            "com.acme.ApiTest",
            "retried",
            "error",
            "java.net.ConnectException: Connection refused (retried)",
            ""
        )
    );
    upload(&app, &ctx, "1", report(&[xml])).await;
    let group = group_of(&app, &ctx, "retried").await;
    assert_eq!(
        (&group["label"], &group["label_source"]),
        (&json!("flaky"), &json!("flaky"))
    );
    assert_eq!(group["confidence"], 1.0);
    assert_eq!(group["explanation"]["decided_by"], "flaky");
    assert_eq!(group["explanation"]["evidence"], "passed_on_retry");
    assert_eq!(
        group["explanation"]["test_id"],
        group["latest_sample"]["test"]["id"]
    );
    assert_eq!(group["recent_occurrences"][0]["label"], "flaky");

    // The same failure of another test, without a passing retry, in
    // another build: the built-in rule labels that failure; the group keeps
    // its label.
    let once = case(
        "com.acme.ApiTest",
        "steady",
        "error",
        "java.net.ConnectException: Connection refused (retried)",
        "",
    );
    upload(&app, &ctx, "2", report(&[once])).await;
    let group = group_of(&app, &ctx, "steady").await;
    assert_eq!(group["label"], "flaky");
    assert_eq!(group["occurrences"], 2);
    assert_eq!(group["affected_tests"], 2);
    assert_eq!(group["recent_occurrences"][0]["label"], "infrastructure");
    assert_eq!(group["recent_occurrences"][1]["label"], "flaky");
}

#[tokio::test]
async fn a_viewer_cannot_label_a_member_labels_one_failure_and_bad_labels_are_refused() {
    let app = helpers::spawn().await;
    let ctx = helpers::uploader(Uuid::now_v7());
    let xml = report(&[case(
        "com.acme.CartTest",
        "adds",
        "failure",
        "expected 1 but was 2",
        "",
    )]);
    let build = app.create_build(&ctx, "1").await;
    app.upload(&ctx, build, Body::xml(xml.clone()), None)
        .await
        .expect(201);
    let group = group_of(&app, &ctx, "adds").await;
    let viewer = helpers::viewer(project_of(&ctx));
    app.put(
        &label_path(&ctx, &group),
        &viewer,
        json!({"label": "product_bug"}),
    )
    .await
    .expect_problem(403, "context.role_too_low");
    app.delete(&label_path(&ctx, &group), &viewer)
        .await
        .expect_problem(403, "context.role_too_low");
    let failure_id = group["recent_occurrences"][0]["id"].as_str().unwrap();
    let failure_label = format!(
        "/v1/projects/{}/failures/{failure_id}/label",
        project_of(&ctx)
    );
    app.put(&failure_label, &viewer, json!({"label": "flaky"}))
        .await
        .expect_problem(403, "context.role_too_low");

    let by = member(&ctx);
    app.put(&label_path(&ctx, &group), &by, json!({"label": "bug"}))
        .await
        .expect_problem(422, "request.invalid_body");
    app.put(&label_path(&ctx, &group), &by, json!({}))
        .await
        .expect_problem(422, "request.invalid_body");
    let missing = json!({"id": Uuid::now_v7().to_string()});
    app.put(&label_path(&ctx, &missing), &by, json!({"label": "flaky"}))
        .await
        .expect_problem(404, "failure_group.not_found");
    let other_failure = format!(
        "/v1/projects/{}/failures/{}/label",
        project_of(&ctx),
        Uuid::now_v7()
    );
    app.put(&other_failure, &by, json!({"label": "flaky"}))
        .await
        .expect_problem(404, "failure.not_found");
    assert_eq!(app.count_rows("failure.label_feedback").await, 0);

    // One failure's label: the failure's, not its group's; kept when the
    // same result is uploaded again.
    let labelled = app
        .put(&failure_label, &by, json!({"label": "no_defect"}))
        .await
        .expect(200);
    assert_eq!(
        (&labelled["label"], &labelled["label_source"]),
        (&json!("no_defect"), &json!("user"))
    );
    assert_eq!(labelled["confidence"], 1.0);
    app.upload(&ctx, build, Body::xml(xml), None)
        .await
        .expect(201);
    let failure = app
        .get(
            &format!("/v1/projects/{}/failures/{failure_id}", project_of(&ctx)),
            &ctx,
        )
        .await
        .expect(200);
    assert_eq!(failure["label"], "no_defect");
    assert_eq!(
        group_of(&app, &ctx, "adds").await["label"],
        "to_investigate"
    );
    assert_eq!(app.count_rows("failure.label_feedback").await, 1);
}

#[tokio::test]
async fn a_surefire_failure_that_passed_on_rerun_is_flaky_and_one_that_never_passed_is_not() {
    let app = helpers::spawn().await;
    let ctx = helpers::uploader(Uuid::now_v7());
    let refused = "java.net.ConnectException: Connection refused";
    let attempt = |element: &str, name: &str| {
        format!(
            "<testcase classname=\"com.acme.ApiTest\" name=\"{name}\">\
             <{element} message=\"{refused} ({name})\" type=\"java.net.ConnectException\">\
             {refused} ({name})</{element}></testcase>"
        )
    };
    // Another problem: a message this close to the first would join its
    // group (the similarity merge).
    let timeout = "java.net.SocketTimeoutException: Read timed out";
    let rerun_failed = format!(
        "<testcase classname=\"com.acme.ApiTest\" name=\"broken\">\
         <error message=\"{timeout}\" type=\"java.net.SocketTimeoutException\">{timeout}</error>\
         <rerunError message=\"{timeout}\" type=\"java.net.SocketTimeoutException\">{timeout}</rerunError>\
         </testcase>"
    );
    upload(
        &app,
        &ctx,
        "1",
        report(&[attempt("flakyFailure", "rerun_passed"), rerun_failed]),
    )
    .await;

    let flaky = group_of(&app, &ctx, "rerun_passed").await;
    assert_eq!(
        (&flaky["label"], &flaky["label_source"]),
        (&json!("flaky"), &json!("flaky")),
        "{flaky:#}"
    );
    assert_eq!(flaky["explanation"]["evidence"], "passed_on_retry");
    let occurrence = &flaky["recent_occurrences"][0];
    assert_eq!(occurrence["attempt"], 1);
    assert_eq!(occurrence["label"], "flaky");

    let broken = group_of(&app, &ctx, "broken").await;
    assert_eq!(broken["label"], "infrastructure", "{broken:#}");
    assert!(
        broken["recent_occurrences"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["label"] == "infrastructure")
    );
}

#[tokio::test]
async fn a_later_failure_of_a_test_the_monitor_judged_flaky_is_flaky_over_the_rules() {
    let app = helpers::spawn().await;
    let ctx = helpers::uploader(Uuid::now_v7());
    let message = "java.net.ConnectException: Connection refused (shaky)";
    let passed_on_rerun = format!(
        "<testcase classname=\"com.acme.ApiTest\" name=\"shaky\">\
         <flakyFailure message=\"{message}\" type=\"java.net.ConnectException\">{message}</flakyFailure>\
         </testcase>"
    );
    upload(&app, &ctx, "1", report(&[passed_on_rerun])).await;
    let flagged = app
        .get(
            &format!("/v1/projects/{}/flaky-tests", project_of(&ctx)),
            &ctx,
        )
        .await
        .expect(200);
    assert_eq!(flagged["items"][0]["state"], "flaky", "{flagged:#}");

    // Failing outright in the next build: no retry passed, but the test is
    // known flaky.
    let failed = case("com.acme.ApiTest", "shaky", "error", message, "");
    upload(&app, &ctx, "2", report(&[failed])).await;
    let group = group_of(&app, &ctx, "shaky").await;
    let latest = &group["recent_occurrences"][0];
    assert_eq!(latest["attempt"], 0);
    assert_eq!(
        (&latest["label"], &latest["label_source"]),
        (&json!("flaky"), &json!("flaky")),
        "{group:#}"
    );
    assert_eq!(latest["confidence"], 0.8);
}
