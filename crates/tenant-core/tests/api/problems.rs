//! Every error a client can provoke comes back as problem+json with the
//! request id, never as text/plain and never with internals.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

async fn problem(response: reqwest::Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(response.status(), status);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let echoed = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["status"], status.as_u16());
    assert_eq!(body["request_id"], echoed.as_str(), "{body}");
    assert!(body["type"].as_str().unwrap().ends_with(code));
    assert!(body["title"].is_string());
    body
}

#[tokio::test]
async fn malformed_json_is_a_400_problem() {
    let service = crate::probe::spawn_probe(&[]);
    let response = test_support::http_client()
        .post(service.url("/items"))
        .header("content-type", "application/json")
        .body("{\"name\": ")
        .send()
        .await
        .unwrap();
    problem(response, StatusCode::BAD_REQUEST, "request.malformed_json").await;
}

#[tokio::test]
async fn json_of_the_wrong_shape_is_a_422_problem_naming_the_field() {
    let service = crate::probe::spawn_probe(&[]);
    let response = test_support::http_client()
        .post(service.url("/items"))
        .json(&serde_json::json!({ "name": "a", "count": "many" }))
        .send()
        .await
        .unwrap();
    let body = problem(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "request.invalid_body",
    )
    .await;
    assert!(
        body["detail"].as_str().unwrap().contains("invalid type"),
        "{body}"
    );
}

#[tokio::test]
async fn a_body_over_the_limit_is_a_413_problem() {
    let service = crate::probe::spawn_probe(&[]);
    let response = test_support::http_client()
        .post(service.url("/items"))
        .json(&serde_json::json!({ "name": "x".repeat(4096), "count": 1 }))
        .send()
        .await
        .unwrap();
    problem(
        response,
        StatusCode::PAYLOAD_TOO_LARGE,
        "request.body_too_large",
    )
    .await;
}

#[tokio::test]
async fn a_body_that_is_not_json_is_a_415_problem() {
    let service = crate::probe::spawn_probe(&[]);
    let response = test_support::http_client()
        .post(service.url("/items"))
        .header("content-type", "text/plain")
        .body("name=a")
        .send()
        .await
        .unwrap();
    problem(
        response,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "request.unsupported_media_type",
    )
    .await;
}

#[tokio::test]
async fn a_bad_path_parameter_and_a_bad_query_are_400_problems() {
    let service = crate::probe::spawn_probe(&[]);
    let client = test_support::http_client();
    let response = client
        .get(service.url("/items/not-a-uuid?limit=1"))
        .send()
        .await
        .unwrap();
    problem(response, StatusCode::BAD_REQUEST, "request.invalid_path").await;

    let id = uuid::Uuid::now_v7();
    let response = client
        .get(service.url(&format!("/items/{id}?limit=lots")))
        .send()
        .await
        .unwrap();
    problem(response, StatusCode::BAD_REQUEST, "request.invalid_query").await;
}

#[tokio::test]
async fn an_unknown_route_is_a_404_problem() {
    let service = crate::probe::spawn_probe(&[]);
    let response = test_support::http_client()
        .get(service.url("/nowhere"))
        .send()
        .await
        .unwrap();
    problem(response, StatusCode::NOT_FOUND, "route.not_found").await;
}

