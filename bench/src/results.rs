//! What one `make bench` run measured, as saved in `bench/results/latest.json`.
//!
//! Every run of every figure is kept, not just its median: the report writer
//! derives medians, ratios and goal verdicts from this file alone, so the
//! report can be regenerated (and checked) from the saved JSON.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct BenchResults {
    pub meta: Meta,
    pub gateway: Option<GatewayResults>,
    pub ingestion: Option<IngestionResults>,
    pub queries: Option<QueryResults>,
    pub rls: Option<RlsResults>,
    pub resources: Option<ResourceResults>,
    pub caches: Option<CacheResults>,
    /// Absent in results saved before grouping was measured.
    #[serde(default)]
    pub grouping: Option<GroupingResults>,
    /// Absent in results saved before analytics was measured.
    #[serde(default)]
    pub analytics: Option<AnalyticsResults>,
    /// Absent in results saved before the web pages were measured.
    #[serde(default)]
    pub pages: Option<PageResults>,
    /// Absent in results saved before the gateway was measured against a
    /// static upstream.
    #[serde(default)]
    pub static_gateway: Option<StaticGatewayResults>,
    /// Absent in results saved before the cost curves were measured.
    #[serde(default)]
    pub curves: Option<CurveResults>,
    /// Measurements that could not be taken, with the reason.
    pub missing: Vec<Missing>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Missing {
    pub section: String,
    pub reason: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Meta {
    pub started_at: String,
    pub duration_secs: f64,
    pub commit: String,
    pub command: String,
    pub quick: bool,
    pub machine: Machine,
    pub oha_version: String,
    pub nginx_version: String,
    /// Runs per figure (the median of these is reported).
    pub runs_per_figure: usize,
    /// Length of one load-generator run.
    pub run_secs: u64,
    /// Connections of the load generator.
    pub connections: u32,
    pub dataset: Dataset,
    /// Time spent seeding the dataset in this run (0 when the cached seed was reused).
    pub seed_secs: f64,
    /// Wall time of the one-time tool installs and builds before the suite, when
    /// the script measured them.
    pub setup_secs: Option<f64>,
    /// One-time installs of the tools (nginx, oha) on this machine, as
    /// recorded when they happened (they are skipped once present).
    pub install_secs: Option<f64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Machine {
    pub cpu_model: String,
    pub cores: usize,
    pub memory_mb: u64,
    pub kernel: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Dataset {
    pub projects: u32,
    pub builds_per_project: u32,
    pub tests_per_project: u32,
    pub test_results: u64,
    pub failures: u64,
    pub days: u32,
}

/// One load-generator run, reduced to what the report uses.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq)]
pub struct LoadRun {
    pub requests_per_sec: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// Taken where the report shows them (absent in older results).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p90_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p999_ms: Option<f64>,
    pub success_rate: f64,
    /// Requests answered with a status other than 2xx.
    pub non_2xx: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GatewayResults {
    /// What was requested, the same backend route for all three targets.
    pub endpoint: String,
    /// Max throughput runs per target (`direct`, `nginx`, `gateway`).
    pub max: Vec<TargetRuns>,
    /// Fixed-rate runs per target and load level.
    pub latency: Vec<LatencyLevel>,
    pub nginx_logging: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TargetRuns {
    pub target: String,
    pub runs: Vec<LoadRun>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LatencyLevel {
    /// Percent of nginx's max throughput.
    pub load_percent: u32,
    pub rate: f64,
    pub targets: Vec<TargetRuns>,
}

/// The gateway's own cost: the same fixed answer from a static upstream
/// (nginx answering from memory) directly, through nginx as a reverse
/// proxy, and through the gateway doing its full work on a user route and
/// on a project route.
/// A process's CPU samples folded by stack (`perf record` with DWARF call
/// graphs), the flamegraph's raw data.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CpuProfile {
    /// The load the profiled process was under.
    pub target: String,
    pub secs: u64,
    pub frequency_hz: u32,
    /// `thread;outermost;...;innermost` to samples with that stack.
    pub stacks: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StaticGatewayResults {
    /// Each target's request, by target name.
    pub requests: Vec<(String, String)>,
    /// Bytes of the upstream's answer body.
    pub body_bytes: usize,
    /// Max throughput runs per target, the targets interleaved in each round.
    pub max: Vec<TargetRuns>,
    /// Fixed-rate runs of each target at half its own median max.
    pub own_half: Vec<RateRuns>,
    /// Fixed-rate runs of every target at one rate all of them hold.
    pub common: LatencyLevel,
    pub connections: u32,
    /// Where the gateway's CPU time went during one extra max-throughput
    /// run of `gateway_user` (not in the figures above: sampling slows it).
    #[serde(default)]
    pub profile: Option<CpuProfile>,
    /// Max throughput by the number of distinct tokens (user route) and of
    /// distinct projects (project route) the requests carry.
    #[serde(default)]
    pub caches: Option<GatewayCacheCurves>,
    /// Set when measured on its own (`faultline-bench static-gateway`).
    #[serde(default)]
    pub commit: Option<String>,
    #[serde(default)]
    pub measured_at: Option<String>,
}

impl StaticGatewayResults {
    /// The measurements of the section that are absent: the gateway's CPU
    /// profile, its cache curves.
    pub fn missing_parts(&self) -> Vec<Missing> {
        let mut missing = Vec::new();
        if self.profile.is_none() {
            missing.push(Missing {
                section: "static_gateway.profile".to_owned(),
                reason: "no CPU profile of the gateway".to_owned(),
            });
        }
        if self
            .caches
            .as_ref()
            .is_none_or(|c| c.tokens.is_empty() || c.projects.is_empty())
        {
            missing.push(Missing {
                section: "static_gateway.caches".to_owned(),
                reason: "no throughput curve by distinct tokens and projects".to_owned(),
            });
        }
        missing
    }
}

/// The gateway's max throughput as the keys of its caches spread out, all
/// points taken with the same load generator (see `generator`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GatewayCacheCurves {
    /// How the load was generated.
    pub generator: String,
    /// The generator against the static upstream directly: its own ceiling.
    pub ceiling: Vec<LoadRun>,
    /// `gateway_user` with this many distinct access tokens (users).
    pub tokens: Vec<CurvePoint>,
    /// `gateway_project` with this many distinct project slugs.
    pub projects: Vec<CurvePoint>,
    /// The gateway's cache capacities (verified tokens, project access).
    pub token_cache_size: u64,
    pub access_cache_size: u64,
}

/// Runs at one point of a curve.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CurvePoint {
    pub distinct: u64,
    pub runs: Vec<LoadRun>,
}

/// How read cost grows with the data: each point measured.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CurveResults {
    /// Requests per second of the fixed-rate reads.
    pub rate: f64,
    /// The failures list and the groups list by the project's size.
    pub project_size: Vec<ReadPoint>,
    /// The same reads of one seeded project by the number of projects in
    /// the database.
    pub project_count: Vec<ReadPoint>,
}

/// The two list reads at one point of a curve.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReadPoint {
    pub project: String,
    /// Test results of the project read.
    pub results: u64,
    /// Failures of the project read.
    pub failures: u64,
    /// Projects in the database.
    pub projects: u64,
    /// Test results in the database, all projects.
    pub total_results: u64,
    pub failures_list: Vec<LoadRun>,
    pub groups_list: Vec<LoadRun>,
}

/// Fixed-rate runs of one target at one rate.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RateRuns {
    pub rate: f64,
    pub runs: TargetRuns,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IngestionResults {
    /// Single uploads timed end to end through the gateway.
    pub single: Vec<UploadRuns>,
    pub sustained: Option<Sustained>,
    pub large: Option<LargeUpload>,
    /// The failure service's peak RSS while ingesting the 10k/100k reports
    /// and the sustained run.
    pub failure_peak_rss_mb: f64,
    /// Set when measured on its own (`faultline-bench ingestion`).
    #[serde(default)]
    pub commit: Option<String>,
    #[serde(default)]
    pub measured_at: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UploadRuns {
    pub testcases: u64,
    pub failures: u64,
    pub report_bytes: u64,
    /// Seconds per upload, one per run.
    pub secs: Vec<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Sustained {
    pub uploaders: u32,
    pub report_testcases: u64,
    pub uploads: u64,
    pub results: u64,
    pub secs: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LargeUpload {
    pub report_bytes: u64,
    pub testcases: u64,
    /// HTTP status of the upload; the RSS figure stands either way.
    pub status: u16,
    pub secs: f64,
    pub failure_peak_rss_mb: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct QueryResults {
    pub rate: f64,
    pub queries: Vec<QueryRuns>,
    /// Set when measured on its own (`faultline-bench queries`), with the
    /// RLS section.
    #[serde(default)]
    pub commit: Option<String>,
    #[serde(default)]
    pub measured_at: Option<String>,
    /// The access lookup's measured runs in the project service's own
    /// request histogram; absent in results saved before it was read.
    #[serde(default)]
    pub access_in_service: Option<ServiceHistogram>,
}

/// A route's requests in a service's `http_server_request_duration_seconds`
/// over a span of the run: from the request read to the answer's head
/// written, without the time in sockets and run queues before and after.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServiceHistogram {
    pub requests: u64,
    /// Cumulative counts: requests that took at most `le_ms`, by bucket.
    pub buckets: Vec<HistogramBucket>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct HistogramBucket {
    pub le_ms: f64,
    pub requests: u64,
}

impl ServiceHistogram {
    /// The requests counted after `earlier` was read.
    pub fn since(&self, earlier: &Self) -> Self {
        Self {
            requests: self.requests.saturating_sub(earlier.requests),
            buckets: self
                .buckets
                .iter()
                .map(|&HistogramBucket { le_ms, requests }| HistogramBucket {
                    le_ms,
                    requests: requests.saturating_sub(earlier.within(le_ms).unwrap_or(0)),
                })
                .collect(),
        }
    }

    /// The share (0..1) of requests over the bucket bound `le_ms`.
    pub fn share_over(&self, le_ms: f64) -> Option<f64> {
        let within = self.within(le_ms)?;
        (self.requests > 0).then(|| 1.0 - within as f64 / self.requests as f64)
    }

    /// The requests that took at most `le_ms`, if that is a bucket bound.
    fn within(&self, le_ms: f64) -> Option<u64> {
        self.buckets
            .iter()
            .find(|b| b.le_ms == le_ms)
            .map(|b| b.requests)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct QueryRuns {
    /// Stable key: `failures_list`, `groups_list`, `build`, `test_history`, `access_lookup`.
    pub name: String,
    pub endpoint: String,
    pub runs: Vec<LoadRun>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RlsResults {
    pub query: String,
    pub executions: usize,
    /// Per-execution times in ms, superuser (RLS bypassed).
    pub without_rls_ms: Vec<f64>,
    /// Per-execution times in ms, runtime role with RLS.
    pub with_rls_ms: Vec<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ResourceResults {
    pub services: Vec<ServiceResources>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServiceResources {
    pub name: String,
    pub start_to_ready_ms: f64,
    pub idle_rss_mb: f64,
    /// Peak RSS over the whole suite (the 256 MB upload excluded; it has its own figure).
    pub peak_rss_mb: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CacheResults {
    pub token_hits: u64,
    pub token_misses: u64,
    pub access_hits: u64,
    pub access_misses: u64,
}

/// Failure grouping on the CPU alone: quality against the labelled set
/// and signatures per second on one thread.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GroupingResults {
    /// Failures in the labelled set, and the problems they belong to.
    pub labelled_failures: u64,
    pub problems: u64,
    /// Pairs compared (every pair of the labelled set).
    pub pairs: u64,
    pub precision: f64,
    pub recall: f64,
    pub together_but_different: u64,
    pub apart_but_same: u64,
    /// Failures signed per run, their message and trace bytes, and the
    /// distinct signatures among them.
    pub throughput_failures: u64,
    pub throughput_input_bytes: u64,
    pub distinct_signatures: u64,
    /// Seconds per run.
    pub secs: Vec<f64>,
    /// Set when the section was measured on its own
    /// (`faultline-bench grouping`), not within the run described in `meta`.
    #[serde(default)]
    pub commit: Option<String>,
    #[serde(default)]
    pub measured_at: Option<String>,
}

impl GroupingResults {
    /// Signatures per second, median over the runs.
    pub fn failures_per_sec(&self) -> Option<f64> {
        median(&self.secs).map(|secs| self.throughput_failures as f64 / secs)
    }
}

/// The analytics dashboards and the quality gate through the gateway at
/// a fixed rate on the big project, and the rollup lag.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AnalyticsResults {
    /// The big project's slug and its test results.
    pub project: String,
    pub project_results: u64,
    /// Projects the overview's user is a member of.
    pub overview_projects: u32,
    pub rate: f64,
    /// One per dashboard endpoint (`summary`, `trends_7`, ...).
    pub endpoints: Vec<QueryRuns>,
    /// Each endpoint's first call, the warm-up before its runs (ms): for
    /// the rankings, the one that computes the answer later calls reuse.
    #[serde(default)]
    pub first_call_ms: BTreeMap<String, f64>,
    /// The quality-gate call over `gate_builds` builds, once each gate is
    /// stored.
    pub gate: QueryRuns,
    pub gate_builds: u32,
    /// The first call of each of those builds, which evaluates and stores
    /// its gate (one at a time, ms).
    pub gate_first_call_ms: Vec<f64>,
    pub rollup_lag: Option<RollupLag>,
    /// Seeding, when this run seeded (0 when the cached seed was reused),
    /// and the part of it computing rollups.
    pub seed_secs: f64,
    pub rollup_seed_secs: f64,
    /// What the reader should know about the run (a shared machine).
    #[serde(default)]
    pub note: Option<String>,
    /// Set when the section was measured on its own
    /// (`faultline-bench analytics`), not within the run described in `meta`.
    #[serde(default)]
    pub commit: Option<String>,
    #[serde(default)]
    pub measured_at: Option<String>,
}

/// From a build's `build.completed` event (its `occurred_at` in the
/// failure service's queue) to the moment the trends first count it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RollupLag {
    pub builds: u32,
    pub testcases_per_build: u64,
    /// How often the trends were asked while waiting (ms).
    pub poll_ms: u64,
    /// One per build (ms).
    pub lag_ms: Vec<f64>,
}

/// The web dashboard's pages of the big project, through the gateway with
/// a signed-in session, at a fixed rate, and what each weighs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PageResults {
    pub project: String,
    pub rate: f64,
    pub pages: Vec<PageRuns>,
    #[serde(default)]
    pub note: Option<String>,
    #[serde(default)]
    pub commit: Option<String>,
    #[serde(default)]
    pub measured_at: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PageRuns {
    /// `dashboard`, `build`, `group`, `flaky`, `settings`.
    pub name: String,
    pub path: String,
    pub runs: Vec<LoadRun>,
    /// The page's HTML and the assets it loads (stylesheet, script):
    /// bodies as sent (no compression is offered) plus response headers.
    pub html_bytes: u64,
    pub assets: Vec<AssetWeight>,
}

impl PageRuns {
    pub fn transferred_bytes(&self) -> u64 {
        self.html_bytes + self.assets.iter().map(|a| a.bytes).sum::<u64>()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AssetWeight {
    pub path: String,
    pub bytes: u64,
}

impl QueryRuns {
    pub fn median_of(&self, field: fn(&LoadRun) -> f64) -> Option<f64> {
        median(&self.runs.iter().map(field).collect::<Vec<_>>())
    }
}

/// The median; `None` for no values.
pub fn median(values: &[f64]) -> Option<f64> {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if sorted.is_empty() {
        return None;
    }
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    Some(if sorted.len() % 2 == 0 {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    } else {
        sorted[mid]
    })
}

/// The nearest-rank percentile (`p` in 0..=100); `None` for no values.
pub fn percentile(values: &[f64], p: f64) -> Option<f64> {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if sorted.is_empty() {
        return None;
    }
    sorted.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

impl TargetRuns {
    /// One empty list of runs per target, in the targets' order.
    pub fn each(targets: &[&str]) -> Vec<Self> {
        targets
            .iter()
            .map(|target| Self {
                target: (*target).to_owned(),
                runs: Vec::new(),
            })
            .collect()
    }

    pub fn median_of(&self, field: fn(&LoadRun) -> f64) -> Option<f64> {
        median(&self.runs.iter().map(field).collect::<Vec<_>>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&[]), None);
    }

    #[test]
    fn percentile_uses_nearest_rank() {
        let values: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&values, 50.0), Some(50.0));
        assert_eq!(percentile(&values, 99.0), Some(99.0));
        assert_eq!(percentile(&values, 100.0), Some(100.0));
        assert_eq!(percentile(&[7.0], 99.0), Some(7.0));
    }
}
