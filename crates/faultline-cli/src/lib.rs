//! `faultline`, the client CI pipelines run against a Faultline server:
//! uploads test reports in few requests, asks the quality gate, and reads
//! quarantined, failing and flaky tests. `main.rs` only parses the command
//! line and exits with what [`run`] returns; docs/cli.md is the manual.

pub mod batch;
pub mod ci;
pub mod cli;
pub mod client;
pub mod commands;
pub mod config;
pub mod discovery;
pub mod error;
pub mod output;

use std::collections::HashMap;
use std::path::PathBuf;

use crate::cli::{Cli, Command};
use crate::client::{ApiClient, RetryPolicy};
use crate::commands::Context;
use crate::config::Connection;
use crate::error::{CliError, Exit};
use crate::output::Output;

/// Runs the parsed command line in an environment (`env`, the working
/// directory `cwd`); errors are printed as one line on stderr.
pub async fn run(cli: Cli, env: HashMap<String, String>, cwd: PathBuf) -> Exit {
    let mut out = Output::new();
    match execute(cli, env, cwd).await {
        Ok(exit) => exit,
        Err(error) => {
            out.note(&format!("error: {error}"));
            error.exit()
        }
    }
}

async fn execute(cli: Cli, env: HashMap<String, String>, cwd: PathBuf) -> Result<Exit, CliError> {
    let connection = Connection::resolve(&cli.global.connection, &env, &cwd)?;
    let retry = RetryPolicy {
        attempts: cli.global.attempts,
        ..RetryPolicy::default()
    };
    let mut ctx = Context {
        client: ApiClient::new(connection, retry)?,
        out: Output::new(),
        ci: ci::detect(&env),
        cwd,
    };
    match &cli.command {
        Command::Upload(args) => commands::upload::run(&mut ctx, args).await,
        Command::Gate(args) => commands::gate::run(&mut ctx, args).await,
        Command::Quarantine(args) => commands::quarantine::run(&mut ctx, args).await,
        Command::Failures(args) => commands::reads::failures(&mut ctx, args).await,
        Command::Flaky(args) => commands::reads::flaky(&mut ctx, args).await,
    }
}
