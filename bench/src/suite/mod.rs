//! The measured suite: prepares the database, starts the release services,
//! runs each section and collects what it measured. A section that fails is
//! recorded as missing (and the run exits non-zero); the others still run.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::json;
use tenant_core::context::{
    InternalTokenIssuer, Principal, PrincipalKind, ProjectAccess, TenantContext,
};
use uuid::Uuid;

use crate::junit::{self, ReportSpec};
use crate::nginx::Nginx;
use crate::oha::{Load, Oha};
use crate::results::*;
use crate::seed::{self, QueryTargets};
use crate::services::{self, Platform};
use metrics::parse_metrics;

mod analytics;
mod cache_curves;
mod grouping;
mod ingestion;
mod metrics;
mod pages;
mod plan;
mod read_curves;
mod reads;
mod static_gateway;

pub use analytics::analytics_only;
pub use grouping::grouping_section;
pub use ingestion::ingestion_only;
use plan::Plan;
pub use reads::queries_only;
pub use static_gateway::static_gateway_only;

#[derive(Debug, Clone)]
pub struct SuiteConfig {
    pub root: PathBuf,
    pub bin_dir: PathBuf,
    pub oha: PathBuf,
    pub nginx: PathBuf,
    pub admin_url: String,
    pub quick: bool,
    pub base_port: u16,
    pub command: String,
    pub setup_secs: Option<f64>,
    pub install_secs: Option<f64>,
}

const RUN_DB: &str = "faultline_bench";
const DEFAULT_BASE_PORT: u16 = 7800;
const TARGETS: [&str; 3] = ["direct", "nginx", "gateway"];
const BENCH_EMAIL: &str = "bench@example.com";
const BENCH_PASSWORD: &str = "bench-password-not-secret-1";

struct Ctx {
    config: SuiteConfig,
    plan: Plan,
    /// Absent when only the sections that need no oha run.
    oha: Option<Oha>,
    platform: Platform,
    http: reqwest::Client,
    issuer: InternalTokenIssuer,
    raw_dir: PathBuf,
    run_db: String,
    user_id: Uuid,
    access_token: String,
    targets: QueryTargets,
    /// Peak RSS per service over the suite (MB).
    peaks: HashMap<&'static str, f64>,
}

/// The benchmark's databases: `faultline_bench_seed` (cached) and
/// `faultline_bench` (this run's copy) on the default port block, each
/// suffixed with the block's first port otherwise, so two suites on
/// different blocks of one PostgreSQL never drop each other's databases.
fn database_names(quick: bool, base_port: u16) -> (String, String) {
    let suffix = if base_port == DEFAULT_BASE_PORT {
        String::new()
    } else {
        format!("_{base_port}")
    };
    let seed = if quick {
        format!("faultline_bench_seed_quick{suffix}")
    } else {
        format!("faultline_bench_seed{suffix}")
    };
    (seed, format!("{RUN_DB}{suffix}"))
}

/// Prepares the database, starts the platform and signs the benchmark
/// user up: what every measured section needs. `oha` is located only
/// when the sections that use it will run.
async fn start(
    config: SuiteConfig,
    with_oha: bool,
) -> anyhow::Result<(Ctx, seed::Prepared, HashMap<&'static str, f64>)> {
    let plan = Plan::for_mode(config.quick);
    let oha = if with_oha {
        Some(Oha::locate(&config.oha).await?)
    } else {
        None
    };
    let (seed_db, run_db) = database_names(config.quick, config.base_port);
    let prepared = seed::prepare(
        &config.root,
        &config.bin_dir,
        &config.admin_url,
        &seed_db,
        &run_db,
        &plan.dataset,
    )
    .await
    .context("preparing the benchmark database")?;
    let targets = seed::query_targets(&config.admin_url, &run_db).await?;

    eprintln!(
        "bench: starting the release services on {}..",
        config.base_port
    );
    let platform = Platform::start(
        &config.bin_dir,
        &services::log_dir(&config.root),
        config.base_port,
        &run_db,
    )
    .await?;
    let settings: tenant_core::config::Settings = tenant_core::config::load_with_overrides(
        &tenant_core::ServiceSpec {
            name: "faultline-bench",
            schema: None,
            migrations: &[],
        },
        &[("environment", "dev".to_owned())],
    )?;
    let issuer = InternalTokenIssuer::new(&settings.internal_token)?;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(600))
        .build()?;
    let raw_dir = config.root.join("bench/results/raw");
    let _ = std::fs::remove_dir_all(&raw_dir);

    let mut ctx = Ctx {
        config,
        plan,
        oha,
        platform,
        http,
        issuer,
        raw_dir,
        run_db,
        user_id: Uuid::nil(),
        access_token: String::new(),
        targets,
        peaks: HashMap::new(),
    };

    // Idle: the services after start, settled, before any load.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut idle = HashMap::new();
    for service in &ctx.platform.services {
        let (rss, _) = services::rss_mb(service.child.id())?;
        idle.insert(service.name, rss);
        services::reset_peak(service.child.id())?;
    }

    ctx.sign_up().await.context("creating the benchmark user")?;
    Ok((ctx, prepared, idle))
}

