//! `bench/REPORT.md` and its charts, from a saved results file only: every
//! median, ratio and verdict is derived here, so a report can always be
//! regenerated from (and checked against) the raw JSON beside it.

use std::fmt::Write;
use std::path::Path;

use crate::flamegraph;
use crate::results::*;

mod analytics;
mod charts;
mod curves;
mod sections;

use analytics::{analytics_section, pages_section};
pub use charts::charts;
use curves::curves_section;
use sections::*;

/// Which side of the target a measurement must be on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    AtMost,
    AtLeast,
}

/// "met" or "missed" with the gap, in the goal's unit.
pub fn verdict(measured: Option<f64>, bound: Bound, target: f64, unit: &str) -> String {
    let Some(value) = measured.filter(|v| v.is_finite()) else {
        return "not measured".to_owned();
    };
    let gap = (value - target).abs();
    let met = match bound {
        Bound::AtMost => value <= target,
        Bound::AtLeast => value >= target,
    };
    let gap = format!("{}{unit}", fmt(gap));
    match (met, bound) {
        (true, Bound::AtMost) => format!("**met** ({gap} under)"),
        (true, Bound::AtLeast) => format!("**met** ({gap} over)"),
        (false, Bound::AtMost) => format!("**missed** ({gap} over)"),
        (false, Bound::AtLeast) => format!("**missed** ({gap} short)"),
    }
}

/// Numbers as a reader wants them: few digits, thousands separated.
pub fn fmt(value: f64) -> String {
    if !value.is_finite() {
        return "n/a".to_owned();
    }
    let abs = value.abs();
    if abs >= 1000.0 {
        let rounded = value.round() as i64;
        let digits = rounded.unsigned_abs().to_string();
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        if rounded < 0 { format!("-{out}") } else { out }
    } else if abs >= 100.0 {
        format!("{value:.0}")
    } else if abs >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    }
}

/// A count, grouped like [`fmt`] but never with decimals.
pub fn count(value: u64) -> String {
    if value >= 1000 {
        fmt(value as f64)
    } else {
        value.to_string()
    }
}

fn opt(value: Option<f64>) -> String {
    value.map_or_else(|| "n/a".to_owned(), fmt)
}

fn target<'a>(runs: &'a [TargetRuns], name: &str) -> Option<&'a TargetRuns> {
    runs.iter().find(|t| t.target == name)
}

fn med(runs: Option<&TargetRuns>, field: fn(&LoadRun) -> f64) -> Option<f64> {
    runs.and_then(|t| t.median_of(field))
}

fn goal_row(out: &mut String, goal: &str, measured: String, verdict: String) {
    let _ = writeln!(out, "| {goal} | {measured} | {verdict} |");
}

/// Writes `REPORT.md` to `report` and the charts into `charts_dir` (linked
/// relative to the report).
/// The gateway's flamegraph, beside the charts.
const GATEWAY_FLAMEGRAPH: &str = "gateway-flamegraph.svg";

/// The stages of the gateway's request path in its CPU profile: a name
/// and the text a frame of that stage contains.
const PROFILE_STAGES: [(&str, &str); 10] = [
    (
        "HTTP server (actix-http: parse, write, connection)",
        "actix_http::",
    ),
    (
        "the request path (route, auth, limits, proxy)",
        "api_gateway::",
    ),
    (
        "upstream client (the gateway's own HTTP/1.1)",
        "api_gateway::upstream::",
    ),
    (
        "the host's middleware (request id, span, metrics, limits; and the handler it calls)",
        "middleware::host_request",
    ),
    (
        "tracing subscriber (span registry, filter)",
        "tracing_subscriber::",
    ),
    (
        "JSON log lines (span fields, the line)",
        "telemetry::json_log::",
    ),
    (
        "internal context token (HS256 sign)",
        "InternalTokenIssuer::issue",
    ),
    ("JSON (serde_json)", "serde_json::"),
    ("allocator (mimalloc)", "mi_"),
    (
        "system calls (socket reads and writes, epoll)",
        "entry_SYSCALL",
    ),
];

