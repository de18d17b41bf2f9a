//! The ingestion section: uploads through the gateway as CI jobs make them.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::json;

use crate::junit::{self};
use crate::seed;
use crate::services::{self};

use super::*;

/// Measures the ingestion section alone (`faultline-bench ingestion`):
/// single uploads of every size, sustained ingestion and the large report.
pub async fn ingestion_only(
    config: SuiteConfig,
) -> anyhow::Result<(Option<IngestionResults>, Vec<Missing>)> {
    let (mut ctx, _, _) = start(config, false).await?;
    let measured = ctx.ingestion_section().await;
    ctx.platform.stop();
    Ok(match measured {
        Ok(ingestion) => {
            let missing = ingestion.missing_parts();
            (Some(ingestion), missing)
        }
        Err(error) => (None, vec![not_measured("ingestion", &error)]),
    })
}

impl IngestionResults {
    /// The parts of the section a run could not measure.
    pub(super) fn missing_parts(&self) -> Vec<Missing> {
        let mut missing = Vec::new();
        if self.sustained.is_none() {
            missing.push(Missing {
                section: "ingestion.sustained".to_owned(),
                reason: "no sustained figure".to_owned(),
            });
        }
        if self.large.is_none() {
            missing.push(Missing {
                section: "ingestion.large".to_owned(),
                reason: "no large-report figure".to_owned(),
            });
        }
        missing
    }
}

/// How long the events of the uploads before may take to be delivered.
const EVENTS_DELIVERED_WITHIN: Duration = Duration::from_secs(600);

impl Ctx {
    /// Waits until the failure service has delivered every event of the
    /// uploads before (its two outboxes hold none undelivered), so an
    /// upload is not timed against the delivery of the one before it: a
    /// 1,000,000-case upload leaves 50,000 new-group events behind, whose
    /// delivery and rollups keep the database busy for a while after it
    /// answered. The sustained figure includes that work.
    async fn wait_for_events_delivered(&self) -> anyhow::Result<()> {
        let (admin, _task) = seed::admin_client(&self.config.admin_url, &self.run_db).await?;
        let started = Instant::now();
        loop {
            let pending: i64 = admin
                .query_one(
                    "SELECT (SELECT count(*) FROM failure.outbox WHERE delivered_at IS NULL)
                          + (SELECT count(*) FROM failure.outbox_analytics WHERE delivered_at IS NULL)",
                    &[],
                )
                .await?
                .try_get(0)?;
            if pending == 0 {
                let waited = started.elapsed();
                if waited > Duration::from_secs(1) {
                    eprintln!(
                        "bench:   the uploads' events were delivered {:.1} s later",
                        waited.as_secs_f64()
                    );
                }
                return Ok(());
            }
            if started.elapsed() > EVENTS_DELIVERED_WITHIN {
                bail!(
                    "{pending} events still undelivered after {} s",
                    EVENTS_DELIVERED_WITHIN.as_secs()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub(super) async fn create_api_key(&self, project: &str) -> anyhow::Result<String> {
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

    pub(super) async fn ingestion_section(&mut self) -> anyhow::Result<IngestionResults> {
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
        for &testcases in self.plan.single_sizes {
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
                self.wait_for_events_delivered().await?;
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
        self.wait_for_events_delivered().await?;
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
        // Like every timed upload, after the work of the ones before (the
        // sustained run's events) is done, so the peak is this report's.
        self.wait_for_events_delivered().await?;
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
            commit: None,
            measured_at: None,
        })
    }
}

/// Uploads through the gateway as a CI job would: create the build, then
/// post the report to it.
#[derive(Debug, Clone)]
pub(super) struct Uploader {
    http: reqwest::Client,
    gateway: String,
    counter: Arc<AtomicU64>,
}

impl Uploader {
    /// (seconds of the results upload, its status, tests it counted).
    pub(super) async fn upload(
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