pub async fn run(config: SuiteConfig) -> anyhow::Result<BenchResults> {
    let started = Instant::now();
    let plan = Plan::for_mode(config.quick);
    let mut results = BenchResults {
        meta: Meta {
            started_at: chrono::Utc::now().to_rfc3339(),
            commit: git_commit(&config.root),
            command: config.command.clone(),
            quick: config.quick,
            machine: machine(),
            nginx_version: Nginx::version(&config.nginx),
            runs_per_figure: plan.runs,
            run_secs: plan.secs,
            connections: plan.connections,
            setup_secs: config.setup_secs,
            install_secs: config.install_secs,
            ..Meta::default()
        },
        ..BenchResults::default()
    };
    let (mut ctx, prepared, idle) = start(config, true).await?;
    results.meta.oha_version = ctx.oha()?.version().to_owned();
    results.meta.seed_secs = prepared.seed_secs;
    results.meta.dataset = prepared.dataset.clone();

    let mut missing = Vec::new();
    let mut record = |section: &str, error: anyhow::Error| {
        missing.push(not_measured(section, &error));
    };

    eprintln!("bench: failure grouping");
    results.grouping = Some(grouping_section(ctx.config.quick));

    eprintln!("bench: gateway overhead");
    let before = ctx.gateway_metrics().await;
    match ctx.gateway_section().await {
        Ok(gateway) => results.gateway = Some(gateway),
        Err(error) => record("gateway", error),
    }
    match (before, ctx.gateway_metrics().await) {
        (Ok(before), Ok(after)) => {
            let delta = |name: &str| {
                after.get(name).copied().unwrap_or(0.0) - before.get(name).copied().unwrap_or(0.0)
            };
            results.caches = Some(CacheResults {
                token_hits: delta("gateway_token_cache_hits_total") as u64,
                token_misses: delta("gateway_token_cache_misses_total") as u64,
                access_hits: delta("gateway_access_cache_hits_total") as u64,
                access_misses: delta("gateway_access_cache_misses_total") as u64,
            });
        }
        (Err(error), _) | (_, Err(error)) => record("caches", error),
    }
    ctx.sample_peaks();

    eprintln!("bench: the gateway in front of a static upstream");
    match ctx.static_gateway_section().await {
        Ok(figures) => {
            for entry in figures.missing_parts() {
                record(&entry.section, anyhow::anyhow!(entry.reason));
            }
            results.static_gateway = Some(figures);
        }
        Err(error) => record("static_gateway", error),
    }

    eprintln!("bench: queries");
    match ctx.query_section().await {
        Ok(queries) => results.queries = Some(queries),
        Err(error) => record("queries", error),
    }
    ctx.sample_peaks();

    eprintln!("bench: RLS cost");
    match ctx.rls_section().await {
        Ok(rls) => results.rls = Some(rls),
        Err(error) => record("rls", error),
    }

    eprintln!("bench: ingestion");
    match ctx.ingestion_section().await {
        Ok(ingestion) => {
            for entry in ingestion.missing_parts() {
                record(&entry.section, anyhow::anyhow!(entry.reason));
            }
            results.ingestion = Some(ingestion);
        }
        Err(error) => record("ingestion", error),
    }

    let mut analytics_missing = Vec::new();
    let (analytics, pages) = ctx
        .analytics_sections(&prepared, &mut analytics_missing)
        .await;
    results.analytics = analytics;
    results.pages = pages;
    for entry in analytics_missing {
        record(&entry.section, anyhow::anyhow!(entry.reason));
    }
    ctx.sample_peaks();

    // Last: it adds projects the sections above would read.
    eprintln!("bench: how read cost grows");
    match ctx.read_curves().await {
        Ok(curves) => results.curves = Some(curves),
        Err(error) => record("curves", error),
    }

    if let Err(error) = ctx.platform.check_alive() {
        record("resources", error);
    } else {
        results.resources = Some(ResourceResults {
            services: ctx
                .platform
                .services
                .iter()
                .map(|service| ServiceResources {
                    name: service.name.to_owned(),
                    start_to_ready_ms: service.start_to_ready_ms,
                    idle_rss_mb: idle.get(service.name).copied().unwrap_or(f64::NAN),
                    peak_rss_mb: ctx.peaks.get(service.name).copied().unwrap_or(f64::NAN),
                })
                .collect(),
        });
    }
    ctx.platform.stop();
    results.missing = missing;
    results.meta.duration_secs = started.elapsed().as_secs_f64();
    Ok(results)
}

