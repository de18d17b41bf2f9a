//! The analytics section: every dashboard endpoint and the quality-gate
//! call on the big project (`bench-big`), through the gateway with a
//! signed-in user's token as a client makes them, at a fixed rate; and the
//! rollup lag, from a finished build's `build.completed` event to the
//! trends counting it.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::{Days, Utc};
use serde_json::{Value, json};

use crate::open_loop::{self, FixedRate};

use super::*;

/// Measures the analytics and web-page sections alone (`faultline-bench
/// analytics`): what they measured, and what could not be measured.
pub async fn analytics_only(
    config: SuiteConfig,
) -> anyhow::Result<(Option<AnalyticsResults>, Option<PageResults>, Vec<Missing>)> {
    let (mut ctx, prepared, _) = start(config, false).await?;
    let mut missing = Vec::new();
    let (analytics, pages) = ctx.analytics_sections(&prepared, &mut missing).await;
    ctx.platform.stop();
    Ok((analytics, pages, missing))
}

/// The seeded project with a million results (`bench/sql/seed.sql`).
pub(super) const BIG_PROJECT: &str = "bench-big";
/// The user whose token the dashboards are asked with: a member of the
/// big project and of [`OVERVIEW_OTHER_PROJECTS`] others, as a team
/// member's overview lists a handful of projects, not the thousand the
/// benchmark's owner account holds.
const ANALYTICS_EMAIL: &str = "analytics@example.com";
const OVERVIEW_OTHER_PROJECTS: u32 = 19;
/// Builds whose quality gate is asked for, the big project's latest.
const GATE_BUILDS: u32 = 100;
/// The rollup-lag builds' report size.
const LAG_TESTCASES: u64 = 200;
/// How often the trends are asked while a build is awaited.
const LAG_POLL: Duration = Duration::from_millis(20);
/// A build that does not show within this is a failed measurement.
const LAG_DEADLINE: Duration = Duration::from_secs(60);

impl Ctx {
    /// The analytics and web-page sections; what could not be measured is
    /// added to `missing`.
    pub(super) async fn analytics_sections(
        &mut self,
        prepared: &seed::Prepared,
        missing: &mut Vec<Missing>,
    ) -> (Option<AnalyticsResults>, Option<PageResults>) {
        let mut record = |section: &str, error: anyhow::Error| {
            missing.push(not_measured(section, &error));
        };
        eprintln!("bench: analytics");
        let analytics = match self.analytics_section(prepared).await {
            Ok((analytics, lag_error)) => {
                if let Some(error) = lag_error {
                    record("analytics.rollup_lag", error);
                }
                Some(analytics)
            }
            Err(error) => {
                record("analytics", error);
                None
            }
        };
        eprintln!("bench: web pages");
        let pages = match self.pages_section().await {
            Ok(pages) => Some(pages),
            Err(error) => {
                record("pages", error);
                None
            }
        };
        (analytics, pages)
    }

    /// Signs `email` up through the gateway, makes it owner of `slugs`
    /// (as the project service's table records it) and logs it in: its id
    /// and access token.
    pub(super) async fn member_of(
        &self,
        email: &str,
        slugs: &[String],
    ) -> anyhow::Result<(Uuid, String)> {
        let signed_up = self
            .http
            .post(self.gateway_url("/api/v1/auth/signup")?)
            .json(&json!({ "email": email, "password": BENCH_PASSWORD, "display_name": "Analyst" }))
            .send()
            .await?;
        let status = signed_up.status();
        let body: Value = signed_up.json().await?;
        if !status.is_success() {
            bail!("sign-up of {email} answered {status}: {body}");
        }
        let user_id: Uuid = body["id"]
            .as_str()
            .and_then(|id| id.parse().ok())
            .context("sign-up answer without an id")?;
        seed::grant_memberships_in(&self.config.admin_url, &self.run_db, user_id, slugs).await?;
        let logged_in = self
            .http
            .post(self.gateway_url("/api/v1/auth/login")?)
            .json(&json!({ "email": email, "password": BENCH_PASSWORD }))
            .send()
            .await?;
        let status = logged_in.status();
        let body: Value = logged_in.json().await?;
        if !status.is_success() {
            bail!("log-in of {email} answered {status}: {body}");
        }
        let token = body["access_token"]
            .as_str()
            .context("log-in answer without an access token")?
            .to_owned();
        Ok((user_id, token))
    }

