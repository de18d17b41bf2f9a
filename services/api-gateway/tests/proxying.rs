//! The proxy path against probe upstreams: what reaches the backend, what
//! comes back, versions, limits and failures.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers fail the test at the first broken expectation"
)]

mod common;

use std::io::Write;
use std::time::Duration;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use chrono::Utc;
use common::{Platform, problem};
use futures_util::StreamExt;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tenant_core::context::InternalTokenVerifier;

const PROBE_ROUTES: &str = r#"
[[route]]
path = "/probe/{project}/echo"
version = 1
methods = ["GET", "POST"]
upstream = "probe"
auth = "any"
project = "path"
min_role = { GET = "viewer", POST = "member" }
deprecation = "@1767225600"
sunset = "Wed, 30 Jun 2027 23:59:59 GMT"
deprecation_link = "https://docs.example.com/deprecations/v1-echo"

[[route]]
path = "/probe/{project}/echo"
version = 2
methods = ["GET"]
upstream = "probe_v2"
upstream_path = "/v2/probe/{project}/echo"
auth = "any"
project = "path"
min_role = { GET = "viewer" }

[[route]]
path = "/probe/{project}/empty"
version = 1
methods = ["DELETE"]
upstream = "probe"
auth = "any"
project = "path"
min_role = { DELETE = "member" }

[[route]]
path = "/probe/{project}/upload"
version = 1
methods = ["POST"]
upstream = "probe"
auth = "any"
project = "path"
min_role = { POST = "member" }
body_limit_bytes = 300000000
timeout_ms = 120000

[[route]]
path = "/probe/{project}/small"
version = 1
methods = ["POST"]
upstream = "probe"
upstream_path = "/v1/probe/{project}/upload"
auth = "any"
project = "path"
min_role = { POST = "member" }
body_limit_bytes = 1024

[[route]]
path = "/probe/current/echo"
version = 1
methods = ["GET"]
upstream = "probe"
upstream_path = "/v1/probe/current/echo"
auth = "any"
project = "default"
min_role = { GET = "viewer" }

[[route]]
path = "/slow"
version = 1
methods = ["GET"]
upstream = "probe"
auth = "public"
project = "none"
timeout_ms = 300

[[route]]
path = "/down"
version = 1
methods = ["GET"]
upstream = "down"
auth = "public"
project = "none"
"#;

async fn echo(
    req: HttpRequest,
    body: web::Bytes,
    verifier: web::Data<InternalTokenVerifier>,
) -> HttpResponse {
    let headers: serde_json::Map<String, Value> = req
        .headers()
        .iter()
        .map(|(name, value)| {
            (
                name.to_string(),
                json!(value.to_str().unwrap_or("<binary>")),
            )
        })
        .collect();
    let token = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    let context = verifier.verify(token).ok().map(|ctx| {
        json!({
            "principal_id": ctx.principal().id,
            "kind": format!("{:?}", ctx.principal().kind),
            "project_id": ctx.project().map(|p| p.project_id),
            "role": ctx.project().map(|p| p.role),
        })
    });
    HttpResponse::Ok()
        .insert_header(("keep-alive", "timeout=5"))
        .insert_header(("proxy-connection", "keep-alive"))
        .json(json!({ "path": req.path(), "query": req.query_string(), "headers": headers, "context": context, "body_len": body.len(), "server": "v1" }))
}

async fn echo_v2() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "server": "v2" }))
}

async fn empty() -> HttpResponse {
    HttpResponse::NoContent().finish()
}

async fn upload(mut payload: web::Payload) -> HttpResponse {
    let mut total = 0_usize;
    while let Some(chunk) = payload.next().await {
        total += chunk.unwrap().len();
    }
    HttpResponse::Ok().json(json!({ "bytes": total }))
}

async fn slow() -> HttpResponse {
    tokio::time::sleep(Duration::from_secs(3)).await;
    HttpResponse::Ok().finish()
}

