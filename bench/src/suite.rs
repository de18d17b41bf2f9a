//! The measured suite: prepares the database, starts the release services,
//! runs each section and collects what it measured. A section that fails is
//! recorded as missing (and the run exits non-zero); the others still run.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::json;
use tenant_core::context::{
    InternalTokenIssuer, Principal, PrincipalKind, ProjectAccess, Role, TenantContext,
};
use uuid::Uuid;

use crate::junit::{self, ReportSpec};
use crate::nginx::{self, Nginx};
use crate::oha::{Load, Oha};
use crate::results::*;
use crate::seed::{self, DatasetSize, QueryTargets};
use crate::services::{self, Platform};

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

/// How much of everything: the full suite or the quick development pass.
#[derive(Debug, Clone, Copy)]
struct Plan {
    runs: usize,
    secs: u64,
    connections: u32,
    query_rate: f64,
    rls_executions: usize,
    sustained_secs: u64,
    single_sizes: [u64; 2],
    large_bytes: u64,
    dataset: DatasetSize,
}

impl Plan {
    fn for_mode(quick: bool) -> Self {
        if quick {
            Self {
                runs: 1,
                secs: 3,
                connections: 32,
                query_rate: 100.0,
                rls_executions: 50,
                sustained_secs: 6,
                single_sizes: [10_000, 100_000],
                large_bytes: 32 << 20,
                dataset: DatasetSize::quick(),
            }
        } else {
            Self {
                runs: 3,
                secs: 6,
                connections: 32,
                query_rate: 200.0,
                rls_executions: 300,
                sustained_secs: 20,
                single_sizes: [10_000, 100_000],
                // Just under the 256 MiB upload limit.
                large_bytes: 250 << 20,
                dataset: DatasetSize::full(),
            }
        }
    }
}

const RUN_DB: &str = "faultline_bench";
const TARGETS: [&str; 3] = ["direct", "nginx", "gateway"];
const BENCH_EMAIL: &str = "bench@example.com";
const BENCH_PASSWORD: &str = "bench-password-not-secret-1";

struct Ctx {
    config: SuiteConfig,
    plan: Plan,
    oha: Oha,
    platform: Platform,
    http: reqwest::Client,
    issuer: InternalTokenIssuer,
    raw_dir: PathBuf,
    user_id: Uuid,
    access_token: String,
    targets: QueryTargets,
    /// Peak RSS per service over the suite (MB).
    peaks: HashMap<&'static str, f64>,
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
    let oha = Oha::locate(&config.oha).await?;
    results.meta.oha_version = oha.version().to_owned();

    let seed_db = if config.quick {
        "faultline_bench_seed_quick"
    } else {
        "faultline_bench_seed"
    };
    let prepared = seed::prepare(
        &config.root,
        &config.bin_dir,
        &config.admin_url,
        seed_db,
        RUN_DB,
        &plan.dataset,
    )
    .await
    .context("preparing the benchmark database")?;
    results.meta.seed_secs = prepared.seed_secs;
    results.meta.dataset = prepared.dataset;
    let targets = seed::query_targets(&config.admin_url, RUN_DB).await?;

    eprintln!(
        "bench: starting the release services on {}..",
        config.base_port
    );
    let platform = Platform::start(
        &config.bin_dir,
        &services::log_dir(&config.root),
        config.base_port,
        RUN_DB,
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

    let mut missing = Vec::new();
    let mut record = |section: &str, error: anyhow::Error| {
        eprintln!("bench: {section} could not be measured: {error:#}");
        missing.push(Missing {
            section: section.to_owned(),
            reason: format!("{error:#}"),
        });
    };

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
            if ingestion.sustained.is_none() {
                record(
                    "ingestion.sustained",
                    anyhow::anyhow!("no sustained figure"),
                );
            }
            if ingestion.large.is_none() {
                record("ingestion.large", anyhow::anyhow!("no large-report figure"));
            }
            results.ingestion = Some(ingestion);
        }
        Err(error) => record("ingestion", error),
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
        seed::grant_memberships(&self.config.admin_url, RUN_DB, self.user_id).await?;
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
        let text = self
            .http
            .get(self.platform.admin_url("gateway", "/metrics")?)
            .send()
            .await?
            .error_for_status()?
            .text()
            .await?;
        Ok(parse_metrics(&text))
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

