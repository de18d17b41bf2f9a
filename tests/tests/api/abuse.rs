//! Bad input and abuse through the gateway, the way an outsider sends it:
//! each answered with a clear 4xx problem (never a 5xx), nothing written
//! half, nothing reflected that should not be, and nothing internal
//! reachable. Some of it goes below HTTP clients, over a raw socket.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};
use test_support::{Reply, TestApp};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::gateway_helpers::User;
use crate::isolation::FullPlatform;

/// The gateway's wait for a slow client's request head, in these tests.
const CLIENT_REQUEST_TIMEOUT: Duration = Duration::from_millis(1000);

struct Shop {
    full: FullPlatform,
    owner: User,
    key: String,
}

impl Shop {
    async fn start() -> Self {
        let full = FullPlatform::start(&[(
            "server.client_request_timeout_ms",
            CLIENT_REQUEST_TIMEOUT.as_millis().to_string(),
        )])
        .await;
        let owner = full.platform.sign_up_and_log_in("owner@example.com").await;
        full.platform.create_project(&owner, "shop").await;
        let key = full.platform.create_api_key(&owner, "shop").await;
        Self { full, owner, key }
    }

    async fn builds(&self) -> Vec<Value> {
        let page = self
            .full
            .send(
                Method::GET,
                "/api/v1/projects/shop/builds",
                Some(&self.owner.access_token),
                None,
            )
            .await
            .expect(200);
        page["items"].as_array().unwrap().clone()
    }

    /// `host:port` of the gateway, for raw sockets.
    fn address(&self) -> String {
        self.full
            .platform
            .url("")
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned()
    }
}

/// A problem answer with a 4xx status: what every bad request must get.
fn assert_client_problem(what: &str, reply: &Reply) {
    assert!(
        reply.status.is_client_error(),
        "{what}: {} {}",
        reply.status,
        reply.text
    );
    assert_eq!(
        reply.header("content-type"),
        Some("application/problem+json"),
        "{what}: {}",
        reply.text
    );
    assert!(
        !reply.code().is_empty(),
        "{what}: no code in {}",
        reply.text
    );
}

#[tokio::test]
async fn bad_bodies_and_headers_are_clear_client_errors_and_write_nothing() {
    let shop = Shop::start().await;
    let builds = "/api/v1/projects/shop/builds";
    let post = |content_type: &'static str, body: Vec<u8>| {
        shop.full.send_raw(
            Method::POST,
            builds,
            Some(&shop.key),
            Some((content_type, body)),
        )
    };

    let oversized = post("application/json", vec![b' '; 65_537]).await;
    assert_eq!(oversized.status.as_u16(), 413, "{}", oversized.text);
    assert_client_problem("oversized body", &oversized);

    let nested = format!("{}{}", "[".repeat(5_000), "]".repeat(5_000));
    assert_client_problem(
        "nested JSON",
        &post("application/json", nested.into_bytes()).await,
    );
    let mut invalid_utf8 = br#"{"job_name": ""#.to_vec();
    invalid_utf8.extend([0xff, 0xfe, 0xc3]);
    invalid_utf8.extend(br#"", "external_id": "1"}"#);
    assert_client_problem(
        "invalid UTF-8",
        &post("application/json", invalid_utf8).await,
    );
    let text = post(
        "text/plain",
        br#"{"job_name": "ci", "external_id": "1"}"#.to_vec(),
    )
    .await;
    assert_eq!(text.status.as_u16(), 415, "{}", text.text);
    assert_client_problem("wrong content type", &text);

    let header = "x".repeat(64 * 1024);
    let reply = Reply::from_request(
        shop.full
            .platform
            .request(Method::GET, builds)
            .bearer_auth(&shop.key)
            .header("x-padding", header),
    )
    .await;
    assert_eq!(
        reply.status.as_u16(),
        431,
        "oversized header: {}",
        reply.text
    );

    let huge = shop
        .full
        .send(
            Method::GET,
            &format!("{builds}?limit=10000000"),
            Some(&shop.key),
            None,
        )
        .await;
    assert!(
        huge.status.is_success() || huge.status.is_client_error(),
        "limit=10000000: {} {}",
        huge.status,
        huge.text
    );
    assert!(
        shop.builds().await.is_empty(),
        "a refused body wrote a build"
    );
}

