//! Probe upstreams behind the gateway, on routes of their own added to the
//! built-in table: one that echoes what reached it (v1 and v2), answers
//! without content, counts an upload's bytes, or answers too late, and an
//! address where nothing listens until a test says so.

use std::net::SocketAddr;
use std::time::Duration;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use futures_util::StreamExt;
use serde_json::{Value, json};
use tenant_core::context::InternalTokenVerifier;

use crate::helpers::{self, Platform, RoutesFile, User};

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

/// The scenario: an upstream slower than its route's 300 ms timeout.
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

pub struct Probed {
    pub platform: Platform,
    /// The `down` upstream's address: bound, so no one else takes it, but
    /// not listening, so connections to it are refused.
    pub down: tokio::net::TcpSocket,
    pub owner: User,
    pub project_id: String,
    _routes: RoutesFile,
}

pub async fn spawn_probed() -> Probed {
    spawn_probed_with(&[]).await
}

pub async fn spawn_probed_with(extra: &[(&'static str, String)]) -> Probed {
    let probe = probe_server("probe-service");
    let probe_v2 = probe_server("probe-service-v2");
    let down = tokio::net::TcpSocket::new_v4().unwrap();
    down.bind(SocketAddr::from(([127, 0, 0, 1], 0))).unwrap();
    let routes = RoutesFile::with_routes(PROBE_ROUTES);
    let mut overrides = vec![
        routes.setting(),
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
        (
            "service.upstreams.down.url",
            format!("http://{}", down.local_addr().unwrap()),
        ),
        ("service.upstreams.down.audience", "down-service".to_owned()),
    ];
    overrides.extend(extra.iter().cloned());
    let platform = helpers::spawn(&overrides).await;
    let owner = platform.sign_up_and_log_in("owner@example.com").await;
    let project = platform.create_project(&owner, "probe-project").await;
    Probed {
        down,
        project_id: project["id"].as_str().unwrap().to_owned(),
        platform,
        owner,
        _routes: routes,
    }
}