impl Ctx {
    fn oha(&self) -> anyhow::Result<&Oha> {
        self.oha.as_ref().context("oha is not set up for this run")
    }

    fn gateway_url(&self, path: &str) -> anyhow::Result<String> {
        self.platform.url("gateway", path)
    }

    fn raw(&self, name: &str) -> PathBuf {
        self.raw_dir.join(format!("{name}.json"))
    }

    async fn sign_up(&mut self) -> anyhow::Result<()> {
        let response = self
            .http
            .post(self.gateway_url("/api/v1/auth/signup")?)
            .json(&json!({
                "email": BENCH_EMAIL,
                "password": BENCH_PASSWORD,
                "display_name": "Bench",
            }))
            .send()
            .await?;
        let status = response.status();
        let body: serde_json::Value = response.json().await?;
        if !status.is_success() {
            bail!("sign-up answered {status}: {body}");
        }
        self.user_id = body["id"]
            .as_str()
            .and_then(|id| id.parse().ok())
            .context("sign-up answer without an id")?;
        seed::grant_memberships(&self.config.admin_url, &self.run_db, self.user_id).await?;
        self.log_in().await
    }

    async fn log_in(&mut self) -> anyhow::Result<()> {
        let response = self
            .http
            .post(self.gateway_url("/api/v1/auth/login")?)
            .json(&json!({ "email": BENCH_EMAIL, "password": BENCH_PASSWORD }))
            .send()
            .await?;
        let status = response.status();
        let body: serde_json::Value = response.json().await?;
        if !status.is_success() {
            bail!("log-in answered {status}: {body}");
        }
        self.access_token = body["access_token"]
            .as_str()
            .context("log-in answer without an access token")?
            .to_owned();
        Ok(())
    }

    /// An internal context token as the gateway would mint it (60 s of life:
    /// mint one per run).
    fn context_token(
        &self,
        audience: &str,
        project: Option<ProjectAccess>,
    ) -> anyhow::Result<String> {
        let context = TenantContext::new(
            Principal {
                id: self.user_id,
                kind: PrincipalKind::User,
            },
            project,
            "bench",
        );
        Ok(self.issuer.issue(audience, &context)?)
    }

    fn service_token(&self, audience: &str) -> anyhow::Result<String> {
        let context = TenantContext::service(Uuid::now_v7(), "bench");
        Ok(self.issuer.issue(audience, &context)?)
    }

    async fn gateway_metrics(&self) -> anyhow::Result<HashMap<String, f64>> {
        Ok(parse_metrics(&self.metrics_text("gateway").await?))
    }