pub fn write(results: &BenchResults, report: &Path, charts_dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(charts_dir)?;
    let mut links = Vec::new();
    for (file, chart) in charts(results) {
        std::fs::write(charts_dir.join(file), chart.render())?;
        links.push(file);
    }
    if let Some(profile) = results
        .static_gateway
        .as_ref()
        .and_then(|s| s.profile.as_ref())
    {
        let folded = flamegraph::Folded::from(profile.stacks.clone());
        let title = format!(
            "The gateway under unthrottled load ({}), {} samples",
            profile.target, folded.samples
        );
        std::fs::write(
            charts_dir.join(GATEWAY_FLAMEGRAPH),
            flamegraph::svg(&folded, &title),
        )?;
    }
    let base = report.parent().unwrap_or(Path::new("."));
    let rel = charts_dir
        .strip_prefix(base)
        .unwrap_or(charts_dir)
        .display()
        .to_string();
    std::fs::write(report, render(results, &rel))?;
    Ok(())
}

pub fn render(results: &BenchResults, charts_rel: &str) -> String {
    let mut out = String::new();
    let meta = &results.meta;
    let _ = writeln!(out, "# Faultline benchmarks\n");
    let _ = writeln!(
        out,
        "Generated by `faultline-bench report` from [`results/latest.json`](results/latest.json) (the run's raw figures; every run of every figure is in it). Regenerate with `cargo run --release -p faultline-bench -- report`.\n"
    );
    if meta.quick {
        let _ = writeln!(
            out,
            "> **Quick mode** (`FAULTLINE_BENCH_QUICK=1`): one short run per figure on a small dataset. For development only; the goals below are about the full suite.\n"
        );
    }
    let _ = writeln!(out, "## Run\n");
    let _ = writeln!(out, "| | |\n|---|---|");
    let _ = writeln!(out, "| date | {} |", meta.started_at);
    let _ = writeln!(out, "| commit | `{}` |", meta.commit);
    let _ = writeln!(out, "| command | `{}` |", meta.command);
    let _ = writeln!(
        out,
        "| machine | {} cores, {}, {} MB memory, Linux {} |",
        meta.machine.cores, meta.machine.cpu_model, meta.machine.memory_mb, meta.machine.kernel
    );
    let _ = writeln!(
        out,
        "| load generator | {} on the same machine, {} connections, `--latency-correction` on fixed-rate runs |",
        meta.oha_version, meta.connections
    );
    let _ = writeln!(out, "| reference proxy | {} |", meta.nginx_version);
    let _ = writeln!(
        out,
        "| runs | median of {} runs of {} s per figure |",
        meta.runs_per_figure, meta.run_secs
    );
    let _ = writeln!(
        out,
        "| measured suite | {} s (dataset seeding {} s of it; 0 when the cached seed was reused) |",
        fmt(meta.duration_secs),
        fmt(meta.seed_secs)
    );
    if let Some(setup) = meta.setup_secs {
        let _ = writeln!(
            out,
            "| setup before the suite | {} s (tool installs when missing, release build) |",
            fmt(setup)
        );
    }
    if let Some(install) = meta.install_secs {
        let _ = writeln!(
            out,
            "| one-time tool installs | {} s when they happened (nginx package, `cargo install --locked oha`); later runs reuse them |",
            fmt(install)
        );
    }
    let d = &meta.dataset;
    let _ = writeln!(
        out,
        "| dataset | {} projects, {} builds and {} tests each over {} days: {} test results, {} failures |",
        d.projects,
        d.builds_per_project,
        d.tests_per_project,
        d.days,
        count(d.test_results),
        count(d.failures)
    );
    let _ = writeln!(
        out,
        "\nThe load generator, the services, nginx and PostgreSQL share the machine's cores: absolute numbers are this machine's, ratios are the portable part.\n"
    );
    if !results.missing.is_empty() {
        let _ = writeln!(out, "## Not measured\n");
        for missing in &results.missing {
            let _ = writeln!(out, "- **{}**: {}", missing.section, missing.reason);
        }
        let _ = writeln!(out);
    }

    gateway_section(&mut out, results, charts_rel);
    static_gateway_section(&mut out, results, charts_rel);
    ingestion_section(&mut out, results, charts_rel);
    query_section(&mut out, results, charts_rel);
    rls_section(&mut out, results);
    resource_section(&mut out, results, charts_rel);
    cache_section(&mut out, results);
    grouping_section(&mut out, results);
    analytics_section(&mut out, results);
    pages_section(&mut out, results);
    curves_section(&mut out, results, charts_rel);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(rps: f64, p99: f64) -> LoadRun {
        LoadRun {
            requests_per_sec: rps,
            p50_ms: p99 / 2.0,
            p99_ms: p99,
            success_rate: 1.0,
            non_2xx: 0,
            ..LoadRun::default()
        }
    }

    fn targets(values: [(f64, f64); 3]) -> Vec<TargetRuns> {
        ["direct", "nginx", "gateway"]
            .iter()
            .zip(values)
            .map(|(name, (rps, p99))| TargetRuns {
                target: (*name).to_owned(),
                runs: vec![run(rps, p99), run(rps * 2.0, p99 * 2.0), run(rps, p99)],
            })
            .collect()
    }

    #[test]
    fn verdicts_state_the_gap_on_either_side() {
        assert_eq!(
            verdict(Some(0.8), Bound::AtMost, 1.0, " s"),
            "**met** (0.20 s under)"
        );
        assert_eq!(
            verdict(Some(1.5), Bound::AtMost, 1.0, " s"),
            "**missed** (0.50 s over)"
        );
        assert_eq!(
            verdict(Some(60000.0), Bound::AtLeast, 50000.0, " /s"),
            "**met** (10,000 /s over)"
        );
        assert_eq!(
            verdict(Some(70.0), Bound::AtLeast, 75.0, " points"),
            "**missed** (5.00 points short)"
        );
        assert_eq!(verdict(None, Bound::AtMost, 1.0, " s"), "not measured");
    }

    #[test]
    fn numbers_are_grouped_and_rounded() {
        assert_eq!(fmt(1234567.4), "1,234,567");
        assert_eq!(fmt(-1500.0), "-1,500");
        assert_eq!(fmt(123.4), "123");
        assert_eq!(fmt(12.34), "12.3");
        assert_eq!(fmt(1.234), "1.23");
        assert_eq!(count(0), "0");
        assert_eq!(count(5_000_000), "5,000,000");
    }

    #[test]
    fn the_access_lookup_shows_what_share_of_requests_the_service_itself_took_long_on() {
        let results = BenchResults {
            queries: Some(QueryResults {
                rate: 200.0,
                queries: vec![QueryRuns {
                    name: "access_lookup".to_owned(),
                    endpoint: "/internal/v1/access".to_owned(),
                    runs: vec![run(200.0, 2.5)],
                }],
                commit: None,
                measured_at: None,
                access_in_service: Some(ServiceHistogram {
                    requests: 2000,
                    buckets: [(1.0, 1800), (2.0, 1990), (4.0, 1999), (16.0, 2000)]
                        .map(|(le_ms, requests)| HistogramBucket { le_ms, requests })
                        .to_vec(),
                }),
            }),
            ..BenchResults::default()
        };
        let mut out = String::new();
        query_section(&mut out, &results, "charts");
        assert!(
            out.contains("| 2.50 | under 2.00 ms | **missed** (0.50 ms over) |"),
            "{out}"
        );
        assert!(
            out.contains("over the measured runs, 2,000 requests"),
            "{out}"
        );
        assert!(
            out.contains("| 1.00 ms | 10.00% |\n| 2.00 ms | 0.50% |\n| 4.00 ms | 0.05% |\n"),
            "{out}"
        );
        assert!(!out.contains("| 16.0 ms |"), "{out}");
    }

    #[test]
    fn gateway_goals_use_medians_and_ratios_to_nginx() {
        let results = BenchResults {
            gateway: Some(GatewayResults {
                endpoint: "GET /x".to_owned(),
                max: targets([(1000.0, 1.0), (800.0, 1.0), (500.0, 1.0)]),
                latency: vec![LatencyLevel {
                    load_percent: 50,
                    rate: 400.0,
                    targets: targets([(400.0, 1.0), (400.0, 1.5), (400.0, 3.0)]),
                }],
                nginx_logging: "both to files".to_owned(),
            }),
            ..BenchResults::default()
        };
        let report = render(&results, "charts");
        // 500 / 800 = 62.5% of nginx: missed by 12.5 points.
        assert!(
            report.contains("| 62% | **missed** (12.5 points short) |"),
            "{report}"
        );
        // p99 medians 3.0 vs 1.5: 1.5 ms added.
        assert!(
            report.contains("| 1.50 ms | **missed** (0.50 ms over) |"),
            "{report}"
        );
        assert!(
            report.contains("| gateway | 500 | 0.62 | 500, 1,000, 500 |"),
            "{report}"
        );
    }

    #[test]
    fn static_upstream_goals_take_each_gateway_route_against_nginx() {
        let named = |name: &str, rps: f64, p99: f64| TargetRuns {
            target: name.to_owned(),
            runs: vec![run(rps, p99), run(rps * 3.0, p99 * 3.0), run(rps, p99)],
        };
        let results = BenchResults {
            static_gateway: Some(StaticGatewayResults {
                requests: vec![("gateway_user".to_owned(), "GET /api/v1/me".to_owned())],
                body_bytes: 205,
                max: vec![
                    named("direct", 100_000.0, 0.0),
                    named("nginx", 40_000.0, 0.0),
                    named("gateway_user", 36_000.0, 0.0),
                    named("gateway_project", 20_000.0, 0.0),
                ],
                own_half: vec![RateRuns {
                    rate: 18_000.0,
                    runs: named("gateway_user", 18_000.0, 2.0),
                }],
                common: LatencyLevel {
                    load_percent: 50,
                    rate: 10_000.0,
                    targets: vec![
                        named("nginx", 10_000.0, 1.0),
                        named("gateway_user", 10_000.0, 1.5),
                        named("gateway_project", 10_000.0, 4.0),
                    ],
                },
                connections: 32,
                profile: Some(CpuProfile {
                    target: "gateway_user".to_owned(),
                    secs: 4,
                    frequency_hz: 499,
                    stacks: [
                        ("gw;actix_http::h1::dispatch;mi_malloc".to_owned(), 3),
                        ("gw;api_gateway::proxy::forward".to_owned(), 1),
                    ]
                    .into_iter()
                    .collect(),
                }),
                caches: None,
                commit: None,
                measured_at: None,
            }),
            ..BenchResults::default()
        };
        let report = render(&results, "charts");
        assert!(
            report.contains("| allocator (mimalloc) | `mi_` | 75.0% |"),
            "{report}"
        );
        assert!(report.contains("| `mi_malloc` | 75.0% |"), "{report}");
        assert!(
            report.contains("(charts/gateway-flamegraph.svg)"),
            "{report}"
        );
        // Medians: 36,000 / 40,000 = 90% and 20,000 / 40,000 = 50%.
        assert!(
            report.contains("| 90% | **met** (15.0 points over) |"),
            "{report}"
        );
        assert!(
            report.contains("| 50% | **missed** (25.0 points short) |"),
            "{report}"
        );
        // p99 medians over nginx's 1.0 ms: +0.5 and +3.0 ms.
        assert!(
            report.contains("| 0.50 ms | **met** (0.50 ms under) |"),
            "{report}"
        );
        assert!(
            report.contains("| 3.00 ms | **missed** (2.00 ms over) |"),
            "{report}"
        );
        assert!(
            report.contains(
                "| gateway_user | 18,000 | 1.00 | n/a | 2.00 | n/a | 2.00, 6.00, 2.00 | 0 |"
            ),
            "{report}"
        );
    }

    #[test]
    fn missing_sections_are_listed_and_said_not_measured() {
        let results = BenchResults {
            missing: vec![Missing {
                section: "ingestion".to_owned(),
                reason: "upload answered 500".to_owned(),
            }],
            ..BenchResults::default()
        };
        let report = render(&results, "charts");
        assert!(report.contains("- **ingestion**: upload answered 500"));
        assert!(report.contains("## 2. Ingestion\n\nNot measured."));
    }

    #[test]
    fn rls_overhead_is_the_ratio_of_medians() {
        let results = BenchResults {
            rls: Some(RlsResults {
                query: "q".to_owned(),
                executions: 3,
                without_rls_ms: vec![1.0, 1.0, 9.0],
                with_rls_ms: vec![1.1, 1.1, 0.5],
            }),
            ..BenchResults::default()
        };
        let report = render(&results, "charts");
        assert!(
            report.contains("| +10.0% | **missed** (7.00 points over) |"),
            "{report}"
        );
    }
}
