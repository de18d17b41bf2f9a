//! The command line: global connection flags (each with its `FAULTLINE_*`
//! variable) and one subcommand per task (docs/cli.md).

use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::config::GivenSettings;

#[derive(Debug, Parser)]
#[command(
    name = "faultline",
    version,
    about = "Upload test reports to Faultline and ask it about your builds, from CI or a terminal.",
    after_help = "Exit codes: 0 ok, 1 quality gate failed, 2 error or timeout, 3 API key refused, \
                  4 server unreachable, 5 no report files, 6 report refused."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    #[command(flatten)]
    pub connection: GivenSettings,
    /// Attempts per request on connection failures, 429 and 5xx.
    #[arg(long, default_value_t = 6, global = true, value_parser = clap::value_parser!(u32).range(1..=20))]
    pub attempts: u32,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Upload test reports to a build (created, or found by job and build
    /// id), then finish it and print a summary.
    Upload(UploadArgs),
    /// Wait for the build's quality gate and print each rule's result.
    Gate(GateArgs),
    /// The project's quarantined tests, for a test runner to skip.
    Quarantine(QuarantineArgs),
    /// Recent failures.
    Failures(FailuresArgs),
    /// Flaky and broken tests.
    Flaky(FlakyArgs),
}

/// Which build: flags, else what the CI system says.
#[derive(Debug, Args, Clone, Default)]
pub struct BuildArgs {
    /// The CI job's name (the build is found by job and build id).
    #[arg(long)]
    pub job: Option<String>,
    /// The build's id in the CI system (its `external_id`).
    #[arg(long = "build")]
    pub build: Option<String>,
}

#[derive(Debug, Args)]
pub struct UploadArgs {
    #[command(flatten)]
    pub build: BuildArgs,
    /// The build's number in the CI system.
    #[arg(long)]
    pub number: Option<i64>,
    /// The branch built (the flaky-test monitor watches one branch).
    #[arg(long)]
    pub branch: Option<String>,
    /// The commit's hexadecimal sha.
    #[arg(long)]
    pub commit: Option<String>,
    /// A link to the build in the CI system.
    #[arg(long = "build-url")]
    pub build_url: Option<String>,
    /// Leave the build running (more uploads to come from other steps).
    #[arg(long)]
    pub no_finish: bool,
    /// Uncompressed bytes of reports sent in one request.
    #[arg(long, default_value_t = 64 * 1024 * 1024)]
    pub max_batch_bytes: u64,
    /// Report files sent in one request (the server takes up to 10,000).
    #[arg(long, default_value_t = 5_000, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub max_batch_files: u64,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
    /// Report files, directories (searched for *.xml) or glob patterns
    /// (`**/TEST-*.xml`).
    #[arg(required = true)]
    pub reports: Vec<String>,
}

#[derive(Debug, Args)]
pub struct GateArgs {
    #[command(flatten)]
    pub build: BuildArgs,
    /// The build's Faultline id (printed by `upload`), instead of job and build.
    #[arg(long)]
    pub build_id: Option<String>,
    /// How long to wait for a pending gate (`300s`, `5m`); 0 asks once.
    #[arg(long, default_value = "300s", value_parser = parse_duration)]
    pub wait: Duration,
    /// The time between two questions while the gate is pending.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    pub interval: Duration,
    /// Print the gate's answer as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum QuarantineFormat {
    /// A JUnit XML report with every quarantined test skipped.
    JunitSkip,
    /// One test id a line.
    Text,
    /// The server's JSON list.
    Json,
}

#[derive(Debug, Args)]
pub struct QuarantineArgs {
    #[arg(long, value_enum, default_value_t = QuarantineFormat::Text)]
    pub format: QuarantineFormat,
}

#[derive(Debug, Args)]
pub struct FailuresArgs {
    /// How far back (`7d`, `12h`, `30m`).
    #[arg(long, default_value = "7d", value_parser = parse_duration)]
    pub since: Duration,
    /// At most this many failures.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub limit: u64,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct FlakyArgs {
    #[arg(long)]
    pub json: bool,
}

/// `300`, `300s`, `5m`, `12h`, `7d`, `200ms`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration such as 300s, 5m, 12h or 7d"))?;
    let seconds = match unit {
        "ms" => return Ok(Duration::from_millis(number)),
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("`{text}`: the unit is ms, s, m, h or d")),
    };
    Ok(Duration::from_secs(number.saturating_mul(seconds)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_seconds_minutes_hours_and_days() {
        assert_eq!(parse_duration("300s"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("300"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(604_800)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert!(parse_duration("5 weeks").is_err());
        assert!(parse_duration("m").is_err());
    }

    #[test]
    fn the_command_line_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