    async fn gateway_section(&mut self) -> anyhow::Result<GatewayResults> {
        self.log_in().await?;
        let nginx_port = self.config.base_port + 10;
        let prefix = self.config.root.join(".faultline/bench/nginx");
        let _nginx = Nginx::start(
            &self.config.nginx,
            &services::pid_dir(&services::log_dir(&self.config.root)),
            &prefix,
            nginx_port,
            self.platform.service("project")?.port,
        )
        .await?;
        // Warm-up: connections, caches and the JIT-free but lazy pools.
        for target in TARGETS {
            let mut load = self.overhead_load(target, nginx_port, None)?;
            load.secs = 2;
            self.oha
                .run(&load, &self.raw(&format!("warmup-{target}")))
                .await?;
        }
        let mut max: Vec<TargetRuns> = TARGETS
            .iter()
            .map(|t| TargetRuns {
                target: (*t).to_owned(),
                runs: Vec::new(),
            })
            .collect();
        for run in 0..self.plan.runs {
            for (index, target) in TARGETS.iter().enumerate() {
                let load = self.overhead_load(target, nginx_port, None)?;
                let result = self
                    .oha
                    .run(&load, &self.raw(&format!("max-{target}-{run}")))
                    .await?;
                eprintln!(
                    "bench:   max {target}: {:.0} req/s",
                    result.requests_per_sec
                );
                max[index].runs.push(result);
            }
        }
        let nginx_max = max[1]
            .median_of(|r| r.requests_per_sec)
            .context("no nginx max throughput")?;
        let mut latency = Vec::new();
        for load_percent in [50u32, 80] {
            let rate = nginx_max * f64::from(load_percent) / 100.0;
            let mut level = LatencyLevel {
                load_percent,
                rate,
                targets: TARGETS
                    .iter()
                    .map(|t| TargetRuns {
                        target: (*t).to_owned(),
                        runs: Vec::new(),
                    })
                    .collect(),
            };
            for run in 0..self.plan.runs {
                for (index, target) in TARGETS.iter().enumerate() {
                    let load = self.overhead_load(target, nginx_port, Some(rate))?;
                    let result = self
                        .oha
                        .run(
                            &load,
                            &self.raw(&format!("rate{load_percent}-{target}-{run}")),
                        )
                        .await?;
                    eprintln!(
                        "bench:   {load_percent}% {target}: p50 {:.2} ms, p99 {:.2} ms",
                        result.p50_ms, result.p99_ms
                    );
                    level.targets[index].runs.push(result);
                }
            }
            latency.push(level);
        }
        self.platform.check_alive()?;
        Ok(GatewayResults {
            endpoint: "GET /v1/projects/{slug} (project service: the project with the caller's role), one of the seeded projects at random per request".to_owned(),
            max,
            latency,
            nginx_logging: nginx::LOGGING.to_owned(),
        })
    }

