//! The documentation endpoints through a running gateway with real auth,
//! project and failure services: `/api/openapi.json` is a valid OpenAPI 3.1
//! document listing exactly the public routes of the built-in route table,
//! whose problem schema, status codes and page sizes are what the platform
//! answers, and `/api/docs` is Swagger UI served from the gateway itself.
//! (`scripts/api-contract.sh`, part of `make test`, checks every operation
//! of the document with schemathesis.)

use std::collections::{BTreeMap, BTreeSet};

use api_gateway::domain::route_table::{AuthMode, RouteTable};
use api_gateway::settings::Upstream;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use test_support::{Reply, TestApp};

use crate::helpers::{
    self, AnalyticsBackend, FailureBackend, IntegrationBackend, PASSWORD, problem,
};

/// Upstreams of the built-in table whose routes are deliberately not in
/// the document, with the reason. Every route of every other upstream must
/// be there; once one of these publishes its document, the comparison
/// below fails until it is taken off this list. Every upstream with routes
/// publishes one today.
const WITHOUT_SPEC: &[(&str, &str)] = &[];

const OPENAPI_3_1_SCHEMA: &str = include_str!("../fixtures/openapi-3.1-schema.json");

fn built_in_table() -> RouteTable {
    let upstreams: BTreeMap<String, Upstream> =
        ["auth", "project", "failure", "analytics", "integration"]
            .into_iter()
            .map(|name| {
                (
                    name.to_owned(),
                    Upstream {
                        url: "http://127.0.0.1:1".into(),
                        audience: name.into(),
                    },
                )
            })
            .collect();
    RouteTable::parse(api_gateway::BUILT_IN_ROUTES, &upstreams).unwrap()
}

async fn fetch_document(gateway: &TestApp) -> Value {
    let response = Reply::from_request(gateway.request(Method::GET, "/api/openapi.json")).await;
    assert_eq!(response.header("content-type"), Some("application/json"));
    response.expect(200)
}

/// The official OpenAPI 3.1 JSON Schema, then utoipa's own model of a 3.1
/// document, then what neither checks: references resolve, operation ids
/// are unique, path parameters match their templates, errors are problems.
fn assert_valid_openapi_3_1(document: &Value) {
    let schema: Value = serde_json::from_str(OPENAPI_3_1_SCHEMA).unwrap();
    let validator = jsonschema::draft202012::new(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(document)
        .map(|error| format!("{} at {}", error, error.instance_path()))
        .collect();
    assert!(errors.is_empty(), "not OpenAPI 3.1: {errors:#?}");
    // The schema has teeth: a 3.0 version and a malformed operation fail it.
    let mut broken = document.clone();
    broken["openapi"] = "3.0.3".into();
    assert!(!validator.is_valid(&broken));
    let mut broken = document.clone();
    broken["paths"]["/api/v1/auth/login"]["post"]["responses"] = "none".into();
    assert!(!validator.is_valid(&broken));

    let parsed: utoipa::openapi::OpenApi = serde_json::from_value(document.clone()).unwrap();
    assert!(matches!(
        parsed.openapi,
        utoipa::openapi::OpenApiVersion::Version31
    ));
    let components = parsed.components.as_ref().unwrap();
    assert!(matches!(
        components.security_schemes.get("bearer"),
        Some(utoipa::openapi::security::SecurityScheme::Http(_))
    ));

    let mut refs = Vec::new();
    collect_refs(document, &mut refs);
    assert!(!refs.is_empty());
    for reference in refs {
        let pointer = reference
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("external reference {reference}"));
        assert!(
            document.pointer(pointer).is_some(),
            "{reference} does not resolve"
        );
    }

    let mut operation_ids = BTreeSet::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        let template: BTreeSet<&str> = path
            .split('/')
            .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
            .collect();
        for (method, operation) in item.as_object().unwrap() {
            let id = operation["operationId"].as_str().unwrap();
            assert!(operation_ids.insert(id.to_owned()), "{id} twice");
            let declared: BTreeSet<&str> = operation["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| p["in"] == "path")
                .map(|p| p["name"].as_str().unwrap())
                .collect();
            assert_eq!(declared, template, "{method} {path}: path parameters");
            let responses = operation["responses"].as_object().unwrap();
            assert!(
                responses.keys().any(|s| s.starts_with('2')),
                "{method} {path}: no success"
            );
            for (status, response) in responses {
                if status.starts_with('4') || status.starts_with('5') {
                    assert_eq!(
                        response["content"]["application/problem+json"]["schema"]["$ref"],
                        "#/components/schemas/Problem",
                        "{method} {path} {status}"
                    );
                }
            }
        }
    }
}

