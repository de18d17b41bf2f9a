//! Load generation with oha: an unthrottled run for max throughput, or a
//! fixed rate (`-q`) with `--latency-correction`, so a slow response delays
//! the requests behind it in the measurement too (no coordinated omission).

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::Deserialize;

use crate::results::LoadRun;

#[derive(Debug, Clone)]
pub struct Oha {
    path: PathBuf,
    version: String,
}

#[derive(Debug, Clone)]
pub struct Load {
    pub url: String,
    /// `url` is a regex; each request gets a random match.
    pub rand_regex: bool,
    pub headers: Vec<(String, String)>,
    pub connections: u32,
    pub secs: u64,
    /// Requests per second; `None` is as fast as the connections go.
    pub rate: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OhaReport {
    summary: OhaSummary,
    latency_percentiles: OhaPercentiles,
    #[serde(default)]
    status_code_distribution: std::collections::BTreeMap<String, u64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OhaSummary {
    success_rate: f64,
    requests_per_sec: f64,
}

#[derive(Debug, Deserialize)]
struct OhaPercentiles {
    p50: Option<f64>,
    p90: Option<f64>,
    p99: Option<f64>,
    #[serde(rename = "p99.9")]
    p999: Option<f64>,
}

/// Reduces oha's JSON output to a [`LoadRun`].
pub fn parse(json: &str) -> anyhow::Result<LoadRun> {
    let report: OhaReport = serde_json::from_str(json).context("oha JSON output")?;
    let non_2xx = report
        .status_code_distribution
        .iter()
        .filter(|(code, _)| !code.starts_with('2'))
        .map(|(_, count)| count)
        .sum();
    let ok: u64 = report
        .status_code_distribution
        .iter()
        .filter(|(code, _)| code.starts_with('2'))
        .map(|(_, count)| count)
        .sum();
    if ok == 0 {
        bail!(
            "no request succeeded (status codes: {:?})",
            report.status_code_distribution
        );
    }
    Ok(LoadRun {
        requests_per_sec: report.summary.requests_per_sec,
        p50_ms: report.latency_percentiles.p50.unwrap_or(f64::NAN) * 1000.0,
        p99_ms: report.latency_percentiles.p99.unwrap_or(f64::NAN) * 1000.0,
        p90_ms: report.latency_percentiles.p90.map(|s| s * 1000.0),
        p999_ms: report.latency_percentiles.p999.map(|s| s * 1000.0),
        success_rate: report.summary.success_rate,
        non_2xx,
    })
}

impl Oha {
    pub async fn locate(path: &Path) -> anyhow::Result<Self> {
        let output = tokio::process::Command::new(path)
            .arg("--version")
            .output()
            .await
            .with_context(|| format!("running {}", path.display()))?;
        let version = String::from_utf8_lossy(&output.stdout).trim().to_owned();
        Ok(Self {
            path: path.to_owned(),
            version,
        })
    }

    pub fn version(&self) -> &str {
        &self.version
    }

    /// Runs one load and keeps oha's raw JSON in `raw`.
    pub async fn run(&self, load: &Load, raw: &Path) -> anyhow::Result<LoadRun> {
        let mut command = tokio::process::Command::new(&self.path);
        command
            .args(["--no-tui", "--output-format", "json"])
            .args(["-c", &load.connections.to_string()])
            .args(["-z", &format!("{}s", load.secs)]);
        if let Some(rate) = load.rate {
            command
                .args(["-q", &format!("{rate:.0}")])
                .arg("--latency-correction");
        }
        for (name, value) in &load.headers {
            command.args(["-H", &format!("{name}: {value}")]);
        }
        if load.rand_regex {
            command.arg("--rand-regex-url");
        }
        command.arg(&load.url);
        let output = command.output().await.context("running oha")?;
        if !output.status.success() {
            bail!(
                "oha failed ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            );
        }
        if let Some(dir) = raw.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(raw, &output.stdout)?;
        parse(&String::from_utf8_lossy(&output.stdout))
            .with_context(|| format!("oha run against {}", load.url))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_throughput_and_percentiles_in_milliseconds() {
        let json = r#"{"summary":{"successRate":1.0,"total":5.0,"requestsPerSec":2000.5},
            "latencyPercentiles":{"p50":0.0012,"p90":0.002,"p99":0.0045,"p99.9":0.0125},
            "statusCodeDistribution":{"200":9990,"429":10}}"#;
        let run = parse(json).expect("parses");
        assert_eq!(run.requests_per_sec, 2000.5);
        assert!((run.p50_ms - 1.2).abs() < 1e-9);
        assert!((run.p99_ms - 4.5).abs() < 1e-9);
        assert!((run.p90_ms.unwrap() - 2.0).abs() < 1e-9);
        assert!((run.p999_ms.unwrap() - 12.5).abs() < 1e-9);
        assert_eq!(run.non_2xx, 10);
    }

    #[test]
    fn a_run_without_any_success_is_an_error() {
        let json = r#"{"summary":{"successRate":1.0,"requestsPerSec":10.0},
            "latencyPercentiles":{"p50":0.001,"p99":0.002},
            "statusCodeDistribution":{"401":100}}"#;
        assert!(parse(json).is_err());
    }
}