#[tokio::test]
async fn fields_a_caller_may_not_set_are_refused_or_ignored() {
    let shop = Shop::start().await;
    let other = shop
        .full
        .platform
        .sign_up_and_log_in("other@example.com")
        .await;
    let theirs = shop.full.platform.create_project(&other, "theirs").await;
    let owner = Some(shop.owner.access_token.as_str());

    let build = shop
        .full
        .send(
            Method::POST,
            "/api/v1/projects/shop/builds",
            Some(&shop.key),
            Some(json!({"job_name": "ci", "external_id": "1", "project_id": theirs["id"]})),
        )
        .await;
    assert!(build.status.as_u16() < 500, "{}", build.text);
    let their_builds = shop
        .full
        .send(
            Method::GET,
            "/api/v1/projects/theirs/builds",
            Some(&other.access_token),
            None,
        )
        .await
        .expect(200);
    assert_eq!(
        their_builds["items"],
        json!([]),
        "a build landed in another project"
    );

    let project = shop
        .full
        .send(
            Method::POST,
            "/api/v1/projects",
            owner,
            Some(
                json!({"name": "grab", "slug": "grab", "owner_id": other.id, "plan": "enterprise"}),
            ),
        )
        .await;
    assert!(project.status.as_u16() < 500, "{}", project.text);
    if project.status.is_success() {
        let read = shop
            .full
            .send(Method::GET, "/api/v1/projects/grab", owner, None)
            .await
            .expect(200);
        assert_ne!(read["plan"], "enterprise", "{read}");
    } else {
        assert_client_problem("project with owner_id and plan", &project);
    }

    let me = shop
        .full
        .send(
            Method::PATCH,
            "/api/v1/me",
            owner,
            Some(json!({"display_name": "Me", "role": "admin", "platform_role": "admin"})),
        )
        .await;
    assert!(me.status.as_u16() < 500, "{}", me.text);
    let again = shop.full.log_in(&shop.owner).await;
    let admin_only = shop
        .full
        .send(
            Method::GET,
            "/api/v1/admin/users",
            Some(&again.access_token),
            None,
        )
        .await;
    assert_eq!(admin_only.status.as_u16(), 403, "{}", admin_only.text);

    let member = shop
        .full
        .send(
            Method::POST,
            "/api/v1/projects/shop/members",
            owner,
            Some(json!({"email": other.email, "role": "viewer", "project_id": theirs["id"]})),
        )
        .await;
    assert!(member.status.as_u16() < 500, "{}", member.text);
    let still_owner = shop
        .full
        .send(
            Method::GET,
            &format!("/api/v1/projects/theirs/members/{}", other.id),
            Some(&other.access_token),
            None,
        )
        .await
        .expect(200);
    assert_eq!(still_owner["role"], "owner", "{still_owner}");
}

