//! The read sections: the gateway against nginx and a direct call, the
//! query goals, and the cost of row level security.

use std::time::Instant;

use anyhow::{Context, bail};
use uuid::Uuid;

use crate::nginx::{self, Nginx};
use crate::oha::Load;
use crate::seed::{self, QueryTargets};
use crate::services::{self};

use super::*;

/// Section 3 and 4 alone (`faultline-bench queries`): the query goals and
/// the cost of row level security on the seeded dataset.
pub async fn queries_only(
    config: SuiteConfig,
) -> anyhow::Result<(Option<QueryResults>, Option<RlsResults>, Vec<Missing>)> {
    let (mut ctx, _, _) = start(config, true).await?;
    let mut missing = Vec::new();
    let mut record = |section: &str, error: anyhow::Error| {
        missing.push(not_measured(section, &error));
    };
    let queries = ctx
        .query_section()
        .await
        .map_err(|error| record("queries", error))
        .ok();
    let rls = ctx
        .rls_section()
        .await
        .map_err(|error| record("rls", error))
        .ok();
    ctx.platform.stop();
    Ok((queries, rls, missing))
}

impl Ctx {
    pub(super) async fn gateway_section(&mut self) -> anyhow::Result<GatewayResults> {
        self.log_in().await?;
        let nginx_port = self.config.base_port + 10;
        let prefix = self.config.root.join(".faultline/bench/nginx");
        let _nginx = Nginx::start(
            &self.config.nginx,
            &services::pid_dir(&services::log_dir(&self.config.root)),
            &prefix,
            "nginx",
            nginx_port,
            &nginx::config(&prefix, nginx_port, self.platform.service("project")?.port),
        )
        .await?;
        // Warm-up: connections, caches and the JIT-free but lazy pools.
        for target in TARGETS {
            let mut load = self.overhead_load(target, nginx_port, None)?;
            load.secs = 2;
            self.oha()?
                .run(&load, &self.raw(&format!("warmup-{target}")))
                .await?;
        }
        let mut max: Vec<TargetRuns> = TargetRuns::each(&TARGETS);
        for run in 0..self.plan.runs {
            for (index, target) in TARGETS.iter().enumerate() {
                let load = self.overhead_load(target, nginx_port, None)?;
                let result = self
                    .oha()?
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
                targets: TargetRuns::each(&TARGETS),
            };
            for run in 0..self.plan.runs {
                for (index, target) in TARGETS.iter().enumerate() {
                    let load = self.overhead_load(target, nginx_port, Some(rate))?;
                    let result = self
                        .oha()?
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

    pub(super) async fn query_section(&mut self) -> anyhow::Result<QueryResults> {
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
                "groups_list",
                format!("/v2/projects/{project_id}/failures?limit=50"),
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
        // The project service's own view of the access lookup's measured
        // runs: what its histogram gained from the first to the last.
        let mut access_before = None;
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
                let secs = if run == 0 { 2 } else { self.plan.secs };
                let load = if *name == "access_lookup" {
                    if run == 1 {
                        access_before = Some(self.access_histogram().await?);
                    }
                    Load {
                        url: format!(
                            r"http://127[.]0[.]0[.]1:{project_port}{}",
                            path.replace('?', "[?]")
                        ),
                        rand_regex: true,
                        headers: vec![(
                            "Authorization".to_owned(),
                            format!("Bearer {}", self.service_token("project-service")?),
                        )],
                        connections: self.plan.connections,
                        secs,
                        rate: Some(self.plan.query_rate),
                    }
                } else {
                    self.failure_read(project_id, path, secs)?
                };
                let result = self
                    .oha()?
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
        let access_in_service = match access_before {
            Some(before) => Some(self.access_histogram().await?.since(&before)),
            None => None,
        };
        Ok(QueryResults {
            rate: self.plan.query_rate,
            queries: out,
            commit: None,
            measured_at: None,
            access_in_service,
        })
    }

    async fn access_histogram(&self) -> anyhow::Result<ServiceHistogram> {
        let text = self.metrics_text("project").await?;
        Ok(super::metrics::route_histogram(
            &text,
            "/internal/v1/access",
        ))
    }

    pub(super) async fn rls_section(&mut self) -> anyhow::Result<RlsResults> {
        let project_id = self.targets.project_id;
        let (superuser, _task) = seed::admin_client(&self.config.admin_url, &self.run_db).await?;
        let mut app_config: tokio_postgres::Config = self.config.admin_url.parse()?;
        app_config
            .dbname(&self.run_db)
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
            .prepare(failure_service::repository::failures::FAILURES_LIST_SQL)
            .await?;
        let app_stmt = app
            .prepare(failure_service::repository::failures::FAILURES_LIST_SQL)
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
}