#[tokio::test]
async fn a_wrong_method_is_a_405_problem_with_allow() {
    let service = crate::probe::spawn_probe(&[]);
    let response = test_support::http_client()
        .delete(service.url("/items"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["allow"], "POST");
    problem(
        response,
        StatusCode::METHOD_NOT_ALLOWED,
        "route.method_not_allowed",
    )
    .await;
}

#[tokio::test]
async fn a_500_carries_no_internals() {
    let service = crate::probe::spawn_probe(&[]);
    let response = test_support::http_client()
        .get(service.url("/broken"))
        .send()
        .await
        .unwrap();
    let body = problem(response, StatusCode::INTERNAL_SERVER_ERROR, "internal").await;
    let text = body.to_string();
    assert!(
        !text.contains("10.1.2.3") && !text.contains("password"),
        "{text}"
    );
}

#[tokio::test]
async fn a_sane_request_id_is_kept_and_a_hostile_one_replaced() {
    let service = crate::probe::spawn_probe(&[]);
    let client = test_support::http_client();
    let response = client
        .get(service.url("/nowhere"))
        .header("x-request-id", "ci-build-42.step-3")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "ci-build-42.step-3");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["request_id"], "ci-build-42.step-3");

    let response = client
        .get(service.url("/healthz"))
        .header("x-request-id", "evil\" injected=1")
        .send()
        .await
        .unwrap();
    let minted = response.headers()["x-request-id"].to_str().unwrap();
    assert_ne!(minted, "evil\" injected=1");
    assert!(uuid::Uuid::parse_str(minted).is_ok(), "{minted}");
}

#[tokio::test]
async fn metrics_are_served_on_the_admin_port_only_with_route_templates() {
    let service = crate::probe::spawn_probe(&[]);
    let client = test_support::http_client();
    let id = uuid::Uuid::now_v7();
    client
        .get(service.url(&format!("/items/{id}?limit=3")))
        .send()
        .await
        .unwrap();

    let on_public = client.get(service.url("/metrics")).send().await.unwrap();
    assert_eq!(on_public.status(), StatusCode::NOT_FOUND);

    let metrics = client
        .get(service.admin_url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let line = metrics
        .lines()
        .find(|l| {
            l.starts_with("http_server_request_duration_seconds_count") && l.contains("/items/{id}")
        })
        .unwrap_or_else(|| panic!("no histogram for the route template in:\n{metrics}"));
    assert!(
        line.contains("method=\"GET\"") && line.contains("status=\"200\""),
        "{line}"
    );
    assert!(
        !metrics.contains(&id.to_string()),
        "raw paths must not become labels"
    );
}

/// Sends `head`, reads the answer's head, then sends `body` late (the way a
/// proxy streams a body after the request head) and says whether the
/// connection stayed open for another request.
async fn answer_then_late_body(
    service: &test_support::RunningService,
    head: &str,
    body: &[u8],
) -> (String, bool) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = service.url("").trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(address.trim_end_matches('/'))
        .await
        .unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = vec![0_u8; 8192];
    let read = stream.read(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer[..read]).to_ascii_lowercase();
    let _ = stream.write_all(body).await;
    let follow_up = "GET /items/1 HTTP/1.1\r\nhost: probe\r\n\r\n";
    let mut again = vec![0_u8; 8192];
    let reused = match stream.write_all(follow_up.as_bytes()).await {
        Ok(()) => tokio::time::timeout(Duration::from_secs(5), stream.read(&mut again))
            .await
            .ok()
            .and_then(Result::ok)
            .is_some_and(|n| n > 0),
        Err(_) => false,
    };
    (answer, reused)
}

#[tokio::test]
async fn an_error_to_a_request_with_a_body_closes_the_connection_and_says_so() {
    let service = crate::probe::spawn_probe(&[]);
    // Refused before the body is read: the connection cannot carry another
    // request, and the answer says so instead of leaving a client to find
    // it closed under its next request.
    let (answer, reused) = answer_then_late_body(
        &service,
        "POST /nowhere HTTP/1.1\r\nhost: probe\r\ncontent-type: application/json\r\ncontent-length: 7\r\n\r\n",
        b"{\"a\":1}",
    )
    .await;
    assert!(answer.starts_with("http/1.1 404"), "{answer}");
    assert!(answer.contains("\r\nconnection: close\r\n"), "{answer}");
    assert!(!reused);

    // An error to a request without a body keeps the connection.
    let (answer, reused) = answer_then_late_body(
        &service,
        "GET /nowhere HTTP/1.1\r\nhost: probe\r\n\r\n",
        b"",
    )
    .await;
    assert!(answer.starts_with("http/1.1 404"), "{answer}");
    assert!(!answer.contains("connection: close"), "{answer}");
    assert!(reused);
}