fn probe_server(audience: &'static str) -> String {
    let settings: tenant_core::config::Settings = test_support::settings(
        &tenant_core::ServiceSpec {
            name: "probe",
            schema: None,
            migrations: &[],
        },
        None,
        &[],
    );
    let verifier = web::Data::new(InternalTokenVerifier::new(
        &settings.internal_token,
        audience,
    ));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = HttpServer::new(move || {
        App::new()
            .app_data(verifier.clone())
            .app_data(web::PayloadConfig::new(usize::MAX))
            .route("/v1/probe/{project}/echo", web::to(echo))
            .route("/v2/probe/{project}/echo", web::get().to(echo_v2))
            .route("/v1/probe/{project}/empty", web::delete().to(empty))
            .route("/v1/probe/{project}/upload", web::post().to(upload))
            .route("/v1/slow", web::get().to(slow))
    })
    .workers(2)
    .listen(listener)
    .unwrap()
    .run();
    tokio::spawn(server);
    url
}

struct Probed {
    platform: Platform,
    down_address: std::net::SocketAddr,
    owner: common::User,
    project_id: String,
    _routes: tempfile_path::TempFile,
}

mod tempfile_path {
    /// A file removed on drop.
    pub struct TempFile(pub std::path::PathBuf);

    impl Drop for TempFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
}

async fn spawn_probed() -> Probed {
    spawn_probed_with(&[]).await
}