    /// The figures, and the reason the rollup lag could not be measured
    /// when it could not (the rest stands without it).
    async fn analytics_section(
        &mut self,
        prepared: &seed::Prepared,
    ) -> anyhow::Result<(AnalyticsResults, Option<anyhow::Error>)> {
        let mut slugs = vec![BIG_PROJECT.to_owned()];
        slugs.extend((0..OVERVIEW_OTHER_PROJECTS).map(|n| format!("bench-{n:03}")));
        let (_, token) = self.member_of(ANALYTICS_EMAIL, &slugs).await?;
        let (admin, _task) = seed::admin_client(&self.config.admin_url, &self.run_db).await?;
        let big = admin
            .query_one(
                "SELECT p.id, (SELECT count(*) FROM failure.test_results r WHERE r.project_id = p.id)
                   FROM project.projects p WHERE p.slug = $1",
                &[&BIG_PROJECT],
            )
            .await
            .context("the seeded project bench-big")?;
        let big_id: Uuid = big.try_get(0)?;
        let project_results: i64 = big.try_get(1)?;
        let builds: Vec<Uuid> = admin
            .query(
                "SELECT id FROM failure.builds WHERE project_id = $1
                  ORDER BY created_at DESC, id DESC LIMIT $2",
                &[&big_id, &i64::from(GATE_BUILDS)],
            )
            .await?
            .iter()
            .map(|row| row.try_get(0))
            .collect::<Result<_, _>>()?;
        let latest = *builds.first().context("bench-big has no builds")?;

        let today = Utc::now().date_naive();
        let custom_from = today.checked_sub_days(Days::new(75)).context("date")?;
        let custom_to = today.checked_sub_days(Days::new(15)).context("date")?;
        let project = |path: &str| format!("/api/v1/projects/{BIG_PROJECT}{path}");
        let endpoints: Vec<(&str, String)> = vec![
            ("summary", project("/analytics/summary?period=30")),
            ("trends_7", project("/analytics/trends?period=7")),
            ("trends_30", project("/analytics/trends?period=30")),
            ("trends_90", project("/analytics/trends?period=90")),
            (
                "trends_custom",
                project(&format!(
                    "/analytics/trends?from={custom_from}&to={custom_to}&branch=main"
                )),
            ),
            ("rankings_30", project("/analytics/rankings?period=30")),
            ("rankings_90", project("/analytics/rankings?period=90")),
            ("mttr", project("/analytics/mttr?period=90")),
            (
                "comparison",
                project(&format!("/builds/{latest}/comparison")),
            ),
            (
                "overview",
                "/api/v1/analytics/overview?period=30".to_owned(),
            ),
        ];
        let headers = vec![("Authorization".to_owned(), format!("Bearer {token}"))];
        let mut figures = Vec::new();
        let mut first_call_ms = BTreeMap::new();
        for (name, path) in &endpoints {
            let url = self.gateway_url(path)?;
            // Warm-up, and the answer checked: an endpoint that does not
            // answer 200 is not measured.
            let started = Instant::now();
            self.expect_ok(&url, &token)
                .await
                .with_context(|| format!("{name}: GET {path}"))?;
            first_call_ms.insert((*name).to_owned(), started.elapsed().as_secs_f64() * 1000.0);
            figures.push((
                QueryRuns {
                    name: (*name).to_owned(),
                    endpoint: format!("GET {path}"),
                    runs: Vec::new(),
                },
                vec![url],
            ));
        }

        // The gate: rules of every kind, then each build's first call
        // (which evaluates and stores its gate), one at a time.
        self.create_gate_rules(&token).await?;
        let gate_urls: Vec<String> = builds
            .iter()
            .map(|build| self.gateway_url(&project(&format!("/builds/{build}/quality-gate"))))
            .collect::<Result<_, _>>()?;
        let mut gate_first_call_ms = Vec::new();
        for url in &gate_urls {
            let started = Instant::now();
            let body = self.expect_ok(url, &token).await.context("quality gate")?;
            gate_first_call_ms.push(started.elapsed().as_secs_f64() * 1000.0);
            if body["status"] == "pending" {
                bail!("the gate of a finished seeded build is pending: {body}");
            }
        }
        figures.push((
            QueryRuns {
                name: "quality_gate".to_owned(),
                endpoint: format!(
                    "GET {} (the latest {GATE_BUILDS} builds in turn)",
                    project("/builds/{build}/quality-gate")
                ),
                runs: Vec::new(),
            },
            gate_urls,
        ));

        let rate = self.plan.analytics_rate;
        for run in 0..self.plan.runs {
            for (figure, urls) in &mut figures {
                let result = open_loop::run(
                    &self.http,
                    &FixedRate {
                        urls: urls.clone(),
                        headers: headers.clone(),
                        rate,
                        secs: self.plan.secs,
                    },
                )
                .await?;
                eprintln!(
                    "bench:   {} run {run}: p50 {:.2} ms, p99 {:.2} ms",
                    figure.name, result.p50_ms, result.p99_ms
                );
                if result.success_rate < 1.0 {
                    // Kept and reported: failed requests miss the goal.
                    eprintln!(
                        "bench:   {}: {} answers were not 2xx, {:.1}% of requests failed",
                        figure.name,
                        result.non_2xx,
                        (1.0 - result.success_rate) * 100.0
                    );
                }
                let saturated = result.success_rate < 1.0;
                figure.runs.push(result);
                // A pause refills the project plan's request bucket (100
                // a second) between runs, and lets a backlog the run left
                // on the services drain before the next figure.
                let pause = if saturated { 10 } else { 1 };
                tokio::time::sleep(std::time::Duration::from_secs(pause)).await;
            }
        }
        let gate = figures
            .pop()
            .map(|(runs, _)| runs)
            .context("no gate figure")?;
        let endpoints = figures.into_iter().map(|(runs, _)| runs).collect();

        eprintln!("bench:   rollup lag");
        let (rollup_lag, lag_error) = match self.rollup_lag(&admin, big_id, &token).await {
            Ok(lag) => (Some(lag), None),
            Err(error) => (None, Some(error)),
        };
        Ok((
            AnalyticsResults {
                project: BIG_PROJECT.to_owned(),
                project_results: u64::try_from(project_results).unwrap_or(0),
                overview_projects: OVERVIEW_OTHER_PROJECTS + 1,
                rate,
                endpoints,
                first_call_ms,
                gate,
                gate_builds: GATE_BUILDS,
                gate_first_call_ms,
                rollup_lag,
                seed_secs: prepared.seed_secs,
                rollup_seed_secs: prepared.rollup_secs,
                note: None,
                commit: None,
                measured_at: None,
            },
            lag_error,
        ))
    }