#[tokio::test]
async fn nothing_internal_is_reachable_and_nothing_foreign_reflected() {
    let shop = Shop::start().await;
    for path in [
        "/metrics",
        "/internal/v1/access",
        "/api/v1/internal/v1/access",
        "/api/v1/../../internal/v1/access",
        "/api/v1/%2e%2e/metrics",
        "/admin/metrics",
    ] {
        let reply = shop
            .full
            .send(Method::GET, path, Some(&shop.owner.access_token), None)
            .await;
        assert!(
            matches!(reply.status.as_u16(), 400 | 404),
            "{path}: {} {}",
            reply.status,
            reply.text
        );
        assert!(!reply.text.contains("# HELP"), "{path} shows metrics");
    }

    let trace = shop
        .full
        .send(
            Method::TRACE,
            "/api/v1/projects/shop/builds",
            Some(&shop.key),
            None,
        )
        .await;
    assert!(
        matches!(trace.status.as_u16(), 404 | 405 | 501),
        "TRACE: {} {}",
        trace.status,
        trace.text
    );
    assert!(!trace.text.contains(&shop.key), "TRACE echoed the request");

    for method in [Method::OPTIONS, Method::GET] {
        let reply = Reply::from_request(
            shop.full
                .platform
                .request(method.clone(), "/api/v1/projects/shop/builds")
                .bearer_auth(&shop.key)
                .header("origin", "https://evil.example")
                .header("access-control-request-method", "GET"),
        )
        .await;
        assert!(reply.status.as_u16() < 500, "{method}: {}", reply.text);
        for header in [
            "access-control-allow-origin",
            "access-control-allow-credentials",
        ] {
            assert!(
                reply.header(header).is_none(),
                "{method} with a foreign Origin answered {header}: {:?}",
                reply.header(header)
            );
        }
    }
}

/// Writes `request` on a new connection and reads until the gateway closes
/// it or `within` passes: the answer's text and how long it took.
async fn exchange(address: &str, request: &[u8], within: Duration) -> (String, Duration) {
    let started = Instant::now();
    let mut socket = TcpStream::connect(address).await.unwrap();
    socket.write_all(request).await.unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(within, socket.read_to_end(&mut answer)).await;
    (
        String::from_utf8_lossy(&answer).into_owned(),
        started.elapsed(),
    )
}

/// The status of the first answer on a raw connection, `None` when the
/// gateway closed it without one.
fn status_of(answer: &str) -> Option<u16> {
    answer
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
}

#[tokio::test]
async fn smuggling_and_slow_senders_are_cut_off() {
    let shop = Shop::start().await;
    let address = shop.address();
    let head = format!(
        "POST /api/v1/projects/shop/builds HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nConnection: close\r\n",
        shop.key
    );
    let body = r#"{"job_name": "ci", "external_id": "smuggled"}"#;
    let smuggling = [
        (
            "two Content-Length headers",
            format!(
                "{head}Content-Length: {}\r\nContent-Length: 2\r\n\r\n{body}",
                body.len()
            ),
        ),
        (
            "Transfer-Encoding with Content-Length",
            format!(
                "{head}Transfer-Encoding: chunked\r\nContent-Length: {}\r\n\r\n{:x}\r\n{body}\r\n0\r\n\r\n",
                body.len() + 7,
                body.len()
            ),
        ),
    ];
    for (what, request) in smuggling {
        let (answer, _) = exchange(&address, request.as_bytes(), Duration::from_secs(10)).await;
        let status = status_of(&answer);
        assert!(
            status.is_none_or(|status| (400..500).contains(&status)),
            "{what}: {answer}"
        );
    }
    assert!(
        shop.builds().await.is_empty(),
        "a smuggled request was served"
    );

    // A request head that never ends: 408 or closed once the timeout passes.
    let (answer, took) = exchange(
        &address,
        format!("GET /api/v1/projects/shop/builds HTTP/1.1\r\nHost: {address}\r\n").as_bytes(),
        CLIENT_REQUEST_TIMEOUT * 10,
    )
    .await;
    assert!(
        took < CLIENT_REQUEST_TIMEOUT * 5,
        "a slow sender held the connection for {took:?}"
    );
    assert!(
        status_of(&answer).is_none_or(|status| status == 408),
        "{answer}"
    );
}

/// The services' body idle timeout in the slow-body tests.
const BODY_IDLE_TIMEOUT: Duration = Duration::from_millis(1000);

/// A request head promising `length` bytes of JSON body, then the first of
/// them, and nothing more: what a slow sender holding connections does.
fn stalled_body(path: &str, address: &str, authorization: &str, length: usize) -> String {
    format!(
        "POST {path} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {authorization}\r\nContent-Type: application/json\r\nContent-Length: {length}\r\n\r\n{{\"job_name\""
    )
}

