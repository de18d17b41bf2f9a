//! The public listeners: HTTPS with a certificate from the configuration
//! beside plain HTTP, HSTS on HTTPS only, header limits answered with a 431
//! problem, client timeouts, and startup refusing unusable TLS files.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;
use tenant_core::Application;
use tenant_core::config::{self, ConfigError, Settings};
use tenant_core::error::error_chain;
use tenant_core::server::HSTS;
use test_support::RunningService;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A self-signed certificate for `localhost` and 127.0.0.1, written to a
/// directory of its own that goes away with it.
struct DevCert {
    dir: PathBuf,
    cert_pem: String,
}

impl DevCert {
    fn generate() -> Self {
        let certified =
            rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])
                .unwrap();
        let dir = std::env::temp_dir().join(format!("faultline-tls-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        let cert_pem = certified.cert.pem();
        std::fs::write(dir.join("cert.pem"), &cert_pem).unwrap();
        std::fs::write(dir.join("key.pem"), certified.signing_key.serialize_pem()).unwrap();
        Self { dir, cert_pem }
    }

    fn cert_path(&self) -> PathBuf {
        self.dir.join("cert.pem")
    }

    fn key_path(&self) -> PathBuf {
        self.dir.join("key.pem")
    }

    /// Overrides that turn TLS on with this certificate, on a free port.
    fn overrides(&self) -> Vec<(&'static str, String)> {
        vec![
            ("server.tls.enabled", "true".to_owned()),
            ("server.tls.port", "0".to_owned()),
            ("server.tls.cert_path", path_string(&self.cert_path())),
            ("server.tls.key_path", path_string(&self.key_path())),
        ]
    }

    /// A client that trusts this certificate and nothing else.
    fn client(&self) -> reqwest::ClientBuilder {
        reqwest::Client::builder()
            .tls_certs_only([reqwest::Certificate::from_pem(self.cert_pem.as_bytes()).unwrap()])
            .timeout(Duration::from_secs(10))
    }
}

