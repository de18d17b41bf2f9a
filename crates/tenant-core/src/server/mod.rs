//! The HTTP host every service runs on.
//!
//! The public routes (the service's own plus `/healthz` and `/readyz`) are
//! served on plain HTTP (`server.port`, unless `server.http_enabled` is
//! false), on HTTPS (`server.tls.port`, when `server.tls.enabled`), or on
//! both, by one server with one set of workers. An admin listener
//! (`/metrics`, `/healthz`, `/readyz`), always plain HTTP, is never routed
//! from outside.
//!
//! Every public request passes the header limits (`server.max_request_*`,
//! 431 `request.headers_too_large`), and every HTTPS response carries
//! [`HSTS`]. Slow clients are cut off by `server.client_request_timeout_ms`,
//! `server.keep_alive_secs`, `server.client_disconnect_timeout_ms` and
//! `server.tls.handshake_timeout_ms`; a request body that stops arriving,
//! by `server.body_idle_timeout_ms` (408 `request.body_timeout`, see
//! [`body_timeout`]).
//!
//! Every listener sets `TCP_NODELAY` on its accepted connections (see
//! [`bind`]): a response written as head then body, or an HTTP/2 frame
//! after another, leaves at once instead of waiting for the client's
//! delayed ACK.
//!
//! Shutdown on SIGTERM/SIGINT (or a [`ShutdownHandle`]) is graceful:
//! readiness turns 503 at once; after `server.drain_delay_ms` the requests
//! still in flight get up to `server.shutdown_timeout_secs` to finish (a
//! request that arrives meanwhile is served too), then the public listeners
//! close so new connections are refused (connections still open get the
//! same bound again), and the admin listener and the database pool close
//! last. A listener that does not stop within its bound is left behind, so
//! a shutdown always ends.

use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::http::KeepAlive;
use actix_web::middleware::{ErrorHandlers, from_fn};
use actix_web::{App, HttpResponse, HttpServer, web};
use tokio::sync::Notify;

use crate::ServiceSpec;
use crate::config::{DatabaseSettings, ServiceSettings, Settings, TlsError};
use crate::context::InternalTokenVerifier;
use crate::db::{Db, DbError};
use crate::error::{self, Problem};
use crate::metrics::Metrics;
use crate::migrate::{self, MigrationError, MigrationReport};

mod body_timeout;
mod in_flight;
mod middleware;

use body_timeout::BodyIdleTimeout;
pub use body_timeout::is_body_timeout;

use in_flight::InFlight;
use middleware::{HeaderLimits, host_request};

