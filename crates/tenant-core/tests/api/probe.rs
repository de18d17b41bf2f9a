//! A host with a few routes that exercise what tenant-core gives handlers.

use std::time::Duration;

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use tenant_core::config::Settings;
use tenant_core::{Application, Problem, ServiceSpec, TenantContext};
use test_support::RunningService;

pub static PROBE: ServiceSpec = ServiceSpec {
    name: "probe-service",
    schema: None,
    migrations: &[],
};

#[derive(Debug, Deserialize)]
struct Item {
    name: String,
    count: u32,
}

#[derive(Debug, Deserialize)]
struct Filter {
    limit: u32,
}

async fn whoami(ctx: TenantContext) -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({
        "principal_id": ctx.principal().id,
        "project_id": ctx.project().map(|p| p.project_id),
        "role": ctx.project().map(|p| p.role),
        "request_id": ctx.request_id(),
    }))
}

async fn create_item(item: web::Json<Item>) -> HttpResponse {
    HttpResponse::Created().json(serde_json::json!({ "name": item.name, "count": item.count }))
}

async fn get_item(id: web::Path<uuid::Uuid>, filter: web::Query<Filter>) -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "id": *id, "limit": filter.limit }))
}

async fn broken() -> Result<HttpResponse, Problem> {
    Err(Problem::internal(std::io::Error::other(
        "connection to 10.1.2.3 failed: password authentication failed for user faultline",
    )))
}

async fn busy() -> Result<HttpResponse, Problem> {
    Err(Problem::unavailable("probe.busy", 7))
}

/// Set once `/slow` is being served, so a test can act while it is in
/// flight instead of guessing how long the request takes to arrive.
pub static SLOW_IN_FLIGHT: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

async fn slow() -> HttpResponse {
    SLOW_IN_FLIGHT.store(true, std::sync::atomic::Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs(2)).await;
    HttpResponse::Ok().body("finished")
}

/// Set once `/stuck` holds its worker, a handler that blocks its thread
/// (as a handler that wrongly does blocking work would).
pub static STUCK_IN_FLIGHT: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

/// How long `/stuck` holds its worker thread.
pub const STUCK_FOR: Duration = Duration::from_secs(60);

#[allow(
    clippy::disallowed_methods,
    reason = "the point: a handler that blocks its worker thread"
)]
async fn stuck() -> HttpResponse {
    STUCK_IN_FLIGHT.store(true, std::sync::atomic::Ordering::SeqCst);
    std::thread::sleep(STUCK_FOR);
    HttpResponse::Ok().body("finished")
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/whoami").get(whoami))
        .service(web::resource("/items").post(create_item))
        .service(web::resource("/items/{id}").get(get_item))
        .service(web::resource("/broken").get(broken))
        .service(web::resource("/busy").post(busy))
        .service(web::resource("/slow").get(slow))
        .service(web::resource("/stuck").get(stuck));
}

pub fn settings(extra: &[(&'static str, String)]) -> Settings {
    let mut overrides = vec![("server.json_body_limit_bytes", "1024".to_owned())];
    overrides.extend(extra.iter().cloned());
    test_support::settings(&PROBE, None, &overrides)
}

pub fn spawn_probe(extra: &[(&'static str, String)]) -> RunningService {
    let host =
        Application::start(&PROBE, &settings(extra), None, routes).expect("probe host starts");
    RunningService::spawn(host)
}
