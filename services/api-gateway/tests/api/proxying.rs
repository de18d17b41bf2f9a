//! The proxy path against probe upstreams: what reaches the backend, what
//! comes back, versions, limits and failures.

use std::time::{Duration, Instant};

use actix_web::{App, HttpResponse, HttpServer, web};
use reqwest::{Method, StatusCode};
use serde_json::json;
use test_support::{Reply, eventually};

use crate::helpers::problem;
use crate::probe::{spawn_probed, spawn_probed_with};

#[tokio::test]
async fn the_backend_gets_the_context_token_and_forwarding_headers_but_no_hop_by_hop_or_internal_headers()
 {
    let probed = spawn_probed().await;
    let platform = &probed.platform;
    let response = Reply::from_request(
        platform
            .request(Method::POST, "/api/v1/probe/probe-project/echo?x=1&y=two")
            .bearer_auth(&probed.owner.access_token)
            .header("connection", "x-drop-me, keep-alive")
            .header("x-drop-me", "named by Connection")
            .header("keep-alive", "timeout=5")
            .header("te", "trailers")
            .header("trailer", "x-checksum")
            .header("upgrade", "websocket")
            .header("proxy-connection", "keep-alive")
            .header("x-faultline-context", "forged")
            .header("x-internal-role", "owner")
            .header("x-forwarded-for", "203.0.113.9")
            .header("x-custom", "kept")
            .header(
                "traceparent",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            )
            .body("hello"),
    )
    .await;
    assert_eq!(response.status, StatusCode::OK);
    for hop in ["keep-alive", "proxy-connection"] {
        assert!(
            !response.headers.contains_key(hop),
            "{hop} came back to the client"
        );
    }
    assert_eq!(response.header("deprecation"), Some("@1767225600"));
    assert_eq!(
        response.header("sunset"),
        Some("Wed, 30 Jun 2027 23:59:59 GMT")
    );
    assert_eq!(
        response.header("link"),
        Some("<https://docs.example.com/deprecations/v1-echo>; rel=\"deprecation\"")
    );
    let seen = response.body;
    let headers = seen["headers"].as_object().unwrap();
    for stripped in [
        "x-drop-me",
        "keep-alive",
        "te",
        "trailer",
        "upgrade",
        "proxy-connection",
        "x-faultline-context",
        "x-internal-role",
    ] {
        assert!(
            !headers.contains_key(stripped),
            "{stripped} reached the backend"
        );
    }
    assert_eq!(headers["x-custom"], "kept");
    assert!(
        headers["traceparent"]
            .as_str()
            .unwrap()
            .starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"),
        "the trace continues to the backend: {}",
        headers["traceparent"]
    );
    assert!(
        headers["x-forwarded-for"]
            .as_str()
            .unwrap()
            .starts_with("203.0.113.9, 127.0.0.1")
    );
    assert_eq!(headers["x-forwarded-proto"], "http");
    assert!(
        headers["forwarded"]
            .as_str()
            .unwrap()
            .starts_with("for=127.0.0.1;proto=http;host=")
    );
    assert!(headers.contains_key("x-request-id"));
    assert_eq!(seen["query"], "x=1&y=two");
    assert_eq!(seen["body_len"], 5);
    assert_eq!(seen["path"], "/v1/probe/probe-project/echo");
    // The user's token never reaches the backend; the context token does.
    assert!(
        !headers["authorization"]
            .as_str()
            .unwrap()
            .contains(&probed.owner.access_token)
    );
    assert_eq!(seen["context"]["principal_id"], probed.owner.id);
    assert_eq!(seen["context"]["project_id"], probed.project_id);
    assert_eq!(seen["context"]["role"], "owner");
}

