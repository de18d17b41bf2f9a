//! The `faultline` command; everything happens in the library.

use std::process::ExitCode;

use clap::Parser;
use faultline_cli::cli::Cli;
use faultline_cli::error::Exit;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Read once, here: CI detection and the config file's location come
    // from these; values that are not UTF-8 cannot be any of them.
    let env = std::env::vars_os()
        .filter_map(|(key, value)| Some((key.into_string().ok()?, value.into_string().ok()?)))
        .collect();
    let cwd = match std::env::current_dir() {
        Ok(cwd) => cwd,
        Err(error) => {
            eprintln!("faultline: error: cannot read the working directory: {error}");
            return Exit::Error.into();
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("faultline: error: cannot start: {error}");
            return Exit::Error.into();
        }
    };
    runtime.block_on(faultline_cli::run(cli, env, cwd)).into()
}
