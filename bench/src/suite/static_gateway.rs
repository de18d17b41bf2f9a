//! The gateway's own cost, measured the way proxies are measured: in front
//! of a static upstream (nginx answering every request from memory), so
//! the upstream is never the bottleneck. The gateway still does all of its
//! work: the static upstream also plays the auth service (the auth
//! service's real JWKS, an empty revocation feed, live sessions) and the
//! project service (an empty access-change feed and one project's access),
//! and the token is a real one the auth service signed.

use anyhow::Context;
use serde_json::json;
use uuid::Uuid;

use super::cache_curves::{ACCESS_CACHE_SIZE, BenchSigner, TOKEN_CACHE_SIZE};
use crate::flamegraph;
use crate::nginx::{self, Nginx, StaticAnswer};
use crate::oha::Load;
use crate::services;

use super::*;

/// The targets, each round in this order: the upstream directly, nginx as
/// a reverse proxy, the gateway on a user route (`/api/v1/me`: JWT,
/// revocation check, rate limit, routing, streaming proxy) and on a
/// project route (the same plus the project access check, cached).
const STATIC_TARGETS: [&str; 4] = ["direct", "nginx", "gateway_user", "gateway_project"];

/// Port offsets in the benchmark's block.
const GATEWAY_OFFSET: u16 = 11;
const UPSTREAM_OFFSET: u16 = 12;
const PROXY_OFFSET: u16 = 13;

/// The project the static upstream grants the benchmark user.
const STATIC_PROJECT: &str = "bench-static";

/// Measures the gateway in front of a static upstream alone
/// (`faultline-bench static-gateway`).
pub async fn static_gateway_only(
    config: SuiteConfig,
) -> anyhow::Result<(Option<StaticGatewayResults>, Vec<Missing>)> {
    let (mut ctx, _, _) = start(config, true).await?;
    let measured = ctx.static_gateway_section().await;
    ctx.platform.stop();
    Ok(match measured {
        Ok(figures) => {
            let missing = figures.missing_parts();
            (Some(figures), missing)
        }
        Err(error) => (None, vec![not_measured("static_gateway", &error)]),
    })
}

impl Ctx {
    pub(super) async fn static_gateway_section(&mut self) -> anyhow::Result<StaticGatewayResults> {
        self.log_in().await?;
        let base = self.config.base_port;
        let (upstream_port, proxy_port, gateway_port) = (
            base + UPSTREAM_OFFSET,
            base + PROXY_OFFSET,
            base + GATEWAY_OFFSET,
        );
        let pid_dir = services::pid_dir(&services::log_dir(&self.config.root));
        let root = self.config.root.join(".faultline/bench");
        let signer = BenchSigner::new()?;
        let answers = self.static_answers(&signer.jwk()?).await?;
        let body_bytes = answers
            .iter()
            .find(|a| a.path == "/")
            .map_or(0, |a| a.body.len());
        let upstream_prefix = root.join("static-upstream");
        let _upstream = Nginx::start(
            &self.config.nginx,
            &pid_dir,
            &upstream_prefix,
            "static-upstream",
            upstream_port,
            &nginx::static_config(&upstream_prefix, upstream_port, &answers)?,
        )
        .await?;
        let proxy_prefix = root.join("static-proxy");
        let _proxy = Nginx::start(
            &self.config.nginx,
            &pid_dir,
            &proxy_prefix,
            "static-proxy",
            proxy_port,
            &nginx::config(&proxy_prefix, proxy_port, upstream_port),
        )
        .await?;
        let static_url = format!("http://127.0.0.1:{upstream_port}");
        self.platform
            .launch(
                &self.config.bin_dir,
                &services::log_dir(&self.config.root),
                "gateway-static",
                "api-gateway",
                (gateway_port, base + 100 + GATEWAY_OFFSET),
                |command| {
                    command
                        .env("FAULTLINE__SERVICE__AUTH_URL", &static_url)
                        .env("FAULTLINE__SERVICE__PROJECT_URL", &static_url);
                    services::point_upstreams(command, |_| static_url.clone());
                    services::raise_principal_limit(command);
                    command
                        .env(
                            "FAULTLINE__SERVICE__VERIFIED_TOKEN_CACHE_SIZE",
                            TOKEN_CACHE_SIZE.to_string(),
                        )
                        .env(
                            "FAULTLINE__SERVICE__ACCESS_CACHE_SIZE",
                            ACCESS_CACHE_SIZE.to_string(),
                        );
                },
            )
            .await?;
        let measured = self
            .static_runs(upstream_port, proxy_port, gateway_port)
            .await;
        let profile = match &measured {
            Ok(_) => self
                .profile_gateway((upstream_port, proxy_port, gateway_port), &root)
                .await
                .inspect_err(|error| {
                    eprintln!("bench: the gateway's CPU profile could not be taken: {error:#}");
                })
                .ok(),
            Err(_) => None,
        };
        let caches = match &measured {
            Ok(_) => self
                .cache_curves(&signer, upstream_port, gateway_port)
                .await
                .inspect_err(|error| {
                    eprintln!("bench: the gateway's cache curves could not be measured: {error:#}");
                })
                .ok(),
            Err(_) => None,
        };
        self.platform.stop_one("gateway-static");
        let (requests, max, own_half, common) = measured?;
        Ok(StaticGatewayResults {
            requests,
            body_bytes,
            max,
            own_half,
            common,
            connections: self.plan.connections,
            profile,
            caches,
            commit: None,
            measured_at: None,
        })
    }

