//! The command line every service binary shares: `serve`, `migrate`,
//! `check-config`. A service's `main.rs` only names itself and how to build
//! its application.

use std::future::Future;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::ServiceSpec;
use crate::config::{self, ServiceSettings, Settings};
use crate::error::error_chain;
use crate::telemetry;

#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli<X: Subcommand> {
    #[command(subcommand)]
    command: Command<X>,
}

/// For services with no commands of their own.
#[derive(Debug, Subcommand)]
pub enum NoCommands {}

#[derive(Debug, Subcommand)]
enum Command<X: Subcommand> {
    /// Run the service until SIGTERM (migrating first if `database.migrate_on_start`).
    Serve,
    /// Apply pending migrations as the schema owner, then exit.
    Migrate,
    /// Load and validate the configuration, then exit.
    CheckConfig,
    /// Probe this service's admin `/healthz` (for container health checks,
    /// which have no shell or curl); exit 0 when it answers 200.
    Healthcheck,
    #[command(flatten)]
    Service(X),
}

/// Runs the command given on the command line. `serve` calls `run` with the
/// loaded settings; it should build the application and serve until stopped.
pub fn main<S, F, Fut, E>(spec: &'static ServiceSpec, run: F) -> ExitCode
where
    S: ServiceSettings,
    F: FnOnce(Settings<S>) -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: std::error::Error + 'static,
{
    main_with::<S, NoCommands, _, _, _, _, _>(
        spec,
        run,
        |command, _| async move { match command {} },
    )
}

/// [`main`] for services with commands of their own (`X`), which `service`
/// runs with the loaded settings, telemetry on.
pub fn main_with<S, X, F, Fut, E, G, GFut>(
    spec: &'static ServiceSpec,
    run: F,
    service: G,
) -> ExitCode
where
    S: ServiceSettings,
    X: Subcommand + std::fmt::Debug,
    F: FnOnce(Settings<S>) -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: std::error::Error + 'static,
    G: FnOnce(X, Settings<S>) -> GFut,
    GFut: Future<Output = Result<(), String>>,
{
    let cli = Cli::<X>::parse();
    let settings = match config::load::<S>(spec) {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("{}: {}", spec.name, error_chain(&error));
            return ExitCode::from(2);
        }
    };
    if matches!(cli.command, Command::Healthcheck) {
        return match probe_health(settings.server.admin_port) {
            Ok(()) => ExitCode::SUCCESS,
            Err(reason) => {
                eprintln!("{}: unhealthy: {reason}", spec.name);
                ExitCode::FAILURE
            }
        };
    }
    if matches!(cli.command, Command::CheckConfig) {
        eprintln!(
            "{}: configuration is valid ({:?})",
            spec.name, settings.environment
        );
        return ExitCode::SUCCESS;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("{}: cannot start the async runtime: {error}", spec.name);
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let _telemetry = match telemetry::init(spec.name, &settings.telemetry) {
            Ok(guard) => guard,
            Err(error) => {
                eprintln!("{}: {}", spec.name, error_chain(&error));
                return ExitCode::FAILURE;
            }
        };
        let outcome = match cli.command {
            Command::Serve => run(settings).await.map_err(|e| error_chain(&e)),
            Command::Migrate => migrate(spec, &settings).await,
            Command::CheckConfig | Command::Healthcheck => Ok(()),
            Command::Service(command) => service(command, settings).await,
        };
        match outcome {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                tracing::error!(error, "{} failed", spec.name);
                ExitCode::FAILURE
            }
        }
    })
}

async fn migrate<S: ServiceSettings>(
    spec: &'static ServiceSpec,
    settings: &Settings<S>,
) -> Result<(), String> {
    let Some(database) = &settings.database else {
        tracing::info!("{} has no schema to migrate", spec.name);
        return Ok(());
    };
    let report = crate::server::migrate_schema(spec, database)
        .await
        .map_err(|e| error_chain(&e))?;
    tracing::info!(applied = ?report.applied, version = report.current_version, "migrations done");
    Ok(())
}

/// A minimal HTTP/1.0 GET, so the probe needs neither a runtime nor a client.
fn probe_health(admin_port: u16) -> Result<(), String> {
    use std::io::{Read, Write};
    use std::time::Duration;

    let address = std::net::SocketAddr::from(([127, 0, 0, 1], admin_port));
    let mut stream = std::net::TcpStream::connect_timeout(&address, Duration::from_secs(2))
        .map_err(|e| format!("cannot connect to {address}: {e}"))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(2)))
        .map_err(|e| e.to_string())?;
    stream
        .write_all(b"GET /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .map_err(|e| e.to_string())?;
    let mut head = [0_u8; 12];
    stream.read_exact(&mut head).map_err(|e| e.to_string())?;
    if head.starts_with(b"HTTP/1.0 200") || head.starts_with(b"HTTP/1.1 200") {
        Ok(())
    } else {
        Err(format!("answered {}", String::from_utf8_lossy(&head)))
    }
}