impl Drop for DevCert {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn path_string(path: &Path) -> String {
    path.to_str().unwrap().to_owned()
}

struct Host {
    service: RunningService,
    http_port: Option<u16>,
    tls_port: u16,
}

impl Host {
    fn https(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{path}", self.tls_port)
    }
}

fn spawn_tls(cert: &DevCert, extra: &[(&'static str, String)]) -> Host {
    let mut overrides = cert.overrides();
    overrides.extend(extra.iter().cloned());
    let host = Application::start(
        &crate::probe::PROBE,
        &crate::probe::settings(&overrides),
        None,
        crate::probe::routes,
    )
    .expect("host with TLS starts");
    let http_port = host.http_port();
    let tls_port = host.tls_port().expect("TLS listener bound");
    Host {
        service: RunningService::spawn(host),
        http_port,
        tls_port,
    }
}

fn load(overrides: &[(&'static str, String)]) -> Result<Settings, ConfigError> {
    let mut all = vec![
        ("environment", "test".to_owned()),
        (
            "internal_token.keys.test",
            test_support::TEST_INTERNAL_KEY.to_owned(),
        ),
        ("internal_token.signing_key_id", "test".to_owned()),
        ("server.port", "0".to_owned()),
        ("server.admin_port", "0".to_owned()),
    ];
    all.extend(overrides.iter().cloned());
    let all: Vec<(&str, String)> = all.into_iter().collect();
    config::load_with_overrides(&crate::probe::PROBE, &all)
}

/// A response read to its end, so no stream stays open to hold up the
/// host's graceful stop.
struct Fetched {
    status: StatusCode,
    version: reqwest::Version,
    headers: reqwest::header::HeaderMap,
}

impl Fetched {
    fn hsts(&self) -> Option<&str> {
        self.headers
            .get("strict-transport-security")
            .map(|value| value.to_str().unwrap())
    }
}

async fn fetch(request: reqwest::RequestBuilder) -> Fetched {
    let response = request.send().await.unwrap();
    let fetched = Fetched {
        status: response.status(),
        version: response.version(),
        headers: response.headers().clone(),
    };
    response.bytes().await.unwrap();
    fetched
}

async fn assert_431_problem(response: reqwest::Response, detail_mentions: &str) {
    assert_eq!(
        response.status(),
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
    );
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let request_id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "request.headers_too_large", "{body}");
    assert_eq!(body["status"], 431, "{body}");
    assert_eq!(body["request_id"], request_id.as_str(), "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains(detail_mentions),
        "{body}"
    );
}

/// Sends `request` on a fresh HTTP/1 connection and reads until the server
/// closes it (or `within` passes): status code, body, time taken.
async fn raw_http1(port: u16, request: &[u8], within: Duration) -> (u16, String, Duration) {
    let started = Instant::now();
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    stream.write_all(request).await.unwrap();
    // Read until the server closes (or resets) the connection, keeping
    // whatever arrived before.
    let mut received = Vec::new();
    let _ = tokio::time::timeout(within, async {
        let mut chunk = [0_u8; 8192];
        while let Ok(read @ 1..) = stream.read(&mut chunk).await {
            received.extend_from_slice(&chunk[..read]);
        }
    })
    .await;
    let text = String::from_utf8_lossy(&received).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP status in {text:?}"));
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    (status, body, started.elapsed())
}

/// `GET /healthz` with `Host` and `Connection: close` plus `extra` lines.
fn request_with_headers(extra: impl IntoIterator<Item = String>) -> Vec<u8> {
    let mut request =
        String::from("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
    for line in extra {
        request.push_str(&line);
        request.push_str("\r\n");
    }
    request.push_str("\r\n");
    request.into_bytes()
}

#[tokio::test]
async fn https_and_http_serve_side_by_side_with_hsts_on_https_only() {
    let cert = DevCert::generate();
    let host = spawn_tls(&cert, &[]);
    let http_port = host.http_port.expect("plain HTTP stays on by default");
    assert_ne!(http_port, host.tls_port);
    assert_eq!(HSTS, "max-age=63072000; includeSubDomains");

    // HTTPS, HTTP/2 as negotiated by ALPN, then HTTP/1.1.
    let h2 = cert.client().build().unwrap();
    let response = h2.get(host.https("/healthz")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.version(), reqwest::Version::HTTP_2);
    assert_eq!(response.headers()["strict-transport-security"], HSTS);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ok");

    let h1 = cert.client().http1_only().build().unwrap();
    let fetched = fetch(h1.get(host.https("/healthz"))).await;
    assert_eq!(fetched.version, reqwest::Version::HTTP_11);
    assert_eq!(fetched.hsts(), Some(HSTS));

    // Problems on HTTPS carry it too.
    let fetched = fetch(h2.get(host.https("/no-such-route"))).await;
    assert_eq!(fetched.status, StatusCode::NOT_FOUND);
    assert_eq!(fetched.hsts(), Some(HSTS));
    let fetched = fetch(h1.get(host.https("/broken"))).await;
    assert_eq!(fetched.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(fetched.hsts(), Some(HSTS));

    // Plain HTTP: same routes, no HSTS, even when the client claims HTTPS.
    let plain = test_support::http_client();
    for path in ["/healthz", "/no-such-route"] {
        let fetched = fetch(
            plain
                .get(format!("http://127.0.0.1:{http_port}{path}"))
                .header("x-forwarded-proto", "https")
                .header("forwarded", "proto=https"),
        )
        .await;
        assert_eq!(fetched.hsts(), None, "HSTS on plain HTTP {path}");
    }
    // The admin listener stays plain HTTP.
    let fetched = fetch(plain.get(host.service.admin_url("/healthz"))).await;
    assert_eq!(fetched.status, StatusCode::OK);
    assert_eq!(fetched.hsts(), None);

    // The listener really serves this certificate: a client that trusts
    // another one refuses the connection.
    let stranger = DevCert::generate().client().build().unwrap();
    let refused = stranger.get(host.https("/healthz")).send().await;
    assert!(refused.is_err(), "an untrusted certificate was accepted");

    // Idle pooled connections would hold up the graceful stop.
    drop((h2, h1, plain, stranger));
    host.service.stop().await.unwrap();
}

#[tokio::test]
async fn tls_alone_serves_https_and_no_plain_http() {
    let cert = DevCert::generate();
    let host = spawn_tls(&cert, &[("server.http_enabled", "false".to_owned())]);
    assert_eq!(host.http_port, None);
    // `port()` falls back to the HTTPS port, so test-support's URL is it.
    assert_eq!(host.service.port, host.tls_port);

    // Routed and refused by the context extractor, over TLS.
    let fetched = fetch(cert.client().build().unwrap().get(host.https("/whoami"))).await;
    assert_eq!(fetched.status, StatusCode::UNAUTHORIZED);
    assert_eq!(fetched.hsts(), Some(HSTS));

    // Plain HTTP on that port gets no HTTP answer.
    let plain = test_support::http_client()
        .get(host.service.url("/healthz"))
        .send()
        .await;
    assert!(plain.is_err(), "plain HTTP answered on the TLS port");

    host.service.stop().await.unwrap();
}

#[tokio::test]
async fn too_many_header_fields_are_a_431_problem_on_both_listeners() {
    let cert = DevCert::generate();
    let host = spawn_tls(&cert, &[("server.max_request_headers", "20".to_owned())]);
    let http_port = host.http_port.unwrap();

    // Exactly at the limit over HTTP/1: Host, Connection and 18 more.
    let (status, _, _) = raw_http1(
        http_port,
        &request_with_headers((0..18).map(|i| format!("x-field-{i}: {i}"))),
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(status, 200, "20 header fields are within the limit");
    let (status, body, _) = raw_http1(
        http_port,
        &request_with_headers((0..19).map(|i| format!("x-field-{i}: {i}"))),
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(status, 431, "21 header fields are over the limit");
    let problem: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(problem["code"], "request.headers_too_large");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("21 header fields"),
        "{problem}"
    );

    let mut many = reqwest::header::HeaderMap::new();
    for i in 0..30 {
        many.insert(
            reqwest::header::HeaderName::from_bytes(format!("x-field-{i}").as_bytes()).unwrap(),
            reqwest::header::HeaderValue::from(i),
        );
    }
    let response = test_support::http_client()
        .get(format!("http://127.0.0.1:{http_port}/healthz"))
        .headers(many.clone())
        .send()
        .await
        .unwrap();
    assert_431_problem(response, "at most 20").await;

    // HTTPS over HTTP/2: the same limit, the same problem, with HSTS.
    let response = cert
        .client()
        .build()
        .unwrap()
        .get(host.https("/healthz"))
        .headers(many)
        .send()
        .await
        .unwrap();
    assert_eq!(response.version(), reqwest::Version::HTTP_2);
    assert_eq!(response.headers()["strict-transport-security"], HSTS);
    assert_431_problem(response, "at most 20").await;

    host.service.stop().await.unwrap();
}

#[tokio::test]
async fn oversized_header_fields_are_a_431_problem_on_both_listeners() {
    let cert = DevCert::generate();
    let host = spawn_tls(
        &cert,
        &[("server.max_request_header_bytes", "4096".to_owned())],
    );
    let http = test_support::http_client();
    let https = cert.client().build().unwrap();
    let http_url = format!("http://127.0.0.1:{}/healthz", host.http_port.unwrap());

    for (client, url) in [(&http, http_url.clone()), (&https, host.https("/healthz"))] {
        let response = client
            .get(&url)
            .header("x-small", "s".repeat(2000))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{url}");
        let response = client
            .get(&url)
            .header("x-large", "l".repeat(5000))
            .send()
            .await
            .unwrap();
        assert_431_problem(response, "at most 4096").await;
        // Many small fields add up the same way.
        let mut request = client.get(&url);
        for i in 0..10 {
            request = request.header(format!("x-part-{i}"), "p".repeat(500));
        }
        assert_431_problem(request.send().await.unwrap(), "bytes").await;
    }

    drop((http, https));
    host.service.stop().await.unwrap();
}

/// What actix-http does past its own fixed limits (96 fields, 128 KiB of
/// HTTP/1 request head), before any middleware runs: a bare 431 with an
/// empty body, then it closes the connection. Documented in
/// docs/configuration.md; this pins it so an actix upgrade that changes it
/// is noticed.
#[tokio::test]
async fn past_actix_fixed_limits_the_answer_is_a_bare_431() {
    let service = crate::probe::spawn_probe(&[]);

    let (status, body, _) = raw_http1(
        service.port,
        &request_with_headers((0..100).map(|i| format!("x-field-{i}: {i}"))),
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(status, 431);
    assert_eq!(body, "");

    let (status, body, _) = raw_http1(
        service.port,
        &request_with_headers((0..3).map(|i| format!("x-big-{i}: {}", "b".repeat(50_000)))),
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(status, 431);
    assert_eq!(body, "");

    service.stop().await.unwrap();
}

#[tokio::test]
async fn a_slow_sender_gets_408_at_the_client_request_timeout() {
    let service =
        crate::probe::spawn_probe(&[("server.client_request_timeout_ms", "300".to_owned())]);

    // Half a request head, then nothing: the default (5 s) would outlast
    // the 3 s this waits.
    let (status, body, elapsed) = raw_http1(
        service.port,
        b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n",
        Duration::from_secs(3),
    )
    .await;
    assert_eq!(status, 408);
    assert_eq!(body, "");
    assert!(elapsed < Duration::from_secs(2), "took {elapsed:?}");

    service.stop().await.unwrap();
}

#[tokio::test]
async fn idle_keep_alive_connections_close_after_keep_alive_secs() {
    let service = crate::probe::spawn_probe(&[("server.keep_alive_secs", "1".to_owned())]);

    let mut stream = TcpStream::connect(("127.0.0.1", service.port))
        .await
        .unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap();
    let mut buffer = vec![0_u8; 4096];
    let read = stream.read(&mut buffer).await.unwrap();
    assert!(String::from_utf8_lossy(&buffer[..read]).starts_with("HTTP/1.1 200"));

    // Idle: the server closes within about a second (the default is 5 s).
    let started = Instant::now();
    let closed = tokio::time::timeout(Duration::from_secs(4), stream.read(&mut buffer)).await;
    assert!(
        matches!(closed, Ok(Ok(0)) | Ok(Err(_))),
        "the idle connection was not closed: {closed:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );

    service.stop().await.unwrap();
}

#[tokio::test]
async fn a_missing_certificate_file_stops_startup_naming_server_tls_cert_path() {
    let cert = DevCert::generate();
    let missing = cert.dir.join("no-such-cert.pem");

    // Validation (`serve`, `check-config`) refuses it.
    let mut overrides = cert.overrides();
    overrides.retain(|(key, _)| *key != "server.tls.cert_path");
    overrides.push(("server.tls.cert_path", path_string(&missing)));
    let message = load(&overrides).unwrap_err().to_string();
    assert!(
        message.contains("server.tls.cert_path: cannot read"),
        "{message}"
    );
    assert!(message.contains("no-such-cert.pem"), "{message}");

    // So does the host, if the file goes away after validation.
    let settings = load(&cert.overrides()).unwrap();
    std::fs::remove_file(cert.cert_path()).unwrap();
    let error = Application::start(&crate::probe::PROBE, &settings, None, crate::probe::routes)
        .unwrap_err();
    let chain = error_chain(&error);
    assert!(
        chain.contains("server.tls.cert_path: cannot read"),
        "{chain}"
    );
}

#[tokio::test]
async fn unusable_tls_settings_are_refused_naming_the_key() {
    let cert = DevCert::generate();
    let other = DevCert::generate();
    let with = |key: &'static str, value: String| {
        let mut overrides = cert.overrides();
        overrides.retain(|(existing, _)| *existing != key);
        overrides.push((key, value));
        load(&overrides).unwrap_err().to_string()
    };

    let message = with("server.tls.key_path", path_string(&other.key_path()));
    assert!(
        message.contains("server.tls.key_path and server.tls.cert_path do not make a usable pair"),
        "{message}"
    );

    let garbage = cert.dir.join("garbage.pem");
    std::fs::write(&garbage, "not a certificate\n").unwrap();
    let message = with("server.tls.cert_path", path_string(&garbage));
    assert!(
        message.contains("server.tls.cert_path:") && message.contains("holds no CERTIFICATE"),
        "{message}"
    );
    // A certificate where the key should be.
    let message = with("server.tls.key_path", path_string(&cert.cert_path()));
    assert!(
        message.contains("server.tls.key_path:") && message.contains("holds no PRIVATE KEY"),
        "{message}"
    );

    let message = load(&[("server.tls.enabled", "true".to_owned())])
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("server.tls.cert_path is required"),
        "{message}"
    );

    let message = load(&[("server.http_enabled", "false".to_owned())])
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("server.http_enabled and server.tls.enabled are both false"),
        "{message}"
    );

    let message = load(&[("server.max_request_headers", "200".to_owned())])
        .unwrap_err()
        .to_string();
    assert!(message.contains("server.max_request_headers"), "{message}");

    // TLS off (the default): no certificate needed, nothing bound for it.
    let settings = load(&[]).unwrap();
    assert!(!settings.server.tls.enabled);
    let host =
        Application::start(&crate::probe::PROBE, &settings, None, crate::probe::routes).unwrap();
    assert_eq!(host.tls_port(), None);
    assert_eq!(host.http_port(), Some(host.port()));
    RunningService::spawn(host).stop().await.unwrap();
}