    /// One more max-throughput run of `gateway_user` with `perf` sampling
    /// the gateway for all but its first second (connections set up).
    async fn profile_gateway(
        &self,
        ports: (u16, u16, u16),
        root: &std::path::Path,
    ) -> anyhow::Result<CpuProfile> {
        anyhow::ensure!(
            flamegraph::perf_available(),
            "perf is not installed (Debian package linux-perf)"
        );
        let pid = self.platform.service("gateway-static")?.child.id();
        let target = "gateway_user";
        let load = self.static_load(target, ports, None);
        let secs = load.secs.saturating_sub(2).max(1);
        let dir = root.join("profile");
        let oha = self.oha()?;
        let sampled = async {
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            flamegraph::record(pid, secs, &dir).await
        };
        let raw = self.raw("static-profiled-run");
        let (run, data) = tokio::join!(oha.run(&load, &raw), sampled);
        run?;
        let folded = flamegraph::fold(&flamegraph::script(&data?).await?);
        anyhow::ensure!(folded.samples > 0, "perf recorded no samples");
        eprintln!(
            "bench:   profiled {target}: {} samples over {secs} s",
            folded.samples
        );
        Ok(CpuProfile {
            target: target.to_owned(),
            secs,
            frequency_hz: flamegraph::FREQUENCY,
            stacks: folded.stacks,
        })
    }

    /// What the static upstream answers, by path prefix (nginx takes the
    /// longest match).
    /// `bench_key` joins the auth service's keys in the JWKS.
    async fn static_answers(
        &self,
        bench_key: &serde_json::Value,
    ) -> anyhow::Result<Vec<StaticAnswer>> {
        let mut jwks: serde_json::Value = self
            .http
            .get(self.platform.url("auth", "/.well-known/jwks.json")?)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await
            .context("the auth service's JWKS")?;
        jwks["keys"]
            .as_array_mut()
            .context("a JWKS without keys")?
            .push(bench_key.clone());
        let access = json!({
            "project_id": Uuid::now_v7(),
            "slug": STATIC_PROJECT,
            "status": "active",
            "role": "owner",
            "limits": {
                "requests_per_minute": 100_000_000,
                "request_burst": 1_000_000,
                "uploads_per_minute": 100_000_000,
                "upload_burst": 1_000_000,
            },
            "as_of_seq": 0,
        });
        // What `GET /v1/me` answers, about 200 bytes.
        let me = json!({
            "id": self.user_id,
            "email": BENCH_EMAIL,
            "display_name": "Bench",
            "default_project_id": null,
            "created_at": "2026-11-01T00:00:00.000000Z",
            "email_verified": true,
            "mfa_enabled": false,
        });
        let answer = |path: &str, body: String| StaticAnswer {
            path: path.to_owned(),
            body,
        };
        Ok(vec![
            answer("/.well-known/jwks.json", jwks.to_string()),
            answer(
                "/internal/v1/revocations",
                json!({"revocations": [], "latest": 0, "has_more": false, "reset": false})
                    .to_string(),
            ),
            answer(
                "/internal/v1/access/changes",
                json!({"changes": [], "latest": 0, "has_more": false, "reset": false}).to_string(),
            ),
            answer("/internal/v1/access", access.to_string()),
            answer("/internal/v1/sessions/", json!({"live": true}).to_string()),
            answer("/", me.to_string()),
        ])
    }