/// A stalled body's answer: 408 `request.body_timeout` once the idle
/// timeout passed (not the route's 30 s), on a connection that closes.
fn assert_body_timeout(what: &str, answer: &str, took: Duration) {
    assert!(
        took < BODY_IDLE_TIMEOUT * 4,
        "{what}: a stalled body was held for {took:?}"
    );
    assert_eq!(status_of(answer), Some(408), "{what}: {answer}");
    assert!(
        answer.contains("\"request.body_timeout\""),
        "{what}: {answer}"
    );
    assert!(
        answer.to_ascii_lowercase().contains("connection: close"),
        "{what}: the connection stays open after a stalled body: {answer}"
    );
}

#[tokio::test]
async fn a_stalled_body_at_the_gateway_is_408_within_the_idle_timeout_and_spares_the_breaker() {
    // One failure would open the breaker: a stalled body must not count.
    let full = FullPlatform::start(&[
        (
            "server.body_idle_timeout_ms",
            BODY_IDLE_TIMEOUT.as_millis().to_string(),
        ),
        ("service.breaker_failure_threshold", "1".to_owned()),
    ])
    .await;
    let owner = full.platform.sign_up_and_log_in("owner@example.com").await;
    full.platform.create_project(&owner, "shop").await;
    let key = full.platform.create_api_key(&owner, "shop").await;

    let gateway = full
        .platform
        .url("")
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    for _ in 0..2 {
        let request = stalled_body("/api/v1/projects/shop/builds", &gateway, &key, 60);
        let (answer, took) = exchange(&gateway, request.as_bytes(), BODY_IDLE_TIMEOUT * 10).await;
        assert_body_timeout("through the gateway", &answer, took);
    }

    assert_eq!(
        full.platform
            .gateway
            .metric("gateway_breaker_opened_total")
            .await,
        0.0
    );
    assert!(
        shop_builds(&full, &owner).await.is_empty(),
        "a half-sent body was stored"
    );
}

#[tokio::test]
async fn a_stalled_body_at_a_backend_is_408_within_the_idle_timeout_and_stores_nothing() {
    let failure = TestApp::spawn(
        &failure_service::SPEC,
        failure_service::build,
        &[(
            "server.body_idle_timeout_ms",
            BODY_IDLE_TIMEOUT.as_millis().to_string(),
        )],
    )
    .await;
    let project = uuid::Uuid::now_v7();
    let uploader = test_support::contexts::api_key(project, tenant_core::Role::Member);
    let token = test_support::context_token(failure.spec.name, &uploader);
    let address = failure
        .url("")
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();

    let builds = format!("/v1/projects/{project}/builds");
    let request = stalled_body(&builds, &address, &token, 60);
    let (answer, took) = exchange(&address, request.as_bytes(), BODY_IDLE_TIMEOUT * 10).await;
    assert_body_timeout("a new build", &answer, took);
    assert_eq!(failure.count_rows("failure.builds").await, 0);

    // An upload of results stalled halfway: nothing of it is kept.
    let build = failure
        .post(
            &builds,
            &uploader,
            json!({ "job_name": "ci", "external_id": "1" }),
        )
        .await
        .expect(201);
    let results = format!(
        "/v1/projects/{project}/builds/{}/results",
        build["id"].as_str().unwrap()
    );
    let request = stalled_body(&results, &address, &token, 100_000);
    let (answer, took) = exchange(&address, request.as_bytes(), BODY_IDLE_TIMEOUT * 10).await;
    assert_body_timeout("an upload of results", &answer, took);
    assert_eq!(failure.count_rows("failure.test_results").await, 0);
    assert_eq!(failure.count_rows("failure.uploads").await, 0);
}

async fn shop_builds(full: &FullPlatform, owner: &User) -> Vec<Value> {
    let page = full
        .send(
            Method::GET,
            "/api/v1/projects/shop/builds",
            Some(&owner.access_token),
            None,
        )
        .await
        .expect(200);
    page["items"].as_array().unwrap().clone()
}