#[tokio::test]
async fn versions_route_to_their_own_upstreams_by_path_or_accept_header() {
    let probed = spawn_probed().await;
    let platform = &probed.platform;
    let token = &probed.owner.access_token;
    let v1 = platform
        .send(
            Method::GET,
            "/api/v1/probe/probe-project/echo",
            Some(token),
            None,
        )
        .await;
    let v2 = platform
        .send(
            Method::GET,
            "/api/v2/probe/probe-project/echo",
            Some(token),
            None,
        )
        .await;
    assert!(
        !v2.headers.contains_key("deprecation"),
        "v2 is not deprecated"
    );
    assert_eq!(
        (v1.body["server"].as_str(), v2.body["server"].as_str()),
        (Some("v1"), Some("v2"))
    );
    let by_accept = Reply::from_request(
        platform
            .request(Method::GET, "/api/probe/probe-project/echo")
            .bearer_auth(token)
            .header("accept", "application/vnd.faultline.v2+json"),
    )
    .await;
    assert_eq!(by_accept.body["server"], "v2");
}

#[tokio::test]
async fn an_api_key_reaches_only_its_own_project_with_its_own_role() {
    let probed = spawn_probed().await;
    let platform = &probed.platform;
    platform
        .create_project(&probed.owner, "other-project")
        .await;
    let created = platform
        .create_api_key_as(&probed.owner, "probe-project", "viewer")
        .await;
    let key = created["key"].as_str().unwrap();

    let read = platform
        .send(
            Method::GET,
            "/api/v1/probe/probe-project/echo",
            Some(key),
            None,
        )
        .await
        .body;
    assert_eq!(read["context"]["kind"], "ApiKey");
    assert_eq!(read["context"]["role"], "viewer");
    assert_eq!(read["context"]["project_id"], probed.project_id);
    let by_id = platform
        .send(
            Method::GET,
            &format!("/api/v1/probe/{}/echo", probed.project_id),
            Some(key),
            None,
        )
        .await;
    assert_eq!(by_id.status, StatusCode::OK);

    let (status, _) = problem(
        platform
            .send(
                Method::GET,
                "/api/v1/probe/other-project/echo",
                Some(key),
                None,
            )
            .await,
    );
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "another project is invisible to the key"
    );
    platform
        .send(
            Method::POST,
            "/api/v1/probe/probe-project/echo",
            Some(key),
            Some(json!({})),
        )
        .await
        .expect_problem(403, "gateway.role_too_low");
    let (status, _) = problem(
        platform
            .send(
                Method::GET,
                "/api/v1/probe/probe-project/echo",
                Some("flt_junkjunkjunkjunkjunkjunkjunkjunk000000"),
                None,
            )
            .await,
    );
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn no_content_has_no_body_and_failures_map_to_413_503_and_504() {
    let probed = spawn_probed().await;
    let platform = &probed.platform;
    let token = &probed.owner.access_token;
    let empty = platform
        .send(
            Method::DELETE,
            "/api/v1/probe/probe-project/empty",
            Some(token),
            None,
        )
        .await;
    assert_eq!(empty.status, StatusCode::NO_CONTENT);
    assert!(empty.text.is_empty());

    Reply::from_request(
        platform
            .request(Method::POST, "/api/v1/probe/probe-project/small")
            .bearer_auth(token)
            .body(vec![b'x'; 4096]),
    )
    .await
    .expect_problem(413, "request.body_too_large");
    let streamed_too_big = Reply::from_request(
        platform
            .request(Method::POST, "/api/v1/probe/probe-project/small")
            .bearer_auth(token)
            .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
                (0..8).map(|_| Ok::<_, std::io::Error>(vec![b'y'; 1024])),
            ))),
    )
    .await;
    assert_eq!(
        streamed_too_big.status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "the limit holds without a Content-Length"
    );

    let started = Instant::now();
    platform
        .send(Method::GET, "/api/v1/down", None, None)
        .await
        .expect_problem(503, "gateway.upstream_unavailable");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "an upstream that is down fails fast"
    );

    platform
        .send(Method::GET, "/api/v1/slow", None, None)
        .await
        .expect_problem(504, "gateway.upstream_timeout");
}

