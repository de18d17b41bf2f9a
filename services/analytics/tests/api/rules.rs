//! Gate rules: admins write them, viewers read them; invalid input is a
//! 422 with a code saying what is wrong, and nothing is stored.

use serde_json::json;
use uuid::Uuid;

use crate::helpers::{Platform, Relay, rules_path};

#[tokio::test]
async fn admins_create_change_and_delete_rules_that_viewers_read() {
    let platform = Platform::start(Relay::Nowhere).await;
    let project = platform.new_project().await;
    let app = &platform.analytics;
    let path = rules_path(&project);
    let reply = app
        .post(
            &path,
            &project.admin,
            json!({"name": "pass rate", "kind": "min_pass_rate", "threshold": 97.5, "branch_pattern": "release/*"}),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    let rule = reply.body.clone();
    let id = rule["id"].as_str().unwrap();
    assert_eq!(
        reply.header("location"),
        Some(format!("quality-gate-rules/{id}").as_str())
    );
    assert_eq!(
        (
            rule["kind"].clone(),
            rule["threshold"].clone(),
            rule["enabled"].clone()
        ),
        (json!("min_pass_rate"), json!(97.5), json!(true))
    );
    let no_new = platform
        .rule(&project, "no new", "no_new_groups", None, "*")
        .await;
    assert_eq!(no_new["threshold"], json!(0.0));

    let list = app.get(&path, &project.viewer).await.expect(200);
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
    assert_eq!(list["items"][0]["id"], id);
    let shown = app
        .get(&format!("{path}/{id}"), &project.viewer)
        .await
        .expect(200);
    assert_eq!(shown, rule);

    let changed = app
        .patch(
            &format!("{path}/{id}"),
            &project.admin,
            json!({"threshold": 90, "enabled": false}),
        )
        .await
        .expect(200);
    assert_eq!(
        (changed["threshold"].clone(), changed["enabled"].clone()),
        (json!(90.0), json!(false))
    );
    assert_eq!(changed["branch_pattern"], "release/*");

    let reply = app.delete(&format!("{path}/{id}"), &project.admin).await;
    assert_eq!(reply.status, 204, "{}", reply.text);
    app.get(&format!("{path}/{id}"), &project.viewer)
        .await
        .expect_problem(404, "quality_gate_rule.not_found");
    app.delete(&format!("{path}/{id}"), &project.admin)
        .await
        .expect_problem(404, "quality_gate_rule.not_found");
    app.patch(
        &format!("{path}/{}", Uuid::now_v7()),
        &project.admin,
        json!({"enabled": true}),
    )
    .await
    .expect_problem(404, "quality_gate_rule.not_found");
}

#[tokio::test]
async fn viewers_and_ci_keys_cannot_write_rules() {
    let platform = Platform::start(Relay::Nowhere).await;
    let project = platform.new_project().await;
    let app = &platform.analytics;
    let path = rules_path(&project);
    let body = json!({"name": "r", "kind": "max_failures", "threshold": 0, "branch_pattern": "*"});
    for ctx in [&project.viewer, &project.ci] {
        app.post(&path, ctx, body.clone())
            .await
            .expect_problem(403, "context.role_too_low");
    }
    let rule = platform
        .rule(&project, "r", "max_failures", Some(0.0), "*")
        .await;
    let id = rule["id"].as_str().unwrap();
    app.patch(
        &format!("{path}/{id}"),
        &project.viewer,
        json!({"threshold": 3}),
    )
    .await
    .expect_problem(403, "context.role_too_low");
    app.delete(&format!("{path}/{id}"), &project.viewer)
        .await
        .expect_problem(403, "context.role_too_low");
    assert_eq!(app.count_rows("analytics.quality_gate_rules").await, 1);
}

#[tokio::test]
async fn invalid_rules_are_refused_with_a_code_and_nothing_is_stored() {
    let platform = Platform::start(Relay::Nowhere).await;
    let project = platform.new_project().await;
    let app = &platform.analytics;
    let path = rules_path(&project);
    let cases = [
        (
            json!({"name": "r", "kind": "max_failures", "threshold": 1.5, "branch_pattern": "*"}),
            "quality_gate_rule.invalid_threshold",
        ),
        (
            json!({"name": "r", "kind": "max_failures", "branch_pattern": "*"}),
            "quality_gate_rule.invalid_threshold",
        ),
        (
            json!({"name": "r", "kind": "min_pass_rate", "threshold": 101, "branch_pattern": "*"}),
            "quality_gate_rule.invalid_threshold",
        ),
        (
            json!({"name": "r", "kind": "no_product_bugs", "threshold": 2, "branch_pattern": "*"}),
            "quality_gate_rule.invalid_threshold",
        ),
        (
            json!({"name": "r", "kind": "min_tests", "threshold": -1, "branch_pattern": "*"}),
            "quality_gate_rule.invalid_threshold",
        ),
        (
            json!({"name": " ", "kind": "min_tests", "threshold": 1, "branch_pattern": "*"}),
            "quality_gate_rule.invalid_name",
        ),
        (
            json!({"name": "r", "kind": "min_tests", "threshold": 1, "branch_pattern": "a b"}),
            "quality_gate_rule.invalid_branch_pattern",
        ),
        (
            json!({"name": "r", "kind": "min_tests", "threshold": 1, "branch_pattern": ""}),
            "quality_gate_rule.invalid_branch_pattern",
        ),
        (
            json!({"name": "r", "kind": "max_flakes", "threshold": 1, "branch_pattern": "*"}),
            "request.invalid_body",
        ),
        (
            json!({"name": "r", "kind": "min_tests", "threshold": 1, "branch_pattern": "*", "extra": 1}),
            "request.invalid_body",
        ),
    ];
    for (body, code) in cases {
        let reply = app.post(&path, &project.admin, body.clone()).await;
        reply.expect_problem(422, code);
        if code.starts_with("quality_gate_rule") {
            assert!(
                reply.body["errors"][0]["field"].is_string(),
                "{}",
                reply.text
            );
        }
    }
    assert_eq!(app.count_rows("analytics.quality_gate_rules").await, 0);

    let rule = platform
        .rule(&project, "r", "max_failures", Some(0.0), "*")
        .await;
    let id = rule["id"].as_str().unwrap();
    app.patch(
        &format!("{path}/{id}"),
        &project.admin,
        json!({"threshold": 0.5}),
    )
    .await
    .expect_problem(422, "quality_gate_rule.invalid_threshold");
    app.patch(
        &format!("{path}/{id}"),
        &project.admin,
        json!({"kind": "min_tests"}),
    )
    .await
    .expect_problem(422, "request.invalid_body");
    app.get(&format!("{path}/not-a-uuid"), &project.viewer)
        .await
        .expect_problem(400, "request.invalid_path");
}

#[tokio::test]
async fn rule_names_are_unique_in_a_project_only() {
    let platform = Platform::start(Relay::Nowhere).await;
    let project = platform.new_project().await;
    let app = &platform.analytics;
    platform
        .rule(&project, "gate", "min_tests", Some(1.0), "*")
        .await;
    let body =
        json!({"name": "gate", "kind": "max_failures", "threshold": 0, "branch_pattern": "main"});
    app.post(&rules_path(&project), &project.admin, body.clone())
        .await
        .expect_problem(409, "quality_gate_rule.name_taken");
    let other = platform
        .rule(&project, "other", "min_tests", Some(1.0), "*")
        .await;
    app.patch(
        &format!("{}/{}", rules_path(&project), other["id"].as_str().unwrap()),
        &project.admin,
        json!({"name": "gate"}),
    )
    .await
    .expect_problem(409, "quality_gate_rule.name_taken");
    let elsewhere = platform.new_project().await;
    app.post(&rules_path(&elsewhere), &elsewhere.admin, body)
        .await
        .expect(201);
}
