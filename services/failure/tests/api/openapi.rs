//! The service's OpenAPI document: served to services only, covering every
//! route the gateway exposes, and describing the JSON batch exactly as the
//! upload parser reads it.

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use test_support::{Reply, TestApp, contexts};
use uuid::Uuid;

use crate::helpers::{self, Body, FailureApp, project_of};

const SPEC_PATH: &str = "/internal/v1/openapi.json";

async fn fetch_document(app: &TestApp) -> Value {
    let response = app.get(SPEC_PATH, &contexts::service()).await;
    assert_eq!(response.header("content-type"), Some("application/json"));
    response.expect(200)
}

/// `(METHOD, path)` of every failure route in the gateway's route table,
/// at the path this service serves it.
fn failure_routes_in_the_route_table() -> BTreeSet<(String, String)> {
    let text =
        std::fs::read_to_string(test_support::workspace_root().join("deploy/config/routes.toml"))
            .unwrap();
    let table: toml::Table = toml::from_str(&text).unwrap();
    let mut routes = BTreeSet::new();
    for route in table["route"].as_array().unwrap() {
        if route["upstream"].as_str() != Some("failure") {
            continue;
        }
        let path = match route.get("upstream_path") {
            Some(path) => path.as_str().unwrap().to_owned(),
            None => format!(
                "/v{}{}",
                route["version"].as_integer().unwrap(),
                route["path"].as_str().unwrap()
            ),
        };
        for method in route["methods"].as_array().unwrap() {
            routes.insert((method.as_str().unwrap().to_owned(), path.clone()));
        }
    }
    routes
}

fn documented_operations(document: &Value) -> BTreeSet<(String, String)> {
    document["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .map(|method| (method.to_ascii_uppercase(), path.clone()))
        })
        .collect()
}

fn schema<'a>(document: &'a Value, name: &str) -> &'a Value {
    let schema = &document["components"]["schemas"][name];
    assert!(schema.is_object(), "no schema {name}");
    schema
}

