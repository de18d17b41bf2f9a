//! The OpenAPI document the gateway merges: served to services only, and
//! listing exactly the routes of the route table.

use std::collections::BTreeSet;

use reqwest::Method;
use test_support::{Reply, TestApp, contexts};

#[tokio::test]
async fn the_document_lists_every_route_and_is_for_services_only() {
    let app = TestApp::spawn(
        &analytics_service::SPEC,
        analytics_service::build,
        &[(
            "service.integration_gateway_url",
            "http://127.0.0.1:9".to_owned(),
        )],
    )
    .await;
    Reply::from_request(app.request(Method::GET, "/internal/v1/openapi.json"))
        .await
        .expect_problem(401, "context.missing_token");
    let document = app
        .get("/internal/v1/openapi.json", &contexts::service())
        .await
        .expect(200);
    let operations: BTreeSet<(String, String)> = document["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .map(|method| (method.to_ascii_uppercase(), path.clone()))
        })
        .collect();
    let expected: BTreeSet<(String, String)> = [
        ("GET", "/v1/projects/{project}/analytics/summary"),
        ("GET", "/v1/projects/{project}/analytics/trends"),
        ("GET", "/v1/projects/{project}/analytics/rankings"),
        ("GET", "/v1/projects/{project}/analytics/mttr"),
        ("GET", "/v1/analytics/overview"),
        ("GET", "/v1/projects/{project}/quality-gate-rules"),
        ("POST", "/v1/projects/{project}/quality-gate-rules"),
        ("GET", "/v1/projects/{project}/quality-gate-rules/{rule}"),
        ("PATCH", "/v1/projects/{project}/quality-gate-rules/{rule}"),
        ("DELETE", "/v1/projects/{project}/quality-gate-rules/{rule}"),
        ("GET", "/v1/projects/{project}/builds/{build}/quality-gate"),
        ("GET", "/v1/projects/{project}/builds/{build}/comparison"),
    ]
    .into_iter()
    .map(|(method, path)| (method.to_owned(), path.to_owned()))
    .collect();
    assert_eq!(operations, expected);
    let gate = &document["components"]["schemas"]["GateAnswer"];
    assert_eq!(
        gate["properties"]["status"]["$ref"],
        "#/components/schemas/GateStatus"
    );
}