    async fn query_section(&mut self) -> anyhow::Result<QueryResults> {
        let failure_port = self.platform.service("failure")?.port;
        let project_port = self.platform.service("project")?.port;
        let QueryTargets {
            project_id,
            build_id,
            test_id,
        } = self.targets.clone();
        let queries = [
            (
                "failures_list",
                format!("/v1/projects/{project_id}/failures?limit=50"),
            ),
            (
                "build",
                format!("/v1/projects/{project_id}/builds/{build_id}"),
            ),
            (
                "test_history",
                format!("/v1/projects/{project_id}/tests/{test_id}/history"),
            ),
            (
                "access_lookup",
                format!(
                    "/internal/v1/access?user={}&project={}",
                    self.user_id,
                    self.plan.dataset.slug_regex()
                ),
            ),
        ];
        let mut out: Vec<QueryRuns> = queries
            .iter()
            .map(|(name, path)| QueryRuns {
                name: (*name).to_owned(),
                endpoint: path.clone(),
                runs: Vec::new(),
            })
            .collect();
        for run in 0..=self.plan.runs {
            for (index, (name, path)) in queries.iter().enumerate() {
                let (url, token, rand_regex) = if *name == "access_lookup" {
                    (
                        format!(
                            r"http://127[.]0[.]0[.]1:{project_port}{}",
                            path.replace('?', "[?]")
                        ),
                        self.service_token("project-service")?,
                        true,
                    )
                } else {
                    (
                        format!("http://127.0.0.1:{failure_port}{path}"),
                        self.context_token(
                            "failure-service",
                            Some(ProjectAccess {
                                project_id,
                                role: Role::Viewer,
                            }),
                        )?,
                        false,
                    )
                };
                let load = Load {
                    url,
                    rand_regex,
                    headers: vec![("Authorization".to_owned(), format!("Bearer {token}"))],
                    connections: self.plan.connections,
                    secs: if run == 0 { 2 } else { self.plan.secs },
                    rate: Some(self.plan.query_rate),
                };
                let result = self
                    .oha
                    .run(&load, &self.raw(&format!("query-{name}-{run}")))
                    .await?;
                // Run 0 warms caches and connections and is not kept.
                if run > 0 {
                    eprintln!(
                        "bench:   {name}: p50 {:.2} ms, p99 {:.2} ms",
                        result.p50_ms, result.p99_ms
                    );
                    if result.non_2xx > 0 {
                        bail!("{name}: {} answers were not 2xx", result.non_2xx);
                    }
                    out[index].runs.push(result);
                }
            }
        }
        Ok(QueryResults {
            rate: self.plan.query_rate,
            queries: out,
        })
    }

