//! Everything that stops a command, each with the exit code a pipeline can
//! branch on (docs/cli.md, "Exit codes"). Messages are one line: a CI log
//! shows the last line of a failed step, so it has to say what went wrong
//! and where.

use std::process::ExitCode;

/// The documented exit codes. 0 and 1 are outcomes, the rest errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// The command did what it was asked (and a gate passed).
    Success = 0,
    /// The quality gate failed.
    GateFailed = 1,
    /// Any other error: bad usage or configuration, an unexpected answer,
    /// a gate still pending when `--wait` ran out.
    Error = 2,
    /// The server refused the API key, or the key does not reach the project.
    Credentials = 3,
    /// The server could not be reached, even after retries.
    Unreachable = 4,
    /// No report file matched what was given.
    NoReports = 5,
    /// The server refused a report (malformed, not JUnit, too large).
    ReportRefused = 6,
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> Self {
        ExitCode::from(exit as u8)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{0}")]
    Usage(String),
    #[error("cannot read the config file {path}: {reason}")]
    ConfigFile { path: String, reason: String },
    #[error("the server refused the API key: {0}")]
    Credentials(String),
    #[error("cannot reach the Faultline server at {url} ({source_of_url}): {reason}")]
    Unreachable {
        url: String,
        source_of_url: String,
        reason: String,
    },
    #[error("no report files found for {}", patterns.join(", "))]
    NoReports { patterns: Vec<String> },
    #[error("the server refused the report {file}: {reason}")]
    ReportRefused { file: String, reason: String },
    #[error("cannot read {path}: {reason}")]
    ReadFile { path: String, reason: String },
    #[error("{0}")]
    Server(String),
    #[error("{0}")]
    Timeout(String),
}

impl CliError {
    pub fn exit(&self) -> Exit {
        match self {
            Self::Credentials(_) => Exit::Credentials,
            Self::Unreachable { .. } => Exit::Unreachable,
            Self::NoReports { .. } => Exit::NoReports,
            Self::ReportRefused { .. } => Exit::ReportRefused,
            Self::Usage(_)
            | Self::ConfigFile { .. }
            | Self::ReadFile { .. }
            | Self::Server(_)
            | Self::Timeout(_) => Exit::Error,
        }
    }
}
