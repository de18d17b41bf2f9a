//! `faultline-bench`: the benchmark suite behind `make bench`
//! (docs/benchmarks.md).
//!
//! - `run`: prepares the database, starts the release services, measures,
//!   saves the raw results as JSON and writes the report from them;
//! - `report`: writes the report and charts again from saved results;
//! - `analytics`, `static-gateway`, `ingestion`, `queries`: measure those
//!   sections alone and write them into saved results and the report;
//! - `junit`: writes one generated JUnit report (for trying uploads by hand).

mod flamegraph;
mod junit;
mod nginx;
mod oha;
mod open_loop;
mod report;
mod results;
mod seed;
mod services;
mod suite;
mod svg;

use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::results::BenchResults;

#[derive(Debug, Parser)]
#[command(name = "faultline-bench", about = "Faultline's benchmark suite")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs the suite against release builds and writes results and report.
    Run {
        /// One short run per figure on a small dataset (development).
        #[arg(long, env = "FAULTLINE_BENCH_QUICK", value_parser = clap::builder::FalseyValueParser::new())]
        quick: bool,
        /// Admin connection to the PostgreSQL server (scripts/postgres.sh prints it).
        #[arg(long, env = "FAULTLINE_TEST_ADMIN_URL", hide_env_values = true)]
        admin_url: String,
        /// Where the release service binaries are.
        #[arg(long, default_value = "target/release")]
        bin_dir: PathBuf,
        #[arg(long, default_value = ".faultline/tools/bin/oha")]
        oha: PathBuf,
        #[arg(long, default_value = "/usr/sbin/nginx")]
        nginx: PathBuf,
        /// First port of the block (services base..base+6, nginx base+10, the static-upstream section base+11..base+13, admin ports base+100..).
        #[arg(long, default_value_t = 7800)]
        base_port: u16,
        /// Seconds the script spent on installs and builds before the suite.
        #[arg(long)]
        setup_secs: Option<f64>,
        /// Seconds the one-time tool installs took when they happened.
        #[arg(long)]
        install_secs: Option<f64>,
        /// The command line to state in the report.
        #[arg(long, default_value = "make bench")]
        command: String,
        /// Directory for results/latest.json, REPORT.md and charts/.
        #[arg(long, default_value = "bench")]
        out_dir: PathBuf,
    },
    /// Writes REPORT.md and the charts from a saved results file.
    Report {
        #[arg(long, default_value = "bench/results/latest.json")]
        results: PathBuf,
        #[arg(long, default_value = "bench")]
        out_dir: PathBuf,
    },
    /// Measures failure grouping alone (CPU only, no services) and writes
    /// it into a saved results file and the report.
    Grouping {
        #[arg(long, default_value = "bench/results/latest.json")]
        results: PathBuf,
        #[arg(long, default_value = "bench")]
        out_dir: PathBuf,
        #[arg(long, env = "FAULTLINE_BENCH_QUICK", value_parser = clap::builder::FalseyValueParser::new())]
        quick: bool,
    },
    /// Measures the analytics dashboards, the quality gate, the rollup lag
    /// and the web pages alone (seeding or reusing the dataset, starting
    /// the release services), and writes them into a saved results file
    /// and the report.
    Analytics {
        #[command(flatten)]
        section: SectionArgs,
        /// A note for the report's sections (say when the machine was shared).
        #[arg(long, env = "FAULTLINE_BENCH_NOTE")]
        note: Option<String>,
    },
    /// Measures the gateway in front of a static upstream alone (section
    /// 1b; seeding or reusing the dataset, starting the release services)
    /// and writes it into a saved results file and the report.
    StaticGateway {
        #[command(flatten)]
        section: SectionArgs,
        #[arg(long, default_value = ".faultline/tools/bin/oha")]
        oha: PathBuf,
        #[arg(long, default_value = "/usr/sbin/nginx")]
        nginx: PathBuf,
    },
    /// Measures ingestion alone (section 2: single uploads of every size,
    /// sustained ingestion, the large report; seeding or reusing the
    /// dataset, starting the release services) and writes it into a saved
    /// results file and the report.
    Ingestion {
        #[command(flatten)]
        section: SectionArgs,
    },
    /// Measures the query goals and the cost of row level security alone
    /// (sections 3 and 4; seeding or reusing the dataset, starting the
    /// release services) and writes them into a saved results file and the
    /// report.
    Queries {
        #[command(flatten)]
        section: SectionArgs,
        #[arg(long, default_value = ".faultline/tools/bin/oha")]
        oha: PathBuf,
    },
    /// Writes a generated JUnit report.
    Junit {
        #[arg(long)]
        testcases: u64,
        /// Bytes of system-out per test case.
        #[arg(long, default_value_t = 0)]
        system_out_bytes: usize,
        #[arg(long)]
        out: PathBuf,
    },
}

