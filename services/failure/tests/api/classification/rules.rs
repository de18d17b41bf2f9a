//! A project's rules: written by admins, validated, applied before the
//! built-in rules to groups created after them.

use serde_json::json;
use uuid::Uuid;

use super::{admin, case, group_of, jvm_trace, member, report, upload};
use crate::helpers::{self, project_of};

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
    assert_eq!(
        location,
        format!("classification-rules/{}", created["id"].as_str().unwrap())
    );
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
    // Positions stay far from the column's range: a rule after the last
    // always has one.
    let far = json!({"name": "far", "field": "message", "pattern": "x", "label": "flaky", "position": i32::MAX});
    let refused = app.post(&rules, &admin(&ctx), far).await;
    assert_eq!(refused.status.as_u16(), 422, "{}", refused.text);
    let by_type = app
        .post(
            &rules,
            &admin(&ctx),
            json!({"name": "sql", "field": "exception_type", "pattern": r"^java\.sql\.SQLException$", "label": "product_bug"}),
        )
        .await
        .expect(201);
    assert_eq!(by_type["position"], 1);
    let listed = app
        .get(&rules, &helpers::viewer(project_of(&ctx)))
        .await
        .expect(200);
    assert_eq!(listed["items"].as_array().unwrap().len(), 2);

    let cases = [
        case(
            "com.acme.DbTest",
            "db",
            "error",
            "org.postgresql.util.PSQLException: Connection refused: db.staging:5432",
            "",
        ),
        case(
            "com.acme.ApiTest",
            "api",
            "error",
            "java.net.ConnectException: Connection refused",
            "",
        ),
        case(
            "com.acme.DbTest",
            "sql",
            "error",
            "java.sql.SQLException: deadlock detected",
            &jvm_trace(
                "java.sql.SQLException: deadlock detected",
                &["db.Repo.save", "DbTest.saves"],
            ),
        ),
    ];
    upload(&app, &ctx, "1", report(&cases)).await;
    let db = group_of(&app, &ctx, "db").await;
    assert_eq!(
        (&db["label"], &db["label_source"]),
        (&json!("no_defect"), &json!("rule"))
    );
    assert_eq!(db["explanation"]["decided_by"], "project_rule");
    assert_eq!(db["explanation"]["rule_id"], created["id"]);
    assert_eq!(
        db["explanation"]["rule_name"],
        "staging database restarts nightly"
    );
    assert_eq!(db["explanation"]["field"], "message");
    assert_eq!(
        db["explanation"]["matched"],
        "Connection refused: db.staging:5432"
    );
    let api = group_of(&app, &ctx, "api").await;
    assert_eq!(
        api["label"], "infrastructure",
        "the built-in rule, as the project rule does not match"
    );
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
    let other = case(
        "com.acme.DbTest",
        "db2",
        "error",
        "org.postgresql.util.PSQLException: Connection refused: replica:5432 (second)",
        "",
    );
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
