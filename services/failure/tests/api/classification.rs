//! Classification end to end: reports uploaded as JUnit XML come back as
//! failure groups labelled by the built-in rules, a project's rules, flaky
//! evidence, members and what members taught, each label explained.

use serde_json::{Value, json};
use tenant_core::{Role, TenantContext};
use test_support::{TestApp, contexts};
use uuid::Uuid;

use crate::helpers::{self, Body, FailureApp, project_of};

/// A `<testcase>` in class `class` failing with `message` (an attribute)
/// and `trace` (the body); `kind` is `failure` or `error`.
fn case(class: &str, name: &str, kind: &str, message: &str, trace: &str) -> String {
    format!(
        "<testcase classname=\"{class}\" name=\"{name}\"><{kind} message=\"{}\">{}</{kind}></testcase>",
        escape(message),
        escape(trace)
    )
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn report(cases: &[String]) -> String {
    format!("<testsuite name=\"S\">{}</testsuite>", cases.concat())
}

/// A JVM trace of `exception` through `frames` (`com.acme.` classes and
/// methods, top first).
fn jvm_trace(exception: &str, frames: &[&str]) -> String {
    let mut trace = format!("{exception}\n");
    for frame in frames {
        let class = frame.rsplit_once('.').map_or(*frame, |(class, _)| class);
        trace.push_str(&format!("\tat com.acme.{frame}({class}.java:10)\n"));
    }
    trace
}

async fn upload(app: &TestApp, ctx: &TenantContext, external_id: &str, xml: String) {
    let build = app.create_build(ctx, external_id).await;
    app.upload(ctx, build, Body::xml(xml), None).await.expect(201);
}

/// The project's groups (v2), latest seen first.
async fn groups(app: &TestApp, ctx: &TenantContext, query: &str) -> Vec<Value> {
    let path = format!("/v2/projects/{}/failures{query}", project_of(ctx));
    let body = app.get(&path, ctx).await.expect(200);
    body["items"].as_array().unwrap().clone()
}

/// The group whose latest failure is of test `name`.
async fn group_of(app: &TestApp, ctx: &TenantContext, name: &str) -> Value {
    let all = groups(app, ctx, "?limit=500").await;
    let found = all
        .iter()
        .find(|g| g["latest_sample"]["test"]["name"] == name)
        .unwrap_or_else(|| panic!("no group for {name} in {all:#?}"));
    group(app, ctx, found["id"].as_str().unwrap()).await
}

async fn group(app: &TestApp, ctx: &TenantContext, id: &str) -> Value {
    let path = format!("/v2/projects/{}/failures/{id}", project_of(ctx));
    app.get(&path, ctx).await.expect(200)
}

fn label_path(ctx: &TenantContext, group: &Value) -> String {
    format!(
        "/v2/projects/{}/failures/{}/label",
        project_of(ctx),
        group["id"].as_str().unwrap()
    )
}

fn member(ctx: &TenantContext) -> TenantContext {
    contexts::user(project_of(ctx), Role::Member)
}

fn admin(ctx: &TenantContext) -> TenantContext {
    contexts::user(project_of(ctx), Role::Admin)
}

#[tokio::test]
async fn each_builtin_rule_kind_labels_new_groups_and_their_failures_at_upload() {
    let app = helpers::spawn().await;
    let ctx = helpers::uploader(Uuid::now_v7());
    let cases = [
        case("com.acme.ApiTest", "infra", "error", "java.net.ConnectException: Connection refused", ""),
        case("com.acme.ApiTest", "gateway", "failure", "expected 200 but the checkout answered HTTP 503 Service Unavailable", ""),
        case("com.acme.UiTest", "locator", "error", "org.openqa.selenium.NoSuchElementException: Unable to locate element: #buy", ""),
        case("com.acme.UiTest", "stale", "error", "org.openqa.selenium.StaleElementReferenceException: stale element reference", ""),
        case(
            "com.acme.CartTest", "test_code", "error", "java.lang.NullPointerException: cart",
            &jvm_trace("java.lang.NullPointerException: cart", &["CartTest.adds"]),
        ),
        case(
            "com.acme.CartTest", "product", "failure", "java.lang.AssertionError: total must be positive",
            &jvm_trace("java.lang.AssertionError: total must be positive", &["cart.Cart.total", "CartTest.adds"]),
        ),
        case("com.acme.CartTest", "unknown", "failure", "the total is 5, 7 was expected", ""),
    ];
    upload(&app, &ctx, "1", report(&cases)).await;

    let expected = [
        ("infra", "infrastructure", Some("connection_refused_or_reset")),
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
                assert!(group["explanation"]["matched"].as_str().is_some_and(|m| !m.is_empty()));
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
    assert!(v1["items"].as_array().unwrap().iter().all(|f| f["label"].is_string()
        && f["confidence"].is_number()
        && f.get("label_source").is_some()));

    // Filters and pages of the v2 list.
    assert_eq!(groups(&app, &ctx, "?label=automation_bug").await.len(), 3);
    assert_eq!(groups(&app, &ctx, "?min_confidence=0.01").await.len(), 6);
    assert_eq!(groups(&app, &ctx, "?q=TOTAL%20IS").await.len(), 1);
    assert_eq!(groups(&app, &ctx, "?status=open").await.len(), 7);
    assert_eq!(groups(&app, &ctx, "?status=resolved").await.len(), 0);
    let path = format!("/v2/projects/{}/failures?limit=4", project_of(&ctx));
    let first = app.get(&path, &ctx).await.expect(200);
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = app.get(&format!("{path}&cursor={cursor}"), &ctx).await.expect(200);
    assert_eq!(second["items"].as_array().unwrap().len(), 3);
    assert!(second["next_cursor"].is_null());
    let bad = app.get(&format!("{path}&min_confidence=2"), &ctx).await;
    bad.expect_problem(400, "request.invalid_query");
    let bad = app.get(&format!("{path}&label=nonsense"), &ctx).await;
    assert_eq!(bad.status, 400, "{}", bad.text);
}

#[tokio::test]
async fn a_project_rule_decides_before_the_builtin_rules_and_only_admins_write_rules() {
    let app = helpers::spawn().await;
    let ctx = helpers::uploader(Uuid::now_v7());
    let rules = format!("/v1/projects/{}/classification-rules", project_of(&ctx));
    let rule = json!({
        "name": "staging database restarts nightly",
        "field": "message",
        "pattern": r"(?i)connection refused.*:5432",
        "label": "no_defect",
    });
    app.post(&rules, &member(&ctx), rule.clone())
        .await
        .expect_problem(403, "context.role_too_low");
    let reply = app.post(&rules, &admin(&ctx), rule).await;
    let location = reply.header("location").unwrap().to_owned();
    let created = reply.expect(201);
    assert_eq!(location, format!("classification-rules/{}", created["id"].as_str().unwrap()));
    assert_eq!(created["enabled"], true);
    assert_eq!(created["position"], 0);

    for pattern in ["(unclosed", r"\w{1000}\w{1000}\w{1000}"] {
        let refused = app
            .post(
                &rules,
                &admin(&ctx),
                json!({"name": "bad", "field": "message", "pattern": pattern, "label": "flaky"}),
            )
            .await;
        refused.expect_problem(422, "classification_rule.invalid_pattern");
    }
    let by_type = app
        .post(
            &rules,
            &admin(&ctx),
            json!({"name": "sql", "field": "exception_type", "pattern": r"^java\.sql\.SQLException$", "label": "product_bug"}),
        )
        .await
        .expect(201);
    assert_eq!(by_type["position"], 1);
    let listed = app.get(&rules, &helpers::viewer(project_of(&ctx))).await.expect(200);
    assert_eq!(listed["items"].as_array().unwrap().len(), 2);

    let cases = [
        case("com.acme.DbTest", "db", "error", "org.postgresql.util.PSQLException: Connection refused: db.staging:5432", ""),
        case("com.acme.ApiTest", "api", "error", "java.net.ConnectException: Connection refused", ""),
        case(
            "com.acme.DbTest", "sql", "error", "java.sql.SQLException: deadlock detected",
            &jvm_trace("java.sql.SQLException: deadlock detected", &["db.Repo.save", "DbTest.saves"]),
        ),
    ];
    upload(&app, &ctx, "1", report(&cases)).await;
    let db = group_of(&app, &ctx, "db").await;
    assert_eq!((&db["label"], &db["label_source"]), (&json!("no_defect"), &json!("rule")));
    assert_eq!(db["explanation"]["decided_by"], "project_rule");
    assert_eq!(db["explanation"]["rule_id"], created["id"]);
    assert_eq!(db["explanation"]["rule_name"], "staging database restarts nightly");
    assert_eq!(db["explanation"]["field"], "message");
    assert_eq!(db["explanation"]["matched"], "Connection refused: db.staging:5432");
    let api = group_of(&app, &ctx, "api").await;
    assert_eq!(api["label"], "infrastructure", "the built-in rule, as the project rule does not match");
    let sql = group_of(&app, &ctx, "sql").await;
    assert_eq!(sql["label"], "product_bug");
    assert_eq!(sql["explanation"]["field"], "exception_type");

    // Disabled, the rule no longer applies to new groups.
    let rule_path = format!("{rules}/{}", created["id"].as_str().unwrap());
    let patched = app
        .patch(&rule_path, &admin(&ctx), json!({"enabled": false}))
        .await
        .expect(200);
    assert_eq!(patched["enabled"], false);
    let other = case("com.acme.DbTest", "db2", "error", "org.postgresql.util.PSQLException: Connection refused: replica:5432 (second)", "");
    upload(&app, &ctx, "2", report(&[other])).await;
    assert_eq!(group_of(&app, &ctx, "db2").await["label"], "infrastructure");
    app.patch(&rule_path, &admin(&ctx), json!({"pattern": "(bad"}))
        .await
        .expect_problem(422, "classification_rule.invalid_pattern");
    app.delete(&rule_path, &member(&ctx))
        .await
        .expect_problem(403, "context.role_too_low");
    app.delete(&rule_path, &admin(&ctx)).await.expect(204);
    app.get(&rule_path, &ctx)
        .await
        .expect_problem(404, "classification_rule.not_found");

    // Rules are visible only in their project.
    let app_role = app.database().connect_as("failure_app").await.unwrap();
    let visible = || async {
        app_role
            .query_one("SELECT count(*) FROM failure.classification_rules", &[])
            .await
            .unwrap()
            .try_get::<_, i64>(0)
            .unwrap()
    };
    assert_eq!(visible().await, 0, "no project set");
    app_role
        .batch_execute(&format!("SET app.project_id = '{}'", project_of(&ctx)))
        .await
        .unwrap();
    assert_eq!(visible().await, 1, "its own project");
}

/// A failure thrown through five `com.acme` frames, the last one `last`.
fn near_case(name: &str, last: &str) -> String {
    let message = "java.lang.IllegalStateException: order closed";
    let frames = ["cart.Cart.add", "cart.Cart.put", "shop.Shop.buy", "shop.Shop.pay", last];
    case("com.acme.Flow", name, "error", message, &jvm_trace(message, &frames))
}

#[tokio::test]
async fn one_label_teaches_similar_groups_at_once_and_removing_it_recomputes_them() {
    let app = helpers::spawn().await;
    let ctx = helpers::uploader(Uuid::now_v7());
    let unrelated = {
        let message = "java.lang.IllegalStateException: order closed";
        let frames = ["x.A.a", "x.B.b", "x.C.c", "x.D.d", "x.E.e"];
        case("com.acme.Flow", "unrelated", "error", message, &jvm_trace(message, &frames))
    };
    let cases = [near_case("labelled", "api.Api.call"), near_case("similar", "api.Api.other"), unrelated];
    upload(&app, &ctx, "1", report(&cases)).await;
    let labelled = group_of(&app, &ctx, "labelled").await;
    assert_eq!(group_of(&app, &ctx, "similar").await["label"], "to_investigate");

    let by = member(&ctx);
    let answer = app
        .put(&label_path(&ctx, &labelled), &by, json!({"label": "product_bug"}))
        .await
        .expect(200);
    assert_eq!((&answer["label"], &answer["label_source"]), (&json!("product_bug"), &json!("user")));
    assert_eq!(answer["confidence"], 1.0);
    assert_eq!(answer["explanation"]["decided_by"], "user");
    assert_eq!(answer["explanation"]["user_id"], by.principal().id.to_string());
    assert_eq!(answer["feedback"][0]["action"], "set");
    assert_eq!(answer["feedback"][0]["old_label"], "to_investigate");
    assert_eq!(answer["feedback"][0]["new_label"], "product_bug");

    let similar = group_of(&app, &ctx, "similar").await;
    assert_eq!((&similar["label"], &similar["label_source"]), (&json!("product_bug"), &json!("learned")));
    assert!((similar["confidence"].as_f64().unwrap() - 0.8).abs() < 1e-9, "{similar:#}");
    assert_eq!(similar["explanation"]["decided_by"], "learned");
    assert_eq!(similar["explanation"]["group_id"], labelled["id"]);
    assert_eq!(group_of(&app, &ctx, "unrelated").await["label"], "to_investigate");

    // A new group like it learns the label when it is created.
    upload(&app, &ctx, "2", report(&[near_case("newcomer", "api.Api.third")])).await;
    let newcomer = group_of(&app, &ctx, "newcomer").await;
    assert_eq!((&newcomer["label"], &newcomer["label_source"]), (&json!("product_bug"), &json!("learned")));
    assert_eq!(newcomer["recent_occurrences"][0]["label"], "product_bug");

    // Changing the label changes what the others learned; removing it
    // takes it back.
    app.put(&label_path(&ctx, &labelled), &by, json!({"label": "no_defect"}))
        .await
        .expect(200);
    assert_eq!(group_of(&app, &ctx, "similar").await["label"], "no_defect");
    let removed = app.delete(&label_path(&ctx, &labelled), &by).await.expect(200);
    assert_eq!(removed["label"], "to_investigate");
    assert_eq!(removed["label_source"], Value::Null);
    assert_eq!(removed["feedback"].as_array().unwrap().len(), 3);
    assert_eq!(removed["feedback"][0]["action"], "removed");
    assert_eq!(removed["feedback"][0]["old_label"], "no_defect");
    for test in ["similar", "newcomer"] {
        let group = group_of(&app, &ctx, test).await;
        assert_eq!(group["label"], "to_investigate", "{test}");
        assert_eq!(group["explanation"]["decided_by"], "nothing", "{test}");
    }
    assert_eq!(app.count_rows("failure.label_feedback").await, 3);
}

#[tokio::test]
async fn a_user_label_beats_learned_labels_rules_and_flaky_evidence() {
    let app = helpers::spawn().await;
    let ctx = helpers::uploader(Uuid::now_v7());
    let refused = || case("com.acme.ApiTest", "calls", "error", "java.net.ConnectException: Connection refused", "");
    upload(&app, &ctx, "1", report(&[refused(), near_case("taught", "api.Api.call"), near_case("teacher", "api.Api.other")])).await;
    let ruled = group_of(&app, &ctx, "calls").await;
    assert_eq!(ruled["label"], "infrastructure");

    // Over a rule.
    let by = member(&ctx);
    app.put(&label_path(&ctx, &ruled), &by, json!({"label": "product_bug"}))
        .await
        .expect(200);
    // Over learned: a group labelled by a user keeps it when a similar
    // group is labelled otherwise.
    let taught = group_of(&app, &ctx, "taught").await;
    app.put(&label_path(&ctx, &taught), &by, json!({"label": "automation_bug"}))
        .await
        .expect(200);
    let teacher = group_of(&app, &ctx, "teacher").await;
    app.put(&label_path(&ctx, &teacher), &by, json!({"label": "infrastructure"}))
        .await
        .expect(200);
    let taught = group_of(&app, &ctx, "taught").await;
    assert_eq!((&taught["label"], &taught["label_source"]), (&json!("automation_bug"), &json!("user")));

    // A later failure of the labelled group, even a flaky one, takes the
    // user's label.
    let flaky_run = format!(
        "{}<testcase classname=\"com.acme.ApiTest\" name=\"calls\"/>",
        refused()
    );
    upload(&app, &ctx, "2", report(&[flaky_run])).await;
    let group = group_of(&app, &ctx, "calls").await;
    assert_eq!((&group["label"], &group["label_source"]), (&json!("product_bug"), &json!("user")));
    assert_eq!(group["occurrences"], 2);
    assert_eq!(group["affected_tests"], 1);
    let latest = &group["recent_occurrences"][0];
    assert_eq!((&latest["label"], &latest["label_source"]), (&json!("product_bug"), &json!("user")));
}

#[tokio::test]
async fn a_test_that_passed_on_retry_in_the_same_build_is_flaky_over_the_rules() {
    let app = helpers::spawn().await;
    let ctx = helpers::uploader(Uuid::now_v7());
    // A rerun written as a repeated test case: failed, then passed.
    let xml = format!(
        "{}<testcase classname=\"com.acme.ApiTest\" name=\"retried\"/>",
        case("com.acme.ApiTest", "retried", "error", "java.net.ConnectException: Connection refused (retried)", "")
    );
    upload(&app, &ctx, "1", report(&[xml])).await;
    let group = group_of(&app, &ctx, "retried").await;
    assert_eq!((&group["label"], &group["label_source"]), (&json!("flaky"), &json!("flaky")));
    assert_eq!(group["confidence"], 1.0);
    assert_eq!(group["explanation"]["decided_by"], "flaky");
    assert_eq!(group["explanation"]["evidence"], "passed_on_retry");
    assert_eq!(group["explanation"]["test_id"], group["latest_sample"]["test"]["id"]);
    assert_eq!(group["recent_occurrences"][0]["label"], "flaky");

    // The same failure without a passing retry, in another build: the
    // built-in rule labels that failure; the group keeps its label.
    let once = case("com.acme.ApiTest", "retried", "error", "java.net.ConnectException: Connection refused (retried)", "");
    upload(&app, &ctx, "2", report(&[once])).await;
    let group = group_of(&app, &ctx, "retried").await;
    assert_eq!(group["label"], "flaky");
    assert_eq!(group["occurrences"], 2);
    assert_eq!(group["recent_occurrences"][0]["label"], "infrastructure");
    assert_eq!(group["recent_occurrences"][1]["label"], "flaky");
}

#[tokio::test]
async fn a_viewer_cannot_label_a_member_labels_one_failure_and_bad_labels_are_refused() {
    let app = helpers::spawn().await;
    let ctx = helpers::uploader(Uuid::now_v7());
    let xml = report(&[case("com.acme.CartTest", "adds", "failure", "expected 1 but was 2", "")]);
    let build = app.create_build(&ctx, "1").await;
    app.upload(&ctx, build, Body::xml(xml.clone()), None).await.expect(201);
    let group = group_of(&app, &ctx, "adds").await;
    let viewer = helpers::viewer(project_of(&ctx));
    app.put(&label_path(&ctx, &group), &viewer, json!({"label": "product_bug"}))
        .await
        .expect_problem(403, "context.role_too_low");
    app.delete(&label_path(&ctx, &group), &viewer)
        .await
        .expect_problem(403, "context.role_too_low");
    let failure_id = group["recent_occurrences"][0]["id"].as_str().unwrap();
    let failure_label = format!("/v1/projects/{}/failures/{failure_id}/label", project_of(&ctx));
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
    let other_failure = format!("/v1/projects/{}/failures/{}/label", project_of(&ctx), Uuid::now_v7());
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
    assert_eq!((&labelled["label"], &labelled["label_source"]), (&json!("no_defect"), &json!("user")));
    assert_eq!(labelled["confidence"], 1.0);
    app.upload(&ctx, build, Body::xml(xml), None).await.expect(201);
    let failure = app
        .get(&format!("/v1/projects/{}/failures/{failure_id}", project_of(&ctx)), &ctx)
        .await
        .expect(200);
    assert_eq!(failure["label"], "no_defect");
    assert_eq!(group_of(&app, &ctx, "adds").await["label"], "to_investigate");
    assert_eq!(app.count_rows("failure.label_feedback").await, 1);
}
