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
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the service until SIGTERM (migrating first if `database.migrate_on_start`).
    Serve,
    /// Apply pending migrations as the schema owner, then exit.
    Migrate,
    /// Load and validate the configuration, then exit.
    CheckConfig,
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
    let cli = Cli::parse();
    let settings = match config::load::<S>(spec) {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("{}: {}", spec.name, error_chain(&error));
            return ExitCode::from(2);
        }
    };
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
            Command::CheckConfig => Ok(()),
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