    /// GETs `url` with `token`; its JSON, or an error with the status and
    /// the body when it is not 200.
    async fn expect_ok(&self, url: &str, token: &str) -> anyhow::Result<Value> {
        let response = self.http.get(url).bearer_auth(token).send().await?;
        let status = response.status();
        let text = response.text().await?;
        if status != reqwest::StatusCode::OK {
            bail!("answered {status}: {text}");
        }
        Ok(serde_json::from_str(&text)?)
    }

    /// One rule of each kind on every branch of the big project, so a gate
    /// evaluation does all its reads.
    async fn create_gate_rules(&self, token: &str) -> anyhow::Result<()> {
        let rules = [
            ("at most 500 failures", "max_failures", Some(500.0)),
            ("pass rate 90%", "min_pass_rate", Some(90.0)),
            ("no new groups", "no_new_groups", None),
            ("no product bugs", "no_product_bugs", None),
            ("at most 20 newly failing", "max_newly_failing", Some(20.0)),
            ("at least 100 tests", "min_tests", Some(100.0)),
        ];
        for (name, kind, threshold) in rules {
            let response = self
                .http
                .post(self.gateway_url(&format!(
                    "/api/v1/projects/{BIG_PROJECT}/quality-gate-rules"
                ))?)
                .bearer_auth(token)
                .json(&json!({
                    "name": name, "kind": kind, "branch_pattern": "*", "threshold": threshold,
                }))
                .send()
                .await?;
            let status = response.status();
            if !status.is_success() {
                bail!(
                    "creating the gate rule {kind} answered {status}: {}",
                    response.text().await?
                );
            }
        }
        Ok(())
    }