    /// A service's `/metrics`, as text.
    async fn metrics_text(&self, service: &str) -> anyhow::Result<String> {
        Ok(self
            .http
            .get(self.platform.admin_url(service, "/metrics")?)
            .send()
            .await?
            .error_for_status()?
            .text()
            .await?)
    }

    /// Records each service's peak RSS since the last sample, then resets it.
    fn sample_peaks(&mut self) {
        for service in &self.platform.services {
            let pid = service.child.id();
            if let Ok((_, peak)) = services::rss_mb(pid) {
                let entry = self.peaks.entry(service.name).or_insert(0.0);
                *entry = entry.max(peak);
            }
            let _ = services::reset_peak(pid);
        }
    }

    /// The load for one target of the gateway comparison. URLs given to
    /// oha's `--rand-regex-url` spell literal dots and `?` as `[.]` and
    /// `[?]`: oha parses the URL before the regex, which turns `\.` into `/.`.
    fn overhead_load(
        &self,
        target: &str,
        nginx_port: u16,
        rate: Option<f64>,
    ) -> anyhow::Result<Load> {
        let slugs = self.plan.dataset.slug_regex();
        let project_port = self.platform.service("project")?.port;
        let (url, token) = match target {
            "direct" => (
                format!(r"http://127[.]0[.]0[.]1:{project_port}/v1/projects/{slugs}"),
                self.context_token("project-service", None)?,
            ),
            "nginx" => (
                format!(r"http://127[.]0[.]0[.]1:{nginx_port}/v1/projects/{slugs}"),
                self.context_token("project-service", None)?,
            ),
            _ => (
                format!(
                    r"http://127[.]0[.]0[.]1:{}/api/v1/projects/{slugs}",
                    self.platform.service("gateway")?.port
                ),
                self.access_token.clone(),
            ),
        };
        Ok(Load {
            url,
            rand_regex: true,
            headers: vec![("Authorization".to_owned(), format!("Bearer {token}"))],
            connections: self.plan.connections,
            secs: self.plan.secs,
            rate,
        })
    }
}

fn write_report(
    dir: &Path,
    testcases: u64,
    system_out_bytes: usize,
) -> anyhow::Result<(Vec<u8>, junit::ReportCounts)> {
    let spec = ReportSpec {
        testcases,
        system_out_bytes,
    };
    let mut bytes = Vec::new();
    let counts = junit::write_report(spec, &mut bytes)?;
    // Kept for inspection next to the logs.
    std::fs::write(dir.join(format!("junit-{testcases}.xml")), &bytes)?;
    Ok((bytes, counts))
}

/// A section that could not be measured, said on stderr as it happens.
fn not_measured(section: &str, error: &anyhow::Error) -> Missing {
    eprintln!("bench: {section} could not be measured: {error:#}");
    Missing {
        section: section.to_owned(),
        reason: format!("{error:#}"),
    }
}

pub fn git_commit(root: &Path) -> String {
    let run = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .current_dir(root)
            .output()
            .ok()
            .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned())
            .unwrap_or_default()
    };
    let commit = run(&["rev-parse", "--short=12", "HEAD"]);
    let dirty = !run(&["status", "--porcelain", "--untracked-files=no"]).is_empty();
    if dirty {
        format!("{commit} (with uncommitted changes)")
    } else {
        commit
    }
}

fn machine() -> Machine {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu_model = cpuinfo
        .lines()
        .find_map(|line| line.strip_prefix("model name"))
        .and_then(|rest| rest.split_once(':'))
        .map(|(_, model)| model.trim().to_owned())
        .unwrap_or_else(|| "unknown".to_owned());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory_mb = meminfo
        .lines()
        .find_map(|line| line.strip_prefix("MemTotal:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kb| kb.parse::<u64>().ok())
        .map(|kb| kb / 1024)
        .unwrap_or(0);
    Machine {
        cpu_model,
        cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
        memory_mb,
        kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .unwrap_or_default()
            .trim()
            .to_owned(),
    }
}
