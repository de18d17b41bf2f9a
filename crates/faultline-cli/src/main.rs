//! The `faultline` command; everything happens in the library.

use std::process::ExitCode;

use clap::Parser;
use faultline_cli::cli::Cli;
use faultline_cli::error::Exit;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) if !error.use_stderr() => {
            // --help and --version: printed as clap prints them.
            let _ = error.print();
            return Exit::Success.into();
        }
        Err(error) => {
            eprintln!("faultline: error: {}", usage_error(&error.to_string()));
            return Exit::Error.into();
        }
    };
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

/// clap's message without its usage block, on one line.
fn usage_error(message: &str) -> String {
    message
        .lines()
        .take_while(|line| !line.starts_with("Usage:") && !line.starts_with("For more information"))
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
        .trim_start_matches("error: ")
        .to_owned()
}