async fn spawn_probed_with(extra: &[(&'static str, String)]) -> Probed {
    let probe = probe_server("probe-service");
    let probe_v2 = probe_server("probe-service-v2");
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let path = std::env::temp_dir().join(format!("routes-{}.toml", uuid::Uuid::new_v4()));
    let mut file = std::fs::File::create(&path).unwrap();
    write!(file, "{}\n{PROBE_ROUTES}", api_gateway::BUILT_IN_ROUTES).unwrap();
    let routes = tempfile_path::TempFile(path.clone());
    let mut overrides = vec![
        ("service.routes_file", path.display().to_string()),
        ("service.upstreams.probe.url", probe),
        (
            "service.upstreams.probe.audience",
            "probe-service".to_owned(),
        ),
        ("service.upstreams.probe_v2.url", probe_v2),
        (
            "service.upstreams.probe_v2.audience",
            "probe-service-v2".to_owned(),
        ),
        ("service.upstreams.down.url", format!("http://{closed}")),
        ("service.upstreams.down.audience", "down-service".to_owned()),
    ];
    overrides.extend(extra.iter().cloned());
    let platform = common::spawn(&overrides).await;
    let owner = platform.sign_up_and_log_in("owner@example.com").await;
    let project = platform.create_project(&owner, "probe-project").await;
    Probed {
        down_address: closed,
        project_id: project["id"].as_str().unwrap().to_owned(),
        platform,
        owner,
        _routes: routes,
    }
}

#[tokio::test]
async fn the_backend_gets_the_context_token_and_forwarding_headers_but_no_hop_by_hop_or_internal_headers()
 {
    let probed = spawn_probed().await;
    let platform = &probed.platform;
    let response = platform
        .http
        .post(platform.url("/api/v1/probe/probe-project/echo?x=1&y=two"))
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
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    for hop in ["keep-alive", "proxy-connection"] {
        assert!(
            !response.headers().contains_key(hop),
            "{hop} came back to the client"
        );
    }
    assert_eq!(response.headers()["deprecation"], "@1767225600");
    assert_eq!(
        response.headers()["sunset"],
        "Wed, 30 Jun 2027 23:59:59 GMT"
    );
    assert_eq!(
        response.headers()["link"],
        "<https://docs.example.com/deprecations/v1-echo>; rel=\"deprecation\""
    );
    let seen: Value = response.json().await.unwrap();
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
    let v1: Value = platform
        .send(
            Method::GET,
            "/api/v1/probe/probe-project/echo",
            Some(token),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    let v2 = platform
        .send(
            Method::GET,
            "/api/v2/probe/probe-project/echo",
            Some(token),
            None,
        )
        .await;
    assert!(
        !v2.headers().contains_key("deprecation"),
        "v2 is not deprecated"
    );
    let v2: Value = v2.json().await.unwrap();
    assert_eq!(
        (v1["server"].as_str(), v2["server"].as_str()),
        (Some("v1"), Some("v2"))
    );
    let by_accept: Value = platform
        .http
        .get(platform.url("/api/probe/probe-project/echo"))
        .bearer_auth(token)
        .header("accept", "application/vnd.faultline.v2+json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(by_accept["server"], "v2");
}

#[tokio::test]
async fn an_api_key_reaches_only_its_own_project_with_its_own_role() {
    let probed = spawn_probed().await;
    let platform = &probed.platform;
    platform
        .create_project(&probed.owner, "other-project")
        .await;
    let created: Value = platform
        .send(
            Method::POST,
            "/api/v1/projects/probe-project/api-keys",
            Some(&probed.owner.access_token),
            Some(json!({ "name": "ci", "role": "viewer", "expires_at": Utc::now() + chrono::Duration::days(1) })),
        )
        .await
        .json()
        .await
        .unwrap();
    let key = created["key"].as_str().unwrap();

    let read: Value = platform
        .send(
            Method::GET,
            "/api/v1/probe/probe-project/echo",
            Some(key),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
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
    assert_eq!(by_id.status(), StatusCode::OK);

    let (status, _) = problem(
        platform
            .send(
                Method::GET,
                "/api/v1/probe/other-project/echo",
                Some(key),
                None,
            )
            .await,
    )
    .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "another project is invisible to the key"
    );
    let (status, body) = problem(
        platform
            .send(
                Method::POST,
                "/api/v1/probe/probe-project/echo",
                Some(key),
                Some(json!({})),
            )
            .await,
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("gateway.role_too_low"))
    );
    let (status, _) = problem(
        platform
            .send(
                Method::GET,
                "/api/v1/probe/probe-project/echo",
                Some("flt_junkjunkjunkjunkjunkjunkjunkjunk000000"),
                None,
            )
            .await,
    )
    .await;
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
    assert_eq!(empty.status(), StatusCode::NO_CONTENT);
    assert!(empty.bytes().await.unwrap().is_empty());

    let too_big = platform
        .http
        .post(platform.url("/api/v1/probe/probe-project/small"))
        .bearer_auth(token)
        .body(vec![b'x'; 4096])
        .send()
        .await
        .unwrap();
    let (status, body) = problem(too_big).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (
            StatusCode::PAYLOAD_TOO_LARGE,
            Some("request.body_too_large")
        )
    );
    let streamed_too_big = platform
        .http
        .post(platform.url("/api/v1/probe/probe-project/small"))
        .bearer_auth(token)
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            (0..8).map(|_| Ok::<_, std::io::Error>(vec![b'y'; 1024])),
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(
        streamed_too_big.status(),
        StatusCode::PAYLOAD_TOO_LARGE,
        "the limit holds without a Content-Length"
    );

    let started = std::time::Instant::now();
    let (status, body) =
        problem(platform.send(Method::GET, "/api/v1/down", None, None).await).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Some("gateway.upstream_unavailable")
        )
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "an upstream that is down fails fast"
    );

    let (status, body) =
        problem(platform.send(Method::GET, "/api/v1/slow", None, None).await).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (
            StatusCode::GATEWAY_TIMEOUT,
            Some("gateway.upstream_timeout")
        )
    );
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[tokio::test]
async fn a_200_mb_upload_streams_through_without_the_gateway_holding_it() {
    let probed = spawn_probed().await;
    let platform = &probed.platform;
    let before = rss_kib();
    let peak = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(before));
    let sampler = {
        let peak = peak.clone();
        tokio::spawn(async move {
            loop {
                peak.fetch_max(rss_kib(), std::sync::atomic::Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    let chunk = vec![b'z'; 1024 * 1024];
    let body =
        futures_util::stream::iter((0..200).map(move |_| Ok::<_, std::io::Error>(chunk.clone())));
    let response = platform
        .http
        .post(platform.url("/api/v1/probe/probe-project/upload"))
        .bearer_auth(&probed.owner.access_token)
        .body(reqwest::Body::wrap_stream(body))
        .send()
        .await
        .unwrap();
    sampler.abort();
    assert_eq!(response.status(), StatusCode::OK);
    let seen: Value = response.json().await.unwrap();
    assert_eq!(seen["bytes"], 200 * 1024 * 1024);
    let growth_mib = (peak
        .load(std::sync::atomic::Ordering::SeqCst)
        .saturating_sub(before))
        / 1024;
    assert!(
        growth_mib < 50,
        "memory grew by {growth_mib} MiB while streaming 200 MiB"
    );
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
        let (status, _) =
            problem(platform.send(Method::GET, "/api/v1/down", None, None).await).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    }
    assert_eq!(platform.metric("gateway_breaker_opened_total").await, 1.0);
    let open = platform.send(Method::GET, "/api/v1/down", None, None).await;
    assert_eq!(open.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(open.headers().contains_key("retry-after"));
    let body: Value = open.json().await.unwrap();
    assert!(
        body["detail"].as_str().unwrap().contains("paused"),
        "{body}"
    );

    // The upstream comes back on its address.
    let listener = std::net::TcpListener::bind(probed.down_address).unwrap();
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
    tokio::time::sleep(Duration::from_millis(600)).await;
    let recovered = platform.send(Method::GET, "/api/v1/down", None, None).await;
    assert_eq!(
        recovered.status(),
        StatusCode::OK,
        "the half-open probe succeeded"
    );
    assert_eq!(
        platform
            .send(Method::GET, "/api/v1/down", None, None)
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_route_that_allows_a_default_uses_the_tokens_default_project() {
    let probed = spawn_probed().await;
    let platform = &probed.platform;
    let (status, body) = problem(
        platform
            .send(
                Method::GET,
                "/api/v1/probe/current/echo",
                Some(&probed.owner.access_token),
                None,
            )
            .await,
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("gateway.project_required")),
        "no default chosen yet"
    );

    let chosen = platform
        .send(
            Method::PATCH,
            "/api/v1/me",
            Some(&probed.owner.access_token),
            Some(json!({ "default_project": probed.project_id })),
        )
        .await;
    assert_eq!(chosen.status(), StatusCode::OK);
    // The next access token carries the default.
    let tokens: Value = platform
        .send(
            Method::POST,
            "/api/v1/auth/refresh",
            None,
            Some(json!({ "refresh_token": probed.owner.refresh_token })),
        )
        .await
        .json()
        .await
        .unwrap();
    let token = tokens["access_token"].as_str().unwrap();
    let seen: Value = platform
        .send(Method::GET, "/api/v1/probe/current/echo", Some(token), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(seen["context"]["project_id"], probed.project_id);
    // An explicit source wins over the default.
    platform.create_project(&probed.owner, "explicit").await;
    let explicit: Value = platform
        .http
        .get(platform.url("/api/v1/probe/current/echo"))
        .bearer_auth(token)
        .header("x-project-id", "explicit")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
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
        platform
            .http
            .request(Method::OPTIONS, platform.url("/api/v1/me"))
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .send()
    };
    let allowed = preflight("https://app.example.com").await.unwrap();
    assert_eq!(allowed.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    let refused = preflight("https://evil.example.com").await.unwrap();
    assert!(
        !refused
            .headers()
            .contains_key("access-control-allow-origin")
    );

    let response = platform
        .http
        .get(platform.url("/api/v1/me"))
        .bearer_auth(&probed.owner.access_token)
        .header("origin", "https://evil.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        !response
            .headers()
            .contains_key("access-control-allow-origin")
    );
    let response = platform
        .http
        .get(platform.url("/api/v1/me"))
        .bearer_auth(&probed.owner.access_token)
        .header("origin", "https://app.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
}