    async fn rls_section(&mut self) -> anyhow::Result<RlsResults> {
        let project_id = self.targets.project_id;
        let (superuser, _task) = seed::admin_client(&self.config.admin_url, RUN_DB).await?;
        let mut app_config: tokio_postgres::Config = self.config.admin_url.parse()?;
        app_config
            .dbname(RUN_DB)
            .user("failure_app")
            .password(tenant_core::config::dev_role_password("failure_app"));
        let (app, connection) = app_config.connect(tokio_postgres::NoTls).await?;
        let _app_task = tokio::spawn(async move {
            let _ = connection.await;
        });
        let mut with_rls = Vec::new();
        let mut without_rls = Vec::new();
        for client in [&superuser, &app] {
            client.batch_execute("SET search_path = failure").await?;
        }
        let super_stmt = superuser
            .prepare(failure_service::repo::FAILURES_LIST_SQL)
            .await?;
        let app_stmt = app
            .prepare(failure_service::repo::FAILURES_LIST_SQL)
            .await?;
        let none_ts: Option<chrono::DateTime<chrono::Utc>> = None;
        let none_uuid: Option<Uuid> = None;
        let none_text: Option<String> = None;
        let limit: i64 = 50;
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 11] = [
            &project_id,
            &none_ts,
            &none_ts,
            &none_uuid,
            &none_text,
            &none_text,
            &none_text,
            &none_text,
            &none_ts,
            &none_uuid,
            &limit,
        ];
        let set_context = format!(
            "BEGIN; SELECT set_config('app.project_id', '{project_id}', true);
                    SELECT set_config('app.user_id', '{}', true);",
            self.user_id
        );
        // Warm both, then alternate so drift hits both alike.
        for i in 0..(self.plan.rls_executions + 20) {
            for (client, stmt, rls) in [(&superuser, &super_stmt, false), (&app, &app_stmt, true)] {
                client.batch_execute(&set_context).await?;
                let started = Instant::now();
                let rows = client.query(stmt, &params).await?;
                let ms = started.elapsed().as_secs_f64() * 1000.0;
                client.batch_execute("COMMIT").await?;
                if rows.is_empty() {
                    bail!("the failures list returned nothing (rls: {rls})");
                }
                if i >= 20 {
                    if rls {
                        with_rls.push(ms);
                    } else {
                        without_rls.push(ms);
                    }
                }
            }
        }
        Ok(RlsResults {
            query: "the failures list (first page of 50, no filters) of bench-000, as the service runs it".to_owned(),
            executions: self.plan.rls_executions,
            without_rls_ms: without_rls,
            with_rls_ms: with_rls,
        })
    }

    async fn create_api_key(&self, project: &str) -> anyhow::Result<String> {
        let response = self
            .http
            .post(self.gateway_url(&format!("/api/v1/projects/{project}/api-keys"))?)
            .bearer_auth(&self.access_token)
            .json(&json!({
                "name": "bench uploader",
                "role": "member",
                "expires_at": (chrono::Utc::now() + chrono::Duration::days(1)).to_rfc3339(),
            }))
            .send()
            .await?;
        let status = response.status();
        let body: serde_json::Value = response.json().await?;
        if !status.is_success() {
            bail!("creating an API key answered {status}: {body}");
        }
        Ok(body["key"]
            .as_str()
            .context("no key in the answer")?
            .to_owned())
    }

    async fn ingestion_section(&mut self) -> anyhow::Result<IngestionResults> {
        self.log_in().await?;
        let reports_dir = self.config.root.join(".faultline/bench/reports");
        std::fs::create_dir_all(&reports_dir)?;
        let failure_pid = self.platform.service("failure")?.child.id();
        let mut keys = Vec::new();
        for uploader in 1..=4 {
            let project = format!("bench-{uploader:03}");
            keys.push((project.clone(), self.create_api_key(&project).await?));
        }
        let uploader = Uploader {
            http: self.http.clone(),
            gateway: self.gateway_url("")?,
            counter: Arc::new(AtomicU64::new(0)),
        };

        services::reset_peak(failure_pid)?;
        let mut single = Vec::new();
        let mut ten_k = None;
        for testcases in self.plan.single_sizes {
            let (bytes, counts) = write_report(&reports_dir, testcases, 0)?;
            let body = bytes;
            let (project, key) = &keys[0];
            let mut runs = UploadRuns {
                testcases: counts.testcases,
                failures: counts.failures,
                report_bytes: body.len() as u64,
                secs: Vec::new(),
            };
            for _ in 0..self.plan.runs {
                let (secs, status, tests) = uploader.upload(project, key, body.clone()).await?;
                if status != 201 || tests != counts.testcases {
                    bail!("a {testcases}-case upload answered {status} with {tests} tests");
                }
                eprintln!("bench:   {testcases} testcases in {secs:.2} s");
                runs.secs.push(secs);
            }
            if testcases == 10_000 {
                ten_k = Some((body.clone(), counts));
            }
            single.push(runs);
        }

        let (ten_k_body, ten_k_counts) = ten_k.context("no 10,000-case report")?;
        let deadline = Instant::now() + Duration::from_secs(self.plan.sustained_secs);
        let started = Instant::now();
        let mut tasks = Vec::new();
        for (project, key) in keys.clone() {
            let uploader = uploader.clone();
            let body = ten_k_body.clone();
            tasks.push(tokio::spawn(async move {
                let mut uploads = 0u64;
                let mut results = 0u64;
                while Instant::now() < deadline {
                    let (_, status, tests) = uploader.upload(&project, &key, body.clone()).await?;
                    if status != 201 {
                        bail!("a sustained upload answered {status}");
                    }
                    uploads += 1;
                    results += tests;
                }
                Ok::<_, anyhow::Error>((uploads, results))
            }));
        }
        let mut sustained = Sustained {
            uploaders: 4,
            report_testcases: ten_k_counts.testcases,
            uploads: 0,
            results: 0,
            secs: 0.0,
        };
        let mut sustained_error = None;
        for task in tasks {
            match task.await? {
                Ok((uploads, results)) => {
                    sustained.uploads += uploads;
                    sustained.results += results;
                }
                Err(error) => sustained_error = Some(error),
            }
        }
        sustained.secs = started.elapsed().as_secs_f64();
        let sustained = match sustained_error {
            Some(error) => {
                eprintln!("bench: sustained ingestion failed: {error:#}");
                None
            }
            None => {
                eprintln!(
                    "bench:   sustained: {:.0} results/s",
                    sustained.results as f64 / sustained.secs
                );
                Some(sustained)
            }
        };
        let (_, failure_peak_rss_mb) = services::rss_mb(failure_pid)?;
        self.sample_peaks();

        // The large report: the failure service's memory while it ingests it.
        let system_out = 1_000;
        let cases = junit::cases_for_size(self.plan.large_bytes, system_out)?;
        let (bytes, counts) = write_report(&reports_dir, cases, system_out)?;
        let body = bytes;
        let report_bytes = body.len() as u64;
        services::reset_peak(failure_pid)?;
        let (project, key) = &keys[1];
        let large = match uploader.upload(project, key, body).await {
            Ok((secs, status, _)) => {
                let (_, peak) = services::rss_mb(failure_pid)?;
                eprintln!(
                    "bench:   {} MB report: {status} in {secs:.1} s, failure-service peak RSS {peak:.0} MB",
                    report_bytes >> 20
                );
                Some(LargeUpload {
                    report_bytes,
                    testcases: counts.testcases,
                    status,
                    secs,
                    failure_peak_rss_mb: peak,
                })
            }
            Err(error) => {
                eprintln!("bench: the large upload failed: {error:#}");
                None
            }
        };
        // Peaks of this upload are its own figure, not the suite's.
        for service in &self.platform.services {
            let _ = services::reset_peak(service.child.id());
        }
        self.platform.check_alive()?;
        Ok(IngestionResults {
            single,
            sustained,
            large,
            failure_peak_rss_mb,
        })
    }
}