    /// Builds uploaded and finished one after the other through the
    /// gateway with an API key, as CI does, each on `main` of job `ci`;
    /// after each, the trends of today (`branch=main&job=ci`) are asked
    /// every [`LAG_POLL`] until they count it. The lag runs from the
    /// event's `occurred_at` (written in the transaction that finished the
    /// build) to the answer that first counts the build.
    async fn rollup_lag(
        &self,
        admin: &tokio_postgres::Client,
        project_id: Uuid,
        token: &str,
    ) -> anyhow::Result<RollupLag> {
        let key = self.create_api_key(BIG_PROJECT).await?;
        let mut report = Vec::new();
        let counts = crate::junit::write_report(
            crate::junit::ReportSpec {
                testcases: LAG_TESTCASES,
                system_out_bytes: 0,
            },
            &mut report,
        )?;
        let trends = self.gateway_url(&format!(
            "/api/v1/projects/{BIG_PROJECT}/analytics/trends?period=7&branch=main&job=ci"
        ))?;
        let mut lag_ms = Vec::new();
        for n in 0..self.plan.lag_builds {
            let counted_before = self.builds_today(&trends, token).await?;
            let created = self
                .http
                .post(self.gateway_url(&format!("/api/v1/projects/{BIG_PROJECT}/builds"))?)
                .bearer_auth(&key)
                .json(&json!({ "job_name": "ci", "external_id": format!("lag-{n}"), "branch": "main" }))
                .send()
                .await?;
            let status = created.status();
            let build: Value = created.json().await?;
            if !status.is_success() {
                bail!("creating a build answered {status}: {build}");
            }
            let build_id = build["id"].as_str().context("build without id")?.to_owned();
            let uploaded = self
                .http
                .post(self.gateway_url(&format!(
                    "/api/v1/projects/{BIG_PROJECT}/builds/{build_id}/results"
                ))?)
                .bearer_auth(&key)
                .header("Content-Type", "application/xml")
                .body(report.clone())
                .send()
                .await?;
            if !uploaded.status().is_success() {
                bail!(
                    "uploading answered {}: {}",
                    uploaded.status(),
                    uploaded.text().await?
                );
            }
            let finished = self
                .http
                .patch(
                    self.gateway_url(&format!("/api/v1/projects/{BIG_PROJECT}/builds/{build_id}"))?,
                )
                .bearer_auth(&key)
                .json(&json!({ "status": "failed" }))
                .send()
                .await?;
            if !finished.status().is_success() {
                bail!(
                    "finishing the build answered {}: {}",
                    finished.status(),
                    finished.text().await?
                );
            }
            let waiting = Instant::now();
            loop {
                if self.builds_today(&trends, token).await? > counted_before {
                    break;
                }
                if waiting.elapsed() > LAG_DEADLINE {
                    bail!(
                        "build {build_id} not in the trends {} s after it finished",
                        LAG_DEADLINE.as_secs()
                    );
                }
                tokio::time::sleep(LAG_POLL).await;
            }
            let shown = Utc::now();
            let occurred: chrono::DateTime<Utc> = admin
                .query_one(
                    "SELECT occurred_at FROM failure.outbox_analytics
                      WHERE project_id = $1 AND kind = 'build.completed'
                        AND payload->>'build_id' = $2",
                    &[&project_id, &build_id],
                )
                .await
                .context("the build's build.completed event")?
                .try_get(0)?;
            let lag = (shown - occurred).num_microseconds().unwrap_or(i64::MAX) as f64 / 1000.0;
            lag_ms.push(lag);
        }
        let mut sorted = lag_ms.clone();
        sorted.sort_by(f64::total_cmp);
        eprintln!(
            "bench:   rollup lag over {} builds: p50 {:.0} ms, p99 {:.0} ms",
            lag_ms.len(),
            percentile(&sorted, 50.0).unwrap_or(f64::NAN),
            percentile(&sorted, 99.0).unwrap_or(f64::NAN)
        );
        Ok(RollupLag {
            builds: u32::try_from(lag_ms.len())?,
            testcases_per_build: counts.testcases,
            poll_ms: u64::try_from(LAG_POLL.as_millis())?,
            lag_ms,
        })
    }

    /// Today's (UTC) finished builds in the trends at `url`.
    async fn builds_today(&self, url: &str, token: &str) -> anyhow::Result<i64> {
        let trends = self.expect_ok(url, token).await.context("trends")?;
        let today = Utc::now().date_naive().to_string();
        Ok(trends["days"]
            .as_array()
            .context("trends without days")?
            .iter()
            .find(|day| day["day"] == today.as_str())
            .and_then(|day| day["builds"].as_i64())
            .unwrap_or(0))
    }
}