fn string_set(value: &Value) -> BTreeSet<String> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {value}"))
        .iter()
        .map(|item| item.as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn the_document_is_served_to_services_and_refused_to_users_and_anonymous_callers() {
    let app = helpers::spawn().await;
    let document = fetch_document(&app).await;
    assert_eq!(document["openapi"], "3.1.0");
    assert_eq!(document["info"]["title"], "failure-service");

    let user = contexts::signed_in(Uuid::now_v7());
    let body = app.get(SPEC_PATH, &user).await.expect(403);
    assert_eq!(body["code"], "context.service_required");

    let uploader = helpers::uploader(Uuid::now_v7());
    let refused = app.get(SPEC_PATH, &uploader).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);

    let anonymous = Reply::from_request(app.request(Method::GET, SPEC_PATH)).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn every_route_the_gateway_exposes_is_documented_and_served() {
    let app = helpers::spawn().await;
    let document = fetch_document(&app).await;
    let documented = documented_operations(&document);
    assert_eq!(documented, failure_routes_in_the_route_table());

    let ctx = helpers::viewer(Uuid::now_v7());
    let project = project_of(&ctx);
    for (method, path) in &documented {
        let operation = &document["paths"][path][method.to_ascii_lowercase()];
        assert_eq!(
            operation["security"][0]["bearer"],
            json!([]),
            "{method} {path}"
        );
        assert!(
            operation["tags"].as_array().is_some_and(|t| !t.is_empty()),
            "{method} {path} has no tag"
        );
        for (status, response) in operation["responses"].as_object().unwrap() {
            if status.starts_with('4') || status.starts_with('5') {
                assert_eq!(
                    response["content"]["application/problem+json"]["schema"]["$ref"],
                    "#/components/schemas/Problem",
                    "{method} {path} {status}"
                );
            }
        }
        // The path, filled in, reaches a handler: the service answers for
        // the resource (role, validation, not found), never for the route.
        let concrete = path
            .split('/')
            .map(|segment| match segment {
                "{project}" => project.to_string(),
                s if s.starts_with('{') => Uuid::now_v7().to_string(),
                s => s.to_owned(),
            })
            .collect::<Vec<_>>()
            .join("/");
        let Reply { status, body, .. } = app
            .call(method.parse().unwrap(), &concrete, &ctx, None)
            .await;
        assert!(
            body["code"] != "route.not_found" && body["code"] != "route.method_not_allowed",
            "{method} {concrete}: {status} {body}"
        );
    }
}

#[tokio::test]
async fn uploads_document_the_four_body_types_and_both_success_answers() {
    let app = helpers::spawn().await;
    let document = fetch_document(&app).await;
    let upload = &document["paths"]["/v1/projects/{project}/builds/{build}/results"]["post"];
    let content = upload["requestBody"]["content"].as_object().unwrap();
    let types: BTreeSet<&str> = content.keys().map(String::as_str).collect();
    assert_eq!(
        types,
        BTreeSet::from([
            "application/xml",
            "application/gzip",
            "application/zip",
            "application/json"
        ])
    );
    assert_eq!(
        content["application/json"]["schema"]["$ref"],
        "#/components/schemas/JsonBatch"
    );
    for binary in ["application/xml", "application/gzip", "application/zip"] {
        let target = content[binary]["schema"]["$ref"].as_str().unwrap();
        let name = target.rsplit('/').next().unwrap();
        let body = schema(&document, name);
        assert_eq!(body["type"], "string", "{binary}");
        assert_eq!(body["format"], "binary", "{binary}");
    }

    let responses = &upload["responses"];
    for status in ["200", "201"] {
        assert_eq!(
            responses[status]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/UploadSummary",
            "{status}"
        );
    }
    assert!(responses["200"]["headers"]["idempotent-replayed"].is_object());
    for status in [
        "400", "401", "403", "404", "408", "413", "415", "422", "429", "500", "503",
    ] {
        assert!(responses.get(status).is_some(), "upload lacks {status}");
    }
    let parameters: BTreeSet<(String, String)> = upload["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["in"].as_str().unwrap().to_owned(),
                p["name"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(parameters.contains(&("header".into(), "idempotency-key".into())));
    assert!(parameters.contains(&("header".into(), "content-encoding".into())));

    // The summary describes exactly what an upload answers.
    let summary = schema(&document, "UploadSummary");
    let ctx = helpers::uploader(Uuid::now_v7());
    let build = app.create_build(&ctx, "b1").await;
    let body = app
        .upload(
            &ctx,
            build,
            Body::xml(r#"<testsuite name="s"><testcase name="t"/></testsuite>"#),
            None,
        )
        .await
        .expect(201);
    let answered: BTreeSet<String> = body.as_object().unwrap().keys().cloned().collect();
    let described: BTreeSet<String> = summary["properties"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert_eq!(answered, described);
}

/// A value for every field the JSON batch accepts, by name.
fn example_value(field: &str) -> Value {
    match field {
        "suite" => json!("checkout"),
        "classname" => json!("checkout.CartTest"),
        "name" => json!("applies_discounts"),
        "file" => json!("tests/cart_test.py"),
        "status" => json!("failed"),
        "duration_ms" => json!(1234),
        "retries" => json!(2),
        "type" => json!("AssertionError"),
        "message" => json!("expected 90, got 100"),
        "stack_trace" => json!("at cart_test.py:42"),
        "system_out" => json!("applying discount"),
        "system_err" => json!("warning: stale price"),
        other => panic!("the document describes `{other}`; give it an example here"),
    }
}

#[tokio::test]
async fn the_json_batch_schema_is_exactly_what_the_upload_parser_accepts() {
    let app = helpers::spawn().await;
    let document = fetch_document(&app).await;

    let batch = schema(&document, "JsonBatch");
    assert_eq!(
        string_set(&batch["required"]),
        BTreeSet::from(["results".into()])
    );
    assert_eq!(batch["additionalProperties"], false);
    assert_eq!(
        batch["properties"]["results"]["items"]["$ref"],
        "#/components/schemas/JsonResult"
    );

    let result = schema(&document, "JsonResult");
    assert_eq!(
        string_set(&result["required"]),
        BTreeSet::from(["name".into(), "status".into()])
    );
    assert_eq!(result["additionalProperties"], false);
    let properties = result["properties"].as_object().unwrap();
    assert_eq!(
        properties["status"]["$ref"],
        "#/components/schemas/CaseStatus"
    );
    let statuses = string_set(&schema(&document, "CaseStatus")["enum"]);
    assert_eq!(
        statuses,
        ["passed", "failed", "error", "skipped", "flaky"]
            .map(String::from)
            .into()
    );

    // Every documented field, filled in, is accepted and kept.
    let full: serde_json::Map<String, Value> = properties
        .keys()
        .map(|field| (field.clone(), example_value(field)))
        .collect();
    let ctx = helpers::uploader(Uuid::now_v7());
    let project = project_of(&ctx);
    let build = app.create_build(&ctx, "full").await;
    let summary = app
        .upload(&ctx, build, Body::json(&json!({ "results": [full] })), None)
        .await
        .expect(201);
    assert_eq!(helpers::counts(&summary), [1, 0, 1, 0, 0, 0]);
    assert_eq!(summary["warnings"], json!([]));
    let failures = app
        .get(&format!("/v1/projects/{project}/failures"), &ctx)
        .await
        .body;
    let failure_id = failures["items"][0]["id"].as_str().unwrap();
    let failure = app
        .get(
            &format!("/v1/projects/{project}/failures/{failure_id}"),
            &ctx,
        )
        .await
        .body;
    assert_eq!(failure["error_type"], full["type"]);
    for field in ["message", "stack_trace", "system_out", "system_err"] {
        assert_eq!(failure[field], full[field], "{field}");
    }
    for field in ["suite", "classname", "name", "file"] {
        assert_eq!(failure["test"][field], full[field], "{field}");
    }
    let test_id = failure["test"]["id"].as_str().unwrap();
    let history = app
        .get(
            &format!("/v1/projects/{project}/tests/{test_id}/history"),
            &ctx,
        )
        .await
        .body;
    assert_eq!(history["results"][0]["duration_ms"], full["duration_ms"]);
    assert_eq!(history["results"][0]["retry_count"], full["retries"]);

    // The required fields alone are enough, for every documented status.
    let minimal: Vec<Value> = statuses
        .iter()
        .map(|status| json!({ "name": format!("only_{status}"), "status": status }))
        .collect();
    let build = app.create_build(&ctx, "minimal").await;
    let summary = app
        .upload(
            &ctx,
            build,
            Body::json(&json!({ "results": minimal })),
            None,
        )
        .await
        .expect(201);
    assert_eq!(helpers::counts(&summary), [5, 1, 1, 1, 1, 1]);

    // Leaving out a required field, or adding an undocumented one, is refused.
    let build = app.create_build(&ctx, "refused").await;
    for field in ["name", "status"] {
        let mut partial = full.clone();
        partial.remove(field);
        let refused = app
            .upload(
                &ctx,
                build,
                Body::json(&json!({ "results": [partial] })),
                None,
            )
            .await;
        assert_eq!(
            (refused.status, refused.code()),
            (StatusCode::UNPROCESSABLE_ENTITY, "results.invalid_batch"),
            "without {field}"
        );
    }
    let mut extra = full.clone();
    extra.insert("undocumented".into(), json!(1));
    let problem = app
        .upload(
            &ctx,
            build,
            Body::json(&json!({ "results": [extra] })),
            None,
        )
        .await
        .expect(422);
    assert_eq!(problem["code"], "results.invalid_batch");
}

#[tokio::test]
async fn json_bodies_must_be_objects_and_whole_numbers_may_be_written_with_a_fraction_of_zero() {
    let app = helpers::spawn().await;
    let ctx = helpers::uploader(Uuid::now_v7());
    let project = project_of(&ctx);
    let builds = format!("/v1/projects/{project}/builds");

    // The array form serde takes for a struct is refused, as the document's
    // `type: object` says.
    let problem = app
        .post(&builds, &ctx, json!(["ci", "b-1"]))
        .await
        .expect(422);
    assert_eq!(problem["code"], "request.invalid_body");

    // JSON Schema's `integer` includes 3.0.
    let build = app
        .post(
            &builds,
            &ctx,
            json!({"job_name": "ci", "external_id": "b-2", "number": 3.0}),
        )
        .await
        .expect(201);
    assert_eq!(build["number"], 3);
    let response = app
        .post(
            &builds,
            &ctx,
            json!({"job_name": "ci", "external_id": "b-3", "number": 3.5}),
        )
        .await;
    assert_eq!(response.status, StatusCode::UNPROCESSABLE_ENTITY);

    let build = app.create_build(&ctx, "batch").await;
    let summary = app
        .upload(
            &ctx,
            build,
            Body::json(&json!({"results": [
                {"name": "a", "status": "flaky", "duration_ms": 6773.0, "retries": 2.0}
            ]})),
            None,
        )
        .await
        .expect(201);
    assert_eq!(helpers::counts(&summary), [1, 0, 0, 0, 0, 1]);
}

#[tokio::test]
async fn a_json_result_is_refused_past_the_documented_maximum_retries_and_duration() {
    let app = helpers::spawn().await;
    let document = fetch_document(&app).await;
    let result = &schema(&document, "JsonResult")["properties"];
    assert_eq!(result["retries"]["maximum"], 10_000);
    assert_eq!(result["duration_ms"]["maximum"], 1_000_000_000_000_i64);

    let ctx = helpers::uploader(Uuid::now_v7());
    let build = app.create_build(&ctx, "bounds").await;
    for (field, at_most, past) in [
        ("retries", json!(10_000), json!(10_001)),
        (
            "duration_ms",
            json!(1_000_000_000_000_i64),
            json!(1_000_000_000_001_i64),
        ),
    ] {
        let mut result = json!({"name": format!("{field}_at_most"), "status": "passed"});
        result[field] = at_most;
        let Reply { status, body, .. } = app
            .upload(
                &ctx,
                build,
                Body::json(&json!({ "results": [result] })),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{field}: {body}");
        let mut result = json!({"name": format!("{field}_past"), "status": "passed"});
        result[field] = past;
        let Reply { status, body, .. } = app
            .upload(
                &ctx,
                build,
                Body::json(&json!({ "results": [result] })),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{field}: {body}");
        assert_eq!(body["code"], "request.invalid_body", "{field}");
    }
}

#[tokio::test]
async fn text_with_a_nul_character_is_a_bad_request_and_stores_nothing() {
    let app = helpers::spawn().await;
    let document = fetch_document(&app).await;
    // The document says so: every free text of a build and a JSON result
    // excludes U+0000.
    for (name, field) in [
        ("CreateBuild", "branch"),
        ("CreateBuild", "url"),
        ("JsonResult", "name"),
        ("JsonResult", "message"),
        ("JsonResult", "suite"),
    ] {
        let pattern = schema(&document, name)["properties"][field]["pattern"]
            .as_str()
            .unwrap_or_else(|| panic!("{name}.{field} has no pattern"));
        assert!(pattern.contains(r"^\x00"), "{name}.{field}: {pattern}");
    }

    let ctx = helpers::uploader(Uuid::now_v7());
    let project = project_of(&ctx);
    let problem = app
        .post(
            &format!("/v1/projects/{project}/builds"),
            &ctx,
            json!({"job_name": "ci", "external_id": "nul", "branch": "ma\u{0}in"}),
        )
        .await
        .expect(400);
    assert_eq!(problem["code"], "request.invalid_text");
    assert_eq!(app.count_rows("failure.builds").await, 0);

    let build = app.create_build(&ctx, "clean").await;
    let problem = app
        .upload(
            &ctx,
            build,
            Body::json(&json!({"results": [
                {"name": "fine", "status": "passed"},
                {"name": "broken", "status": "failed", "message": "expected \u{0}"}
            ]})),
            None,
        )
        .await
        .expect(400);
    assert_eq!(problem["code"], "request.invalid_text");
    assert_eq!(app.count_rows("failure.test_results").await, 0);

    app.get(
        &format!("/v1/projects/{project}/failures?error_type=a%00b"),
        &ctx,
    )
    .await
    .expect(400);
}

#[tokio::test]
async fn a_page_size_of_zero_or_past_the_documented_maximum_is_refused_on_every_list() {
    let app = helpers::spawn().await;
    let document = fetch_document(&app).await;
    let ctx = helpers::viewer(Uuid::now_v7());
    let project = project_of(&ctx);
    let test = Uuid::now_v7();
    for (path, operation) in [
        ("/v1/projects/{project}/builds", "get"),
        ("/v1/projects/{project}/failures", "get"),
        ("/v1/projects/{project}/tests/{test}/history", "get"),
    ] {
        let limit = document["paths"][path][operation]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "limit")
            .unwrap_or_else(|| panic!("{path}: no limit"));
        assert_eq!(limit["schema"]["minimum"], 1, "{path}");
        assert_eq!(limit["schema"]["maximum"], 4_294_967_295_u64, "{path}");

        let concrete = path
            .replace("{project}", &project.to_string())
            .replace("{test}", &test.to_string());
        let zero = app.get(&format!("{concrete}?limit=0"), &ctx).await;
        assert_eq!(
            zero.status,
            StatusCode::BAD_REQUEST,
            "{path}: {}",
            zero.text
        );
        assert_eq!(zero.code(), "pagination.invalid_limit", "{path}");
        let past = app.get(&format!("{concrete}?limit=4294967296"), &ctx).await;
        assert_eq!(
            past.status,
            StatusCode::BAD_REQUEST,
            "{path}: {}",
            past.text
        );
        let Reply { status, body, .. } =
            app.get(&format!("{concrete}?limit=4294967295"), &ctx).await;
        // The history of a test that does not exist is a 404 after the
        // page size was accepted.
        assert!(
            status == StatusCode::OK || body["code"] == "test.not_found",
            "{path}: {status} {body}"
        );
    }
}