/// Uploads through the gateway as a CI job would: create the build, then
/// post the report to it.
#[derive(Debug, Clone)]
struct Uploader {
    http: reqwest::Client,
    gateway: String,
    counter: Arc<AtomicU64>,
}

impl Uploader {
    /// (seconds of the results upload, its status, tests it counted).
    async fn upload(
        &self,
        project: &str,
        key: &str,
        body: Vec<u8>,
    ) -> anyhow::Result<(f64, u16, u64)> {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let response = self
            .http
            .post(format!("{}/api/v1/projects/{project}/builds", self.gateway))
            .bearer_auth(key)
            .json(&json!({ "job_name": "bench-upload", "external_id": format!("upload-{n}") }))
            .send()
            .await?;
        let status = response.status();
        let build: serde_json::Value = response.json().await?;
        if !status.is_success() {
            bail!("creating a build answered {status}: {build}");
        }
        let build_id = build["id"].as_str().context("build without id")?;
        let started = Instant::now();
        let response = self
            .http
            .post(format!(
                "{}/api/v1/projects/{project}/builds/{build_id}/results",
                self.gateway
            ))
            .bearer_auth(key)
            .header("Content-Type", "application/xml")
            .body(body)
            .send()
            .await?;
        let status = response.status().as_u16();
        let answer: serde_json::Value = response.json().await.unwrap_or_default();
        let secs = started.elapsed().as_secs_f64();
        Ok((secs, status, answer["tests"].as_u64().unwrap_or(0)))
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

/// Values from a Prometheus/OpenMetrics text exposition by metric name,
/// summed over label sets (the host labels every metric with its service).
pub fn parse_metrics(text: &str) -> HashMap<String, f64> {
    let mut metrics = HashMap::new();
    for line in text.lines().filter(|line| !line.starts_with('#')) {
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let Ok(value) = value.trim().parse::<f64>() else {
            continue;
        };
        let name = series.split('{').next().unwrap_or(series).trim();
        *metrics.entry(name.to_owned()).or_insert(0.0) += value;
    }
    metrics
}

fn git_commit(root: &Path) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_counters_from_the_metrics_text() {
        let text = "# HELP x y\n# TYPE gateway_token_cache_hits counter\n\
                    gateway_token_cache_hits_total{service=\"api-gateway\"} 42\n\
                    http_requests{route=\"/x y\",status=\"200\"} 3\n\
                    http_requests{route=\"/z\",status=\"200\"} 4\n";
        let metrics = parse_metrics(text);
        assert_eq!(metrics.get("gateway_token_cache_hits_total"), Some(&42.0));
        assert_eq!(metrics.get("http_requests"), Some(&7.0));
    }
}