/// What every command measuring sections on their own takes.
#[derive(Debug, clap::Args)]
struct SectionArgs {
    /// The saved results the sections are written into.
    #[arg(long, default_value = "bench/results/latest.json")]
    results: PathBuf,
    #[arg(long, default_value = "bench")]
    out_dir: PathBuf,
    #[arg(long, env = "FAULTLINE_BENCH_QUICK", value_parser = clap::builder::FalseyValueParser::new())]
    quick: bool,
    #[arg(long, env = "FAULTLINE_TEST_ADMIN_URL", hide_env_values = true)]
    admin_url: String,
    #[arg(long, default_value = "target/release")]
    bin_dir: PathBuf,
    #[arg(long, env = "FAULTLINE_BENCH_BASE_PORT", default_value_t = 7800)]
    base_port: u16,
}

impl SectionArgs {
    /// The suite's configuration for these sections; `tools`: oha and
    /// nginx, for the sections that load the gateway.
    fn config(
        &self,
        root: &std::path::Path,
        tools: Option<(PathBuf, PathBuf)>,
        command: &str,
    ) -> suite::SuiteConfig {
        let (oha, nginx) = tools.unwrap_or_default();
        suite::SuiteConfig {
            root: root.to_owned(),
            bin_dir: root.join(&self.bin_dir),
            oha: if oha.as_os_str().is_empty() {
                oha
            } else {
                root.join(oha)
            },
            nginx,
            admin_url: self.admin_url.clone(),
            quick: self.quick,
            base_port: self.base_port,
            command: command.to_owned(),
            setup_secs: None,
            install_secs: None,
        }
    }
}

/// Saved results to measure a section into. Read before anything starts,
/// so a broken file stops the command at once; none yet is an empty one.
fn read_results(path: &std::path::Path) -> anyhow::Result<BenchResults> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            serde_json::from_str(&text).with_context(|| format!("reading {}", path.display()))
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(BenchResults::default()),
        Err(error) => Err(error).context(format!("reading {}", path.display())),
    }
}

fn save_results(path: &std::path::Path, results: &BenchResults) -> anyhow::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(path, serde_json::to_string_pretty(results)?)?;
    Ok(())
}

fn write_report(results: &BenchResults, out_dir: &std::path::Path) -> anyhow::Result<()> {
    report::write(results, &out_dir.join("REPORT.md"), &out_dir.join("charts"))
}

/// The commit a section alone was measured at, and when.
#[derive(Debug, Clone)]
struct Stamp {
    commit: String,
    measured_at: String,
}

impl Stamp {
    fn now(root: &std::path::Path) -> Self {
        Self {
            commit: suite::git_commit(root),
            measured_at: chrono::Utc::now().to_rfc3339(),
        }
    }

    fn into_parts(self) -> (Option<String>, Option<String>) {
        (Some(self.commit), Some(self.measured_at))
    }
}