#[tokio::test]
async fn a_failing_upstream_opens_its_breaker_which_recovers_when_the_upstream_returns() {
    let probed = spawn_probed_with(&[
        ("service.breaker_failure_threshold", "3".to_owned()),
        ("service.breaker_open_ms", "500".to_owned()),
    ])
    .await;
    let platform = &probed.platform;
    for _ in 0..3 {
        let (status, _) = problem(platform.send(Method::GET, "/api/v1/down", None, None).await);
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    }
    assert_eq!(platform.metric("gateway_breaker_opened_total").await, 1.0);
    let open = platform.send(Method::GET, "/api/v1/down", None, None).await;
    assert_eq!(open.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(open.headers.contains_key("retry-after"));
    assert!(
        open.body["detail"].as_str().unwrap().contains("paused"),
        "{}",
        open.text
    );

    // The upstream comes back on its address.
    let listener = probed.down.listen(1024).unwrap().into_std().unwrap();
    let server = HttpServer::new(|| {
        App::new().route(
            "/v1/down",
            web::get().to(|| async { HttpResponse::Ok().body("back") }),
        )
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    tokio::spawn(server);
    // Refused at once while the breaker is open (500 ms); then one probe
    // goes through, and its success closes the breaker.
    eventually(
        "the half-open probe to succeed",
        Duration::from_secs(10),
        || async {
            let reply = platform.send(Method::GET, "/api/v1/down", None, None).await;
            (reply.status == StatusCode::OK).then_some(())
        },
    )
    .await;
    assert_eq!(
        platform
            .send(Method::GET, "/api/v1/down", None, None)
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_route_that_allows_a_default_uses_the_tokens_default_project() {
    let probed = spawn_probed().await;
    let platform = &probed.platform;
    platform
        .send(
            Method::GET,
            "/api/v1/probe/current/echo",
            Some(&probed.owner.access_token),
            None,
        )
        .await
        .expect_problem(400, "gateway.project_required");

    let chosen = platform
        .send(
            Method::PATCH,
            "/api/v1/me",
            Some(&probed.owner.access_token),
            Some(json!({ "default_project": probed.project_id })),
        )
        .await;
    assert_eq!(chosen.status, StatusCode::OK);
    // The next access token carries the default.
    let tokens = platform
        .send(
            Method::POST,
            "/api/v1/auth/refresh",
            None,
            Some(json!({ "refresh_token": probed.owner.refresh_token })),
        )
        .await
        .body;
    let token = tokens["access_token"].as_str().unwrap();
    let seen = platform
        .send(Method::GET, "/api/v1/probe/current/echo", Some(token), None)
        .await
        .body;
    assert_eq!(seen["context"]["project_id"], probed.project_id);
    // An explicit source wins over the default.
    platform.create_project(&probed.owner, "explicit").await;
    let explicit = Reply::from_request(
        platform
            .request(Method::GET, "/api/v1/probe/current/echo")
            .bearer_auth(token)
            .header("x-project-id", "explicit"),
    )
    .await
    .body;
    assert_ne!(explicit["context"]["project_id"], probed.project_id);
}

#[tokio::test]
async fn cors_answers_only_allowed_origins_and_never_reflects_others() {
    let probed = spawn_probed_with(&[(
        "service.cors_allowed_origins",
        "https://app.example.com, https://admin.example.com".to_owned(),
    )])
    .await;
    let platform = &probed.platform;
    let preflight = |origin: &'static str| {
        Reply::from_request(
            platform
                .request(Method::OPTIONS, "/api/v1/me")
                .header("origin", origin)
                .header("access-control-request-method", "GET"),
        )
    };
    let allowed = preflight("https://app.example.com").await;
    assert_eq!(allowed.status, StatusCode::NO_CONTENT);
    assert_eq!(
        allowed.header("access-control-allow-origin"),
        Some("https://app.example.com")
    );
    let refused = preflight("https://evil.example.com").await;
    assert!(!refused.headers.contains_key("access-control-allow-origin"));

    let from = |origin: &'static str| {
        Reply::from_request(
            platform
                .request(Method::GET, "/api/v1/me")
                .bearer_auth(&probed.owner.access_token)
                .header("origin", origin),
        )
    };
    let response = from("https://evil.example.com").await;
    assert_eq!(response.status, StatusCode::OK);
    assert!(!response.headers.contains_key("access-control-allow-origin"));
    let response = from("https://app.example.com").await;
    assert_eq!(
        response.header("access-control-allow-origin"),
        Some("https://app.example.com")
    );
}