/// How long the admin listener may take to stop.
const ADMIN_STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// How much longer than `server.shutdown_timeout_secs` the public workers
/// may take to stop before they are left behind.
const WORKER_STOP_GRACE: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error("cannot listen on {address}")]
    Bind {
        address: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the database refused the service")]
    Database(#[from] DbError),
    #[error("cannot connect to the database as the schema owner")]
    OwnerConnection(#[source] tokio_postgres::Error),
    #[error("migrations failed")]
    Migration(#[from] MigrationError),
    #[error("this service needs a database, but none is configured")]
    NoDatabase,
    #[error("cannot set up TLS")]
    Tls(#[from] TlsError),
    #[error("the server stopped with an error")]
    Serve(#[from] std::io::Error),
}

/// `Strict-Transport-Security` on every HTTPS response (two years, with
/// subdomains); never on plain HTTP, where browsers would ignore it anyway.
pub const HSTS: &str = "max-age=63072000; includeSubDomains";

/// Whether the service should receive traffic.
#[derive(Debug, Clone)]
pub struct Readiness {
    draining: Arc<AtomicBool>,
    db: Option<Db>,
    expected_version: i64,
    timeout: Duration,
}

impl Readiness {
    fn start_draining(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }

    async fn check(&self) -> Result<(), Problem> {
        if self.is_draining() {
            return Err(Problem::unavailable("service.draining", 5)
                .with_detail("the service is shutting down"));
        }
        if let Some(db) = &self.db {
            db.check_ready(self.expected_version, self.timeout)
                .await
                .map_err(|error| {
                    tracing::warn!(error = %error::error_chain(&error), "not ready: database");
                    Problem::unavailable("service.not_ready", 2)
                        .with_detail("the database is unreachable or not migrated")
                })?;
        }
        Ok(())
    }
}

/// Asks a running service to shut down gracefully, as SIGTERM would.
#[derive(Debug, Clone, Default)]
pub struct ShutdownHandle(Arc<Notify>);

impl ShutdownHandle {
    pub fn trigger(&self) {
        self.0.notify_one();
    }
}

/// Connects the service's runtime pool, migrating first when
/// `database.migrate_on_start` is set. `None` for services without a schema.
pub async fn connect_database<S: ServiceSettings>(
    spec: &ServiceSpec,
    settings: &Settings<S>,
) -> Result<Option<Db>, HostError> {
    let Some(schema) = spec.schema else {
        return Ok(None);
    };
    let database = settings.database.as_ref().ok_or(HostError::NoDatabase)?;
    if database.migrate_on_start {
        migrate_schema(spec, database).await?;
    }
    Ok(Some(Db::connect(database, schema, spec.name).await?))
}

/// Applies the service's pending migrations as the schema owner.
pub async fn migrate_schema(
    spec: &ServiceSpec,
    database: &DatabaseSettings,
) -> Result<MigrationReport, HostError> {
    let Some(schema) = spec.schema else {
        return Ok(MigrationReport::default());
    };
    let (mut client, connection) = database
        .owner_connection(&format!("{}-migrate", spec.name))
        .connect(tokio_postgres::NoTls)
        .await
        .map_err(HostError::OwnerConnection)?;
    let connection = tokio::spawn(connection);
    let report = migrate::run(&mut client, schema, &database.app_user, spec.migrations).await;
    drop(client);
    let _ = connection.await;
    Ok(report?)
}

/// A service process: its public port(s) and its admin port, bound and
/// ready to serve. Every service's `build` returns one; `main` runs it and
/// tests spawn it.
pub struct Application {
    name: &'static str,
    http_port: Option<u16>,
    tls_port: Option<u16>,
    admin_port: u16,
    main: Server,
    admin: Server,
    readiness: Readiness,
    shutdown: ShutdownHandle,
    drain_delay: Duration,
    shutdown_timeout: Duration,
    in_flight: InFlight,
    metrics: Metrics,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application")
            .field("name", &self.name)
            .field("http_port", &self.http_port)
            .field("tls_port", &self.tls_port)
            .field("admin_port", &self.admin_port)
            .finish_non_exhaustive()
    }
}

impl Application {
    /// Binds the listeners (port 0 picks a free port) and prepares the
    /// servers; nothing is served until [`Application::run_until_stopped`].
    /// With `server.tls.enabled` the certificate and key are loaded here
    /// (again: validation already checked them), and a failure names the
    /// key (`server.tls.cert_path`, `server.tls.key_path`).
    ///
    /// `configure` registers the service's routes (and any app data they
    /// need); `Db`, the context verifier, JSON/path/query problem handlers,
    /// header limits, HSTS, health and readiness are registered here for
    /// every service.
    pub fn start<S, F>(
        spec: &'static ServiceSpec,
        settings: &Settings<S>,
        db: Option<Db>,
        configure: F,
    ) -> Result<Self, HostError>
    where
        S: ServiceSettings,
        F: Fn(&mut web::ServiceConfig) + Send + Clone + 'static,
    {
        let server = &settings.server;
        let metrics = Metrics::new(spec.name);
        if let Some(db) = &db {
            metrics.register(
                &format!("{}_db_statements", db.schema()),
                "SQL statements issued through the service's tenant transactions",
                db.statements().clone(),
            );
            let pool = db.pool_metrics();
            metrics.register(
                &format!("{}_db_connections_open", db.schema()),
                "Connections the service's pool holds open, idle or in use",
                pool.open.clone(),
            );
            metrics.register(
                &format!("{}_db_connections_idle", db.schema()),
                "Open connections of the service's pool that no request holds",
                pool.idle.clone(),
            );
            metrics.register(
                &format!("{}_db_connections_opened", db.schema()),
                "Connections the service's pool has opened since it started",
                pool.opened.clone(),
            );
        }
        let readiness = Readiness {
            draining: Arc::new(AtomicBool::new(false)),
            db: db.clone(),
            expected_version: migrate::latest_version(spec.migrations),
            timeout: settings
                .database
                .as_ref()
                .map_or(Duration::from_secs(1), DatabaseSettings::ready_timeout),
        };

        let tls_config = if server.tls.enabled {
            Some(server.tls.server_config()?)
        } else {
            None
        };
        let http_listener = if server.http_enabled {
            Some(bind(&server.host, server.port)?)
        } else {
            None
        };
        let tls_listener = match tls_config {
            Some(config) => Some((bind(&server.host, server.tls.port)?, config)),
            None => None,
        };
        let (admin_listener, admin_port) = bind(&server.admin_host, server.admin_port)?;
        let http_port = http_listener.as_ref().map(|(_, port)| *port);
        let tls_port = tls_listener.as_ref().map(|((_, port), _)| *port);

        let verifier = web::Data::new(InternalTokenVerifier::new(
            &settings.internal_token,
            spec.name,
        ));
        let http_metrics = web::Data::new(metrics.http().clone());
        let readiness_data = web::Data::new(readiness.clone());
        let db_data = db.map(web::Data::new);
        let json_limit = server.json_body_limit_bytes;
        let header_limits = HeaderLimits::from(server);
        let body_idle_timeout = BodyIdleTimeout(server.body_idle_timeout());
        let in_flight = InFlight::default();
        let in_flight_data = web::Data::new(in_flight.clone());
        let mut main = HttpServer::new(move || {
            let mut app = App::new()
                .app_data(error::json_config(json_limit))
                .app_data(error::path_config())
                .app_data(error::query_config())
                .app_data(error::payload_config(json_limit))
                .app_data(verifier.clone())
                .app_data(http_metrics.clone())
                .app_data(readiness_data.clone())
                .app_data(header_limits)
                .app_data(body_idle_timeout)
                .app_data(in_flight_data.clone());
            if let Some(db) = &db_data {
                app = app.app_data(db.clone());
            }
            app.wrap(ErrorHandlers::new().default_handler(error::problemize_error_response))
                .wrap(from_fn(host_request))
                .route("/healthz", web::get().to(healthz))
                .route("/readyz", web::get().to(readyz))
                // Before `configure`, so a service (the gateway) may replace it.
                .default_service(web::to(error::route_not_found))
                .configure(configure.clone())
        })
        .workers(server.workers.unwrap_or_else(num_workers))
        .shutdown_timeout(server.shutdown_timeout_secs)
        .disable_signals()
        .keep_alive(
            server
                .keep_alive()
                .map_or(KeepAlive::Disabled, KeepAlive::Timeout),
        )
        .client_request_timeout(server.client_request_timeout())
        .client_disconnect_timeout(server.client_disconnect_timeout())
        .tls_handshake_timeout(server.tls.handshake_timeout());
        if let Some((listener, port)) = http_listener {
            main = main.listen(listener).map_err(|source| HostError::Bind {
                address: format!("{}:{port}", server.host),
                source,
            })?;
        }
        if let Some(((listener, port), config)) = tls_listener {
            main = main
                .listen_rustls_0_23(listener, config)
                .map_err(|source| HostError::Bind {
                    address: format!("{}:{port}", server.host),
                    source,
                })?;
        }
        let main = main.run();

        let admin_readiness = web::Data::new(readiness.clone());
        let admin_metrics = web::Data::new(metrics.clone());
        let admin = HttpServer::new(move || {
            App::new()
                .app_data(admin_readiness.clone())
                .app_data(admin_metrics.clone())
                .wrap(ErrorHandlers::new().default_handler(error::problemize_error_response))
                .route("/metrics", web::get().to(metrics_endpoint))
                .route("/healthz", web::get().to(healthz))
                .route("/readyz", web::get().to(readyz))
                .default_service(web::to(error::route_not_found))
        })
        .workers(1)
        .shutdown_timeout(1)
        .disable_signals()
        .listen(admin_listener)
        .map_err(|source| HostError::Bind {
            address: format!("{}:{}", server.admin_host, server.admin_port),
            source,
        })?
        .run();

        tracing::info!(
            service = spec.name,
            http_port,
            https_port = tls_port,
            admin_port,
            "listening"
        );
        Ok(Self {
            name: spec.name,
            http_port,
            tls_port,
            admin_port,
            main,
            admin,
            readiness,
            shutdown: ShutdownHandle::default(),
            drain_delay: server.drain_delay(),
            shutdown_timeout: server.shutdown_timeout(),
            in_flight,
            metrics,
        })
    }

    /// The public port: the plain HTTP one, or the HTTPS one when
    /// `server.http_enabled` is false.
    pub fn port(&self) -> u16 {
        self.http_port.or(self.tls_port).unwrap_or_default()
    }

    /// The plain HTTP public port; `None` when `server.http_enabled` is false.
    pub fn http_port(&self) -> Option<u16> {
        self.http_port
    }

    /// The HTTPS public port; `None` unless `server.tls.enabled`.
    pub fn tls_port(&self) -> Option<u16> {
        self.tls_port
    }

    pub fn admin_port(&self) -> u16 {
        self.admin_port
    }

    /// The registry `/metrics` serves; services add their own metrics here.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    pub fn shutdown_handle(&self) -> ShutdownHandle {
        self.shutdown.clone()
    }

    /// Connects the database (migrating first when configured) and starts
    /// the host: what a service's `build` does.
    pub async fn build<S, F>(
        spec: &'static ServiceSpec,
        settings: &Settings<S>,
        configure: F,
    ) -> Result<Self, HostError>
    where
        S: ServiceSettings,
        F: Fn(&mut web::ServiceConfig) + Send + Clone + 'static,
    {
        let db = connect_database(spec, settings).await?;
        Self::start(spec, settings, db, configure)
    }

    /// Serves until SIGTERM, SIGINT or the shutdown handle, then drains.
    pub async fn run_until_stopped(self) -> Result<(), HostError> {
        let main_handle = self.main.handle();
        let admin_handle = self.admin.handle();
        let mut main = tokio::spawn(self.main);
        let admin = tokio::spawn(self.admin);

        tokio::select! {
            finished = &mut main => {
                self.readiness.start_draining();
                let _ = tokio::time::timeout(ADMIN_STOP_TIMEOUT, admin_handle.stop(true)).await;
                if let Some(db) = &self.readiness.db {
                    db.close();
                }
                return Ok(finished.map_err(std::io::Error::other)??);
            }
            () = shutdown_requested(&self.shutdown) => {}
        }

        tracing::info!(service = self.name, "shutdown requested: draining");
        self.readiness.start_draining();
        tokio::time::sleep(self.drain_delay).await;
        // Stop only once nothing is in flight (see `in_flight`), within the
        // same bound actix gives a graceful stop.
        if tokio::time::timeout(self.shutdown_timeout, self.in_flight.wait_idle())
            .await
            .is_err()
        {
            tracing::warn!(
                service = self.name,
                "requests still in flight at the shutdown timeout"
            );
        }
        // Connections still open then get the same bound again (actix's
        // graceful stop), plus a moment: a worker that does not stop by then
        // is left behind, so shutdown always ends.
        let abort_main = main.abort_handle();
        let stopped = async {
            main_handle.stop(true).await;
            main.await.map_err(std::io::Error::other)
        };
        let finished =
            match tokio::time::timeout(self.shutdown_timeout + WORKER_STOP_GRACE, stopped).await {
                Ok(joined) => joined?,
                Err(_) => {
                    tracing::warn!(
                        service = self.name,
                        "workers did not stop in time; leaving them"
                    );
                    abort_main.abort();
                    Ok(())
                }
            };
        // The admin listener serves only probes and metrics: give it a
        // moment, never let it hold the process up.
        let admin_stopped = async {
            admin_handle.stop(true).await;
            let _ = admin.await;
        };
        if tokio::time::timeout(ADMIN_STOP_TIMEOUT, admin_stopped)
            .await
            .is_err()
        {
            tracing::warn!(
                service = self.name,
                "admin listener did not stop in time; leaving it"
            );
        }
        if let Some(db) = &self.readiness.db {
            db.close();
        }
        tracing::info!(service = self.name, "stopped");
        Ok(finished?)
    }
}

/// Binds a listener whose accepted connections have `TCP_NODELAY` set.
///
/// Nagle's algorithm holds a small write while an earlier one is unacked;
/// the client acks late (delayed ACK, about 40 ms on Linux), so a response
/// that leaves in two writes (head, then body) could take 40 ms more. The
/// option is set on the listening socket, from which the kernel copies it
/// to every socket it accepts (Linux, the BSDs, macOS and Windows do), so it
/// holds from a connection's first byte: plain HTTP, TLS (handshake
/// included) and the admin listener alike, with no per-connection work.
fn bind(host: &str, port: u16) -> Result<(TcpListener, u16), HostError> {
    let address = format!("{host}:{port}");
    let bind_error = |source| HostError::Bind {
        address: address.clone(),
        source,
    };
    let listener = TcpListener::bind(&address).map_err(bind_error)?;
    socket2::SockRef::from(&listener)
        .set_tcp_nodelay(true)
        .map_err(bind_error)?;
    let port = listener.local_addr().map_err(bind_error)?.port();
    Ok((listener, port))
}

fn num_workers() -> usize {
    std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get)
}

async fn shutdown_requested(handle: &ShutdownHandle) {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        () = terminate => {}
        _ = tokio::signal::ctrl_c() => {}
        () = handle.0.notified() => {}
    }
}

/// Liveness: the process answers. Never touches dependencies.
async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "status": "ok" }))
}

/// Readiness: dependencies reachable, schema migrated, not draining.
async fn readyz(readiness: web::Data<Readiness>) -> Result<HttpResponse, Problem> {
    readiness.check().await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "status": "ready" })))
}

async fn metrics_endpoint(metrics: web::Data<Metrics>) -> Result<HttpResponse, Problem> {
    let body = metrics.encode().map_err(Problem::internal)?;
    Ok(HttpResponse::Ok()
        .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
        .body(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_accepted_by_a_bound_listener_send_without_delay() {
        let (listener, port) = bind("127.0.0.1", 0).unwrap();
        let client = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        let (accepted, peer) = listener.accept().unwrap();
        assert_eq!(peer, client.local_addr().unwrap());
        assert!(
            accepted.nodelay().unwrap(),
            "TCP_NODELAY is set on the accepted connection"
        );
    }
}