fn collect_refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                match (key.as_str(), inner) {
                    ("$ref", Value::String(target)) => out.push(target.clone()),
                    _ => collect_refs(inner, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect_refs(item, out)),
        _ => {}
    }
}

fn operations(document: &Value) -> BTreeSet<(String, String)> {
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

#[tokio::test]
async fn the_document_is_openapi_3_1_and_lists_exactly_the_public_routes() {
    let failure = FailureBackend::spawn().await;
    let analytics = AnalyticsBackend::spawn().await;
    let integration = IntegrationBackend::spawn().await;
    let platform = helpers::spawn(&[
        failure.upstream_override(),
        analytics.upstream_override(),
        integration.upstream_override(),
    ])
    .await;
    let document = fetch_document(&platform.gateway).await;
    assert_valid_openapi_3_1(&document);
    #[expect(
        clippy::disallowed_methods,
        reason = "a switch of this test only, to write the document out for the contract check"
    )]
    let dump = std::env::var("FAULTLINE_OPENAPI_DUMP");
    if let Ok(path) = dump {
        std::fs::write(path, serde_json::to_vec_pretty(&document).unwrap()).unwrap();
    }

    let table = built_in_table();
    let mut expected = BTreeSet::new();
    let mut public = BTreeSet::new();
    for route in table.routes() {
        for method in &route.methods {
            let key = (
                method.as_str().to_owned(),
                format!("/api/v{}{}", route.version, route.path),
            );
            if route.auth == AuthMode::Public {
                public.insert(key.clone());
            }
            if !WITHOUT_SPEC
                .iter()
                .any(|(upstream, _)| *upstream == route.upstream)
            {
                expected.insert(key);
            }
        }
    }
    assert_eq!(operations(&document), expected);

    // Security follows the route table: public routes need nothing.
    for (method, path) in &expected {
        let operation = &document["paths"][path][method.to_ascii_lowercase()];
        let security = operation["security"].as_array().unwrap();
        if public.contains(&(method.clone(), path.clone())) {
            assert!(security.is_empty(), "{method} {path}");
        } else {
            assert_eq!(
                security[0]["bearer"],
                Value::Array(vec![]),
                "{method} {path}"
            );
        }
    }
    // A renamed parameter: the plan route's public `{project_ref}` is the
    // project service's `{project}`.
    let plan = &document["paths"]["/api/v1/projects/{project_ref}/plan"]["put"];
    assert_eq!(plan["parameters"][0]["name"], "project_ref");
    assert_eq!(
        plan["requestBody"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/ChangePlan"
    );
    // Backend error statuses and the gateway's own are declared.
    let login = &document["paths"]["/api/v1/auth/login"]["post"]["responses"];
    for status in ["400", "401", "422", "429", "503", "504"] {
        assert!(login.get(status).is_some(), "login lacks {status}");
    }
    let member =
        &document["paths"]["/api/v1/projects/{project}/members/{member}"]["patch"]["responses"];
    for status in ["401", "403", "404", "409", "429"] {
        assert!(member.get(status).is_some(), "member change lacks {status}");
    }
    // Result uploads: the four body types, the JSON batch schema with it.
    let upload = &document["paths"]["/api/v1/projects/{project}/builds/{build}/results"]["post"];
    let bodies = upload["requestBody"]["content"].as_object().unwrap();
    assert_eq!(
        bodies.keys().map(String::as_str).collect::<BTreeSet<_>>(),
        BTreeSet::from([
            "application/gzip",
            "application/json",
            "application/xml",
            "application/zip"
        ])
    );
    assert_eq!(
        bodies["application/json"]["schema"]["$ref"],
        "#/components/schemas/JsonBatch"
    );
    let result = &document["components"]["schemas"]["JsonResult"];
    assert_eq!(result["required"], serde_json::json!(["name", "status"]));
    for status in ["201", "200", "413", "415", "422", "429", "504"] {
        assert!(
            upload["responses"].get(status).is_some(),
            "upload lacks {status}"
        );
    }
    // The quality gate a CI step calls comes from the analytics service.
    let gate = &document["paths"]["/api/v1/projects/{project}/builds/{build}/quality-gate"]["get"];
    assert_eq!(
        gate["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/GateAnswer"
    );
    // Nothing internal leaks: every path is a public version's.
    assert!(
        operations(&document)
            .iter()
            .all(|(_, path)| path.starts_with("/api/v1/") || path.starts_with("/api/v2/"))
    );
    assert!(
        !serde_json::to_string(&document)
            .unwrap()
            .contains("/internal/")
    );
}

#[tokio::test]
async fn the_gateway_serves_the_document_without_a_backend_that_is_down() {
    let failure = FailureBackend::spawn().await;
    let analytics = AnalyticsBackend::spawn().await;
    let integration = IntegrationBackend::spawn().await;
    let platform = helpers::spawn(&[failure.upstream_override()]).await;
    let gateway = helpers::gateway(&[
        ("service.upstreams.auth.url", platform.auth.url("")),
        failure.upstream_override(),
        analytics.upstream_override(),
        integration.upstream_override(),
        // Nothing listens on port 1.
        (
            "service.upstreams.project.url",
            "http://127.0.0.1:1".to_owned(),
        ),
    ])
    .await;
    let document = fetch_document(&gateway).await;
    assert_valid_openapi_3_1(&document);
    assert_eq!(
        document["x-unavailable-upstreams"],
        serde_json::json!(["project"])
    );
    let paths = operations(&document);
    assert!(paths.contains(&("POST".into(), "/api/v1/auth/login".into())));
    assert!(paths.contains(&(
        "POST".into(),
        "/api/v1/projects/{project}/builds/{build}/results".into()
    )));
    assert!(!paths.contains(&("GET".into(), "/api/v1/projects".into())));
    assert!(
        !paths
            .iter()
            .any(|(_, path)| path.starts_with("/api/v1/projects/{project}/members"))
    );
}

#[tokio::test]
async fn backend_documents_are_internal() {
    let failure = FailureBackend::spawn().await;
    let platform = helpers::spawn(&[failure.upstream_override()]).await;
    for backend in [&platform.auth, &platform.project, &failure.service] {
        Reply::from_request(backend.request(Method::GET, "/internal/v1/openapi.json"))
            .await
            .expect_problem(401, "context.missing_token");
    }
    let response = platform
        .send(Method::GET, "/internal/v1/openapi.json", None, None)
        .await;
    assert_eq!(problem(response).0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn swagger_ui_is_served_by_the_gateway_itself() {
    let platform = helpers::spawn(&[]).await;
    for page in ["/api/docs", "/api/docs/"] {
        let response = platform.send(Method::GET, page, None, None).await;
        assert_eq!(response.status, StatusCode::OK, "{page}");
        assert!(
            response
                .header("content-type")
                .unwrap()
                .starts_with("text/html")
        );
        let html = response.text;
        assert!(html.contains("<base href=\"/api/docs/\">"), "{html}");
        let assets: Vec<&str> = html
            .split(['"', '\''])
            .filter(|s| s.ends_with(".js") || s.ends_with(".css"))
            .collect();
        assert!(assets.iter().any(|a| a.ends_with(".js")), "{html}");
        assert!(assets.iter().any(|a| a.ends_with(".css")), "{html}");
        for asset in assets {
            assert!(
                !asset.contains("//") && !asset.starts_with('/'),
                "{asset} is not relative to the gateway"
            );
            let response = platform
                .send(
                    Method::GET,
                    &format!("/api/docs/{}", asset.trim_start_matches("./")),
                    None,
                    None,
                )
                .await;
            assert_eq!(response.status, StatusCode::OK, "{asset}");
            let content_type = response.header("content-type").unwrap();
            let body = &response.text;
            if asset.ends_with(".css") {
                assert!(
                    content_type.starts_with("text/css"),
                    "{asset}: {content_type}"
                );
            } else {
                assert!(
                    content_type.contains("javascript"),
                    "{asset}: {content_type}"
                );
            }
            if asset.ends_with("swagger-initializer.js") {
                assert!(body.contains("/api/openapi.json"), "{body}");
            }
        }
    }
    let response = platform
        .send(Method::GET, "/api/docs/nothing-here.js", None, None)
        .await;
    assert_eq!(problem(response).0, StatusCode::NOT_FOUND);
}

/// A validator for the component schema `name` of `document`.
fn component_validator(document: &Value, name: &str) -> jsonschema::Validator {
    let schema = json!({
        "$ref": format!("#/components/schemas/{name}"),
        "components": document["components"],
    });
    jsonschema::draft202012::new(&schema).unwrap()
}

#[tokio::test]
async fn the_problem_schema_accepts_every_problem_the_gateway_and_the_services_send() {
    let failure = FailureBackend::spawn().await;
    let platform = helpers::spawn(&[failure.upstream_override()]).await;
    let document = fetch_document(&platform.gateway).await;
    let problem_schema = &document["components"]["schemas"]["Problem"];
    // Only what every problem has is required; the rest is left out, not null.
    assert_eq!(
        problem_schema["required"],
        json!(["type", "title", "status", "code"])
    );
    for optional in ["detail", "request_id"] {
        assert_eq!(problem_schema["properties"][optional]["type"], "string");
    }
    let validator = component_validator(&document, "Problem");

    let owner = platform.sign_up_and_log_in("owner@example.com").await;
    let project = platform.create_project(&owner, "alpha").await;
    let project = project["id"].as_str().unwrap();
    // (method, path, signed in, body) and the problem code it is answered with.
    let build = uuid::Uuid::now_v7();
    let requests = [
        (
            Method::GET,
            "/api/v1/me".to_owned(),
            false,
            None,
            "auth.required",
        ),
        (
            Method::GET,
            "/api/v1/nowhere".to_owned(),
            true,
            None,
            "route.not_found",
        ),
        (
            Method::TRACE,
            "/api/v1/me".to_owned(),
            true,
            None,
            "route.method_not_allowed",
        ),
        (
            Method::GET,
            "/api/v1/projects?limit=0".to_owned(),
            true,
            None,
            "pagination.invalid_limit",
        ),
        (
            Method::POST,
            "/api/v1/auth/signup".to_owned(),
            false,
            Some(json!({"email": "no-at-sign", "password": PASSWORD, "display_name": "x"})),
            "auth.invalid_input",
        ),
        (
            Method::POST,
            "/api/v1/auth/signup".to_owned(),
            false,
            Some(json!(["someone@example.com", PASSWORD, "Someone"])),
            "request.invalid_body",
        ),
        (
            Method::GET,
            format!("/api/v1/projects/{project}/builds/{build}"),
            true,
            None,
            "build.not_found",
        ),
    ];
    let mut with_field_errors = 0;
    for (method, path, signed_in, body, code) in requests {
        let token = signed_in.then_some(owner.access_token.as_str());
        let response = platform.send(method.clone(), &path, token, body).await;
        let allow = response.header("allow").map(str::to_owned);
        let (status, problem) = problem(response);
        assert_eq!(problem["code"], code, "{method} {path}: {status} {problem}");
        let errors: Vec<String> = validator
            .iter_errors(&problem)
            .map(|error| error.to_string())
            .collect();
        assert!(errors.is_empty(), "{method} {path}: {problem} {errors:?}");
        with_field_errors += usize::from(problem.get("errors").is_some());
        if method == Method::TRACE {
            // A method no operation has: 405 naming the ones there are.
            assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
            assert_eq!(allow.unwrap(), "GET, PATCH");
        }
    }
    // Both shapes were seen: with `errors` and without.
    assert_eq!(with_field_errors, 1);
}

#[tokio::test]
async fn every_operation_declares_the_answers_the_gateway_itself_may_give() {
    let failure = FailureBackend::spawn().await;
    let platform = helpers::spawn(&[failure.upstream_override()]).await;
    let document = fetch_document(&platform.gateway).await;
    for (method, path) in operations(&document) {
        let responses = &document["paths"][&path][method.to_ascii_lowercase()]["responses"];
        // Every route is rate limited, anonymous ones included.
        let limited = &responses["429"];
        assert!(
            limited["description"]
                .as_str()
                .is_some_and(|d| d.contains("gateway.rate_limited")),
            "{method} {path}: {limited}"
        );
        assert!(
            limited["headers"]["retry-after"].is_object(),
            "{method} {path}: no Retry-After"
        );
        // The gateway refuses dot segments and encoded separators in path
        // parameters.
        if path.contains('{') {
            assert!(
                responses["400"]["description"]
                    .as_str()
                    .is_some_and(|d| d.contains("request.invalid_path_parameter")),
                "{method} {path}: {}",
                responses["400"]
            );
        }
    }
    let upload = &document["paths"]["/api/v1/projects/{project}/builds/{build}/results"]["post"]["responses"];
    for (status, mentions) in [
        ("408", "upload.stalled"),
        ("413", "upload.too_many_entries"),
        ("422", "junit.truncated"),
    ] {
        assert!(
            upload[status]["description"]
                .as_str()
                .is_some_and(|d| d.contains(mentions)),
            "upload {status}: {}",
            upload[status]
        );
    }
}

#[tokio::test]
async fn page_sizes_and_cursors_are_documented_as_every_list_reads_them() {
    let failure = FailureBackend::spawn().await;
    let platform = helpers::spawn(&[failure.upstream_override()]).await;
    let document = fetch_document(&platform.gateway).await;
    let owner = platform.sign_up_and_log_in("owner@example.com").await;
    platform.create_project(&owner, "alpha").await;
    let mut lists = 0;
    for (method, path) in operations(&document) {
        let parameters = document["paths"][&path][method.to_ascii_lowercase()]["parameters"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let named = |name: &str| parameters.iter().find(|p| p["name"] == name).cloned();
        let Some(limit) = named("limit") else {
            continue;
        };
        lists += 1;
        assert_eq!(
            limit["schema"],
            json!({"type": "integer", "format": "int64", "minimum": 1, "maximum": 4_294_967_295_u64}),
            "{path}"
        );
        if let Some(cursor) = named("cursor") {
            assert_eq!(
                cursor["schema"],
                json!({"type": "string", "pattern": "^[A-Za-z0-9_-]+$"}),
                "{path}"
            );
        }
        let concrete = path
            .replace("{project}", "alpha")
            .replace("{test}", &uuid::Uuid::now_v7().to_string())
            .replace("{group}", &uuid::Uuid::now_v7().to_string());
        for (limit, refused) in [("0", true), ("4294967296", true), ("4294967295", false)] {
            let response = platform
                .send(
                    Method::GET,
                    &format!("{concrete}?limit={limit}"),
                    Some(&owner.access_token),
                    None,
                )
                .await;
            let (status, body) = (response.status, response.body);
            // Accepted: a page, or a refusal that is not about the query
            // (not a platform admin, no such test or group).
            assert_eq!(
                status == StatusCode::BAD_REQUEST,
                refused,
                "{path}?limit={limit}: {status} {body}"
            );
        }
    }
    assert_eq!(lists, 11, "the lists with a page size");
}