    fn static_load(
        &self,
        target: &str,
        (upstream_port, proxy_port, gateway_port): (u16, u16, u16),
        rate: Option<f64>,
    ) -> Load {
        let url = match target {
            "direct" => format!("http://127.0.0.1:{upstream_port}/v1/me"),
            "nginx" => format!("http://127.0.0.1:{proxy_port}/v1/me"),
            "gateway_user" => format!("http://127.0.0.1:{gateway_port}/api/v1/me"),
            _ => format!("http://127.0.0.1:{gateway_port}/api/v1/projects/{STATIC_PROJECT}"),
        };
        Load {
            url,
            rand_regex: false,
            // Every target gets the same request bytes.
            headers: vec![(
                "Authorization".to_owned(),
                format!("Bearer {}", self.access_token),
            )],
            connections: self.plan.connections,
            secs: self.plan.secs,
            rate,
        }
    }

    /// Warm-up, max throughput interleaved, then fixed rates.
    async fn static_runs(
        &self,
        upstream_port: u16,
        proxy_port: u16,
        gateway_port: u16,
    ) -> anyhow::Result<(
        Vec<(String, String)>,
        Vec<TargetRuns>,
        Vec<RateRuns>,
        LatencyLevel,
    )> {
        let ports = (upstream_port, proxy_port, gateway_port);
        let oha = self.oha()?;
        let requests = STATIC_TARGETS
            .iter()
            .map(|target| {
                let load = self.static_load(target, ports, None);
                ((*target).to_owned(), format!("GET {}", load.url))
            })
            .collect();
        for target in STATIC_TARGETS {
            let mut load = self.static_load(target, ports, None);
            load.secs = 2;
            oha.run(&load, &self.raw(&format!("static-warmup-{target}")))
                .await?;
        }
        let mut max: Vec<TargetRuns> = TargetRuns::each(&STATIC_TARGETS);
        for run in 0..self.plan.runs {
            for (index, target) in STATIC_TARGETS.iter().enumerate() {
                let load = self.static_load(target, ports, None);
                let result = oha
                    .run(&load, &self.raw(&format!("static-max-{target}-{run}")))
                    .await?;
                eprintln!(
                    "bench:   static max {target}: {:.0} req/s",
                    result.requests_per_sec
                );
                max[index].runs.push(result);
            }
        }
        let maxima = max
            .iter()
            .map(|runs| {
                runs.median_of(|r| r.requests_per_sec)
                    .with_context(|| format!("no max throughput for {}", runs.target))
            })
            .collect::<anyhow::Result<Vec<f64>>>()?;
        let mut own_half: Vec<RateRuns> = STATIC_TARGETS
            .iter()
            .zip(&maxima)
            .map(|(target, max)| RateRuns {
                rate: (max / 2.0).round(),
                runs: TargetRuns {
                    target: (*target).to_owned(),
                    runs: Vec::new(),
                },
            })
            .collect();
        // Half the slowest target's max: a rate every target holds.
        let common_rate = (maxima.iter().copied().fold(f64::INFINITY, f64::min) / 2.0).round();
        let mut common = LatencyLevel {
            load_percent: 50,
            rate: common_rate,
            targets: TargetRuns::each(&STATIC_TARGETS),
        };
        for run in 0..self.plan.runs {
            for (index, target) in STATIC_TARGETS.iter().enumerate() {
                let own = &mut own_half[index];
                let load = self.static_load(target, ports, Some(own.rate));
                let result = oha
                    .run(&load, &self.raw(&format!("static-half-{target}-{run}")))
                    .await?;
                eprintln!(
                    "bench:   static {target} at {:.0} req/s: p50 {:.2} ms, p99 {:.2} ms",
                    own.rate, result.p50_ms, result.p99_ms
                );
                own.runs.runs.push(result);
            }
            for (index, target) in STATIC_TARGETS.iter().enumerate() {
                let load = self.static_load(target, ports, Some(common_rate));
                let result = oha
                    .run(&load, &self.raw(&format!("static-common-{target}-{run}")))
                    .await?;
                eprintln!(
                    "bench:   static {target} at {common_rate:.0} req/s: p50 {:.2} ms, p99 {:.2} ms",
                    result.p50_ms, result.p99_ms
                );
                common.targets[index].runs.push(result);
            }
        }
        Ok((requests, max, own_half, common))
    }
}