/// Saves sections measured on their own into the results and the
/// report: their old missing entries go, the other sections' stay. Fails
/// when part of them could not be measured.
fn merge_sections(
    mut results: BenchResults,
    sections: &[&str],
    missing: Vec<results::Missing>,
    args: &SectionArgs,
) -> anyhow::Result<ExitCode> {
    results.missing.retain(|entry| {
        !sections
            .iter()
            .any(|section| entry.section.starts_with(section))
    });
    let failed = !missing.is_empty();
    results.missing.extend(missing);
    save_results(&args.results, &results)?;
    write_report(&results, &args.out_dir)?;
    Ok(if failed {
        eprintln!(
            "bench: some {} measurements could not be taken",
            sections.join(" and ")
        );
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

async fn main_inner() -> anyhow::Result<ExitCode> {
    match Cli::parse().command {
        Command::Run {
            quick,
            admin_url,
            bin_dir,
            oha,
            nginx,
            base_port,
            setup_secs,
            install_secs,
            command,
            out_dir,
        } => {
            let root = std::env::current_dir()?;
            let results = suite::run(suite::SuiteConfig {
                root: root.clone(),
                bin_dir: root.join(bin_dir),
                oha: root.join(oha),
                nginx,
                admin_url,
                quick,
                base_port,
                command,
                setup_secs,
                install_secs,
            })
            .await?;
            save_results(&out_dir.join("results/latest.json"), &results)?;
            write_report(&results, &out_dir)?;
            eprintln!(
                "bench: wrote {} in {:.0} s",
                out_dir.join("REPORT.md").display(),
                results.meta.duration_secs
            );
            if results.missing.is_empty() {
                Ok(ExitCode::SUCCESS)
            } else {
                eprintln!(
                    "bench: {} measurement(s) could not be taken",
                    results.missing.len()
                );
                Ok(ExitCode::FAILURE)
            }
        }
        Command::Report { results, out_dir } => {
            let text = std::fs::read_to_string(&results)
                .with_context(|| format!("reading {}", results.display()))?;
            let results: BenchResults = serde_json::from_str(&text)?;
            write_report(&results, &out_dir)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Grouping {
            results: path,
            out_dir,
            quick,
        } => {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("reading {}", path.display()))?;
            let mut results: BenchResults = serde_json::from_str(&text)?;
            let mut grouping = suite::grouping_section(quick);
            grouping.commit = Some(suite::git_commit(&std::env::current_dir()?));
            grouping.measured_at = Some(chrono::Utc::now().to_rfc3339());
            results.grouping = Some(grouping);
            save_results(&path, &results)?;
            write_report(&results, &out_dir)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Analytics { section, note } => {
            let mut results = read_results(&section.results)?;
            let root = std::env::current_dir()?;
            let (analytics, pages, missing) =
                suite::analytics_only(section.config(&root, None, "faultline-bench analytics"))
                    .await?;
            let stamp = Stamp::now(&root);
            results.analytics = analytics.map(|mut analytics| {
                (analytics.commit, analytics.measured_at) = stamp.clone().into_parts();
                analytics.note.clone_from(&note);
                analytics
            });
            results.pages = pages.map(|mut pages| {
                (pages.commit, pages.measured_at) = stamp.clone().into_parts();
                pages.note.clone_from(&note);
                pages
            });
            merge_sections(results, &["analytics", "pages"], missing, &section)
        }
        Command::StaticGateway {
            section,
            oha,
            nginx,
        } => {
            let mut results = read_results(&section.results)?;
            let root = std::env::current_dir()?;
            let config =
                section.config(&root, Some((oha, nginx)), "faultline-bench static-gateway");
            let (figures, missing) = suite::static_gateway_only(config).await?;
            let stamp = Stamp::now(&root);
            results.static_gateway = figures.map(|mut figures| {
                (figures.commit, figures.measured_at) = stamp.clone().into_parts();
                figures
            });
            merge_sections(results, &["static_gateway"], missing, &section)
        }
        Command::Ingestion { section } => {
            let mut results = read_results(&section.results)?;
            let root = std::env::current_dir()?;
            let (ingestion, missing) =
                suite::ingestion_only(section.config(&root, None, "faultline-bench ingestion"))
                    .await?;
            let stamp = Stamp::now(&root);
            results.ingestion = ingestion.map(|mut ingestion| {
                (ingestion.commit, ingestion.measured_at) = stamp.clone().into_parts();
                ingestion
            });
            merge_sections(results, &["ingestion"], missing, &section)
        }
        Command::Queries { section, oha } => {
            let mut results = read_results(&section.results)?;
            let root = std::env::current_dir()?;
            let config = section.config(
                &root,
                Some((oha, PathBuf::new())),
                "faultline-bench queries",
            );
            let (queries, rls, missing) = suite::queries_only(config).await?;
            let stamp = Stamp::now(&root);
            results.queries = queries.map(|mut queries| {
                (queries.commit, queries.measured_at) = stamp.into_parts();
                queries
            });
            results.rls = rls;
            merge_sections(results, &["queries", "rls"], missing, &section)
        }
        Command::Junit {
            testcases,
            system_out_bytes,
            out,
        } => {
            let mut file = BufWriter::new(std::fs::File::create(&out)?);
            let counts = junit::write_report(
                junit::ReportSpec {
                    testcases,
                    system_out_bytes,
                },
                &mut file,
            )?;
            file.flush()?;
            eprintln!(
                "wrote {}: {} testcases, {} failures, {} skipped",
                out.display(),
                counts.testcases,
                counts.failures,
                counts.skipped
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    match main_inner().await {
        Ok(code) => code,
        Err(error) => {
            eprintln!("faultline-bench: {error:#}");
            ExitCode::FAILURE
        }
    }
}
