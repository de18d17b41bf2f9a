//! What the gateway does with the route it matched: its parameters are
//! checked before anything is proxied, its template names the request in
//! metrics and spans, and a small answer from its upstream goes out whole.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use actix_web::{App, HttpResponse, HttpServer, web};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use test_support::eventually;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{self, Platform, RoutesFile};

const PROBE_ROUTES: &str = r#"
[[route]]
path = "/probe/files/{file}"
version = 1
methods = ["GET"]
upstream = "probe"
auth = "public"
project = "none"

[[route]]
path = "/probe/{project}/files/{file}"
version = 1
methods = ["GET"]
upstream = "probe"
auth = "any"
project = "path"
min_role = { GET = "viewer" }

[[route]]
path = "/broken"
version = 1
methods = ["GET"]
upstream = "broken"
auth = "public"
project = "none"
"#;

struct Probed {
    platform: Platform,
    /// Requests the probe upstream received, whatever their path.
    upstream_hits: Arc<AtomicUsize>,
    _routes: RoutesFile,
}

/// An upstream that counts every request and answers 200.
fn counting_upstream() -> (String, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = hits.clone();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = HttpServer::new(move || {
        let counted = counted.clone();
        App::new().default_service(web::to(move || {
            counted.fetch_add(1, Ordering::SeqCst);
            async { HttpResponse::Ok().body("reached") }
        }))
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    tokio::spawn(server);
    (url, hits)
}

/// An upstream that promises 100 bytes, sends 10 and hangs up.
async fn breaking_upstream() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buffer = [0_u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buffer[..n]),
                    }
                }
                let _ = socket
                    .write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{\"partial\"",
                    )
                    .await;
                let _ = socket.shutdown().await;
            });
        }
    });
    url
}

async fn spawn_probed() -> Probed {
    let (probe, upstream_hits) = counting_upstream();
    let broken = breaking_upstream().await;
    let routes = RoutesFile::with_routes(PROBE_ROUTES);
    let platform = helpers::spawn(&[
        routes.setting(),
        ("service.upstreams.probe.url", probe),
        (
            "service.upstreams.probe.audience",
            "probe-service".to_owned(),
        ),
        ("service.upstreams.broken.url", broken),
        (
            "service.upstreams.broken.audience",
            "broken-service".to_owned(),
        ),
    ])
    .await;
    Probed {
        platform,
        upstream_hits,
        _routes: routes,
    }
}

/// A GET with the path exactly as given: HTTP clients resolve `..` and
/// `%2e%2e` before sending, so the request line is written by hand.
async fn raw_get(port: u16, path: &str) -> (u16, String, Value) {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut response))
        .await
        .expect("the gateway answers")
        .unwrap();
    let text = String::from_utf8_lossy(&response);
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let content_type = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-type")
                .then(|| value.trim().to_owned())
        })
        .unwrap_or_default();
    (
        status,
        content_type,
        serde_json::from_str(body).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn path_parameters_with_dot_segments_or_encoded_separators_are_refused_before_anything_is_proxied()
 {
    let probed = spawn_probed().await;
    let port = probed.platform.gateway.service.port;
    for value in [
        "..",
        ".",
        "%2e%2e",
        "%2E%2e",
        "%2e",
        "report%2exml",
        "a%2fb",
        "a%2Fb",
        "a%5cb",
        "a%5Cb",
        "%252e%252e",
        "%252F",
        "%255c",
        "%25252e",
    ] {
        for path in [
            format!("/api/v1/probe/files/{value}"),
            // Refused before authentication: no credentials are sent.
            format!("/api/v1/probe/demo/files/{value}"),
        ] {
            let (status, content_type, body) = raw_get(port, &path).await;
            assert_eq!(
                (status, body["code"].as_str()),
                (400, Some("request.invalid_path_parameter")),
                "{path}: {body}"
            );
            assert_eq!(content_type, "application/problem+json", "{path}");
            assert!(
                body["detail"].as_str().unwrap().contains("`file`"),
                "{body}"
            );
        }
    }
    assert_eq!(
        probed.upstream_hits.load(Ordering::SeqCst),
        0,
        "no refused request reached the upstream"
    );

    let (status, _, _) = raw_get(port, "/api/v1/probe/files/report.xml").await;
    assert_eq!(status, 200, "a dot inside a name is fine");
    let (status, _, body) = raw_get(port, "/api/v1/probe/demo/files/report.xml").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("auth.required"))
    );
    assert_eq!(probed.upstream_hits.load(Ordering::SeqCst), 1);
}

/// The `_count` sample of the gateway's request-duration histogram for one
/// route, method and status, waiting for it to appear (a request is
/// counted once its answer has gone out).
async fn request_count(platform: &Platform, route: &str, method: &str, status: u16) -> f64 {
    let labels = [
        format!("route=\"{route}\""),
        format!("method=\"{method}\""),
        format!("status=\"{status}\""),
    ];
    eventually(
        &format!("a series for {labels:?} on the gateway's /metrics"),
        Duration::from_secs(5),
        || async {
            let (_, page) = test_support::metric(
                &platform.http,
                &platform.gateway.service,
                "http_server_request_duration_seconds_count",
            )
            .await;
            page.lines()
                .find(|line| {
                    line.starts_with("http_server_request_duration_seconds_count{")
                        && labels.iter().all(|label| line.contains(label.as_str()))
                })
                .and_then(|line| line.rsplit(' ').next()?.parse().ok())
        },
    )
    .await
}

#[tokio::test]
async fn the_gateways_request_metrics_name_the_route_template_it_matched() {
    let probed = spawn_probed().await;
    let platform = &probed.platform;
    let owner = platform.sign_up_and_log_in("owner@example.com").await;
    platform.create_project(&owner, "metered").await;
    for _ in 0..2 {
        let read = platform
            .send(
                Method::GET,
                "/api/v1/projects/metered",
                Some(&owner.access_token),
                None,
            )
            .await;
        assert_eq!(read.status, StatusCode::OK);
    }
    assert_eq!(
        request_count(platform, "/api/v1/projects/{project}", "GET", 200).await,
        2.0
    );
    assert_eq!(
        request_count(platform, "/api/v1/projects", "POST", 201).await,
        1.0
    );
    // A path the table does not have stays `unmatched`, so raw paths never
    // become label values.
    let missing = platform
        .send(Method::GET, "/api/v1/no/such/route", None, None)
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(request_count(platform, "unmatched", "GET", 404).await, 1.0);
}

#[tokio::test]
async fn a_small_upstream_answer_is_read_whole_so_one_that_breaks_off_is_a_502_not_a_truncated_200()
{
    let probed = spawn_probed().await;
    probed
        .platform
        .send(Method::GET, "/api/v1/broken", None, None)
        .await
        .expect_problem(502, "gateway.upstream_failed");
}
