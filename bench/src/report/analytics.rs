//! Sections 8 and 9: the analytics dashboards, the quality gate and the
//! rollup lag; the web pages.

use std::fmt::Write;

use crate::results::*;

use super::*;

/// A dashboard endpoint's p99 goal at the section's rate (ms).
const DASHBOARD_P99_MS: f64 = 50.0;
const GATE_P99_MS: f64 = 20.0;
const ROLLUP_LAG_P99_MS: f64 = 2000.0;
const PAGE_P99_MS: f64 = 100.0;
const PAGE_WEIGHT_BYTES: f64 = 200.0 * 1024.0;

fn measured_alone(
    out: &mut String,
    command: &str,
    commit: &Option<String>,
    at: &Option<String>,
    note: &Option<String>,
) {
    if let (Some(commit), Some(at)) = (commit, at) {
        let _ = writeln!(
            out,
            "Measured on its own (`{command}`) at {at}, commit `{commit}`.\n"
        );
    }
    if let Some(note) = note {
        let _ = writeln!(out, "> {note}\n");
    }
}

/// The latency verdict, unless requests failed: a run where some did not
/// answer 2xx misses the goal whatever its percentiles say.
fn latency_verdict(runs: &[LoadRun], p99: Option<f64>, goal_ms: f64) -> String {
    let worst = runs
        .iter()
        .map(|r| 1.0 - r.success_rate)
        .fold(0.0_f64, f64::max);
    if worst > 0.0 {
        let not_2xx: u64 = runs.iter().map(|r| r.non_2xx).sum();
        format!(
            "**missed** (up to {}% of a run's requests failed; answers not 2xx: {not_2xx})",
            fmt(worst * 100.0)
        )
    } else {
        verdict(p99, Bound::AtMost, goal_ms, " ms")
    }
}

fn p99_row(out: &mut String, runs: &QueryRuns, goal_ms: f64) {
    let p50 = runs.median_of(|r| r.p50_ms);
    let p99 = runs.median_of(|r| r.p99_ms);
    let all: Vec<String> = runs.runs.iter().map(|r| fmt(r.p99_ms)).collect();
    let _ = writeln!(
        out,
        "| {} | `{}` | {} | {} | {} | {} |",
        runs.name,
        runs.endpoint,
        opt(p50),
        opt(p99),
        all.join(", "),
        latency_verdict(&runs.runs, p99, goal_ms)
    );
}

pub(super) fn analytics_section(out: &mut String, results: &BenchResults) {
    let _ = writeln!(
        out,
        "## 8. Analytics dashboards, quality gate, rollup lag\n"
    );
    let Some(analytics) = &results.analytics else {
        let _ = writeln!(out, "Not measured.\n");
        return;
    };
    measured_alone(
        out,
        "faultline-bench analytics",
        &analytics.commit,
        &analytics.measured_at,
        &analytics.note,
    );
    let _ = writeln!(
        out,
        "Project `{}` ({} test results over the dataset's days, beside the other projects of the dataset), its rollups computed by the analytics service's own code (`rollups::rebuild_project`) when the dataset was seeded{}. Each endpoint through the gateway with a signed-in user's token (a member of {} projects, which the overview lists), at a fixed {} req/s, open loop: each request is sent when it is due on its own task and its latency counts from then (latency-corrected). p50 and p99 are medians over the runs; every run's p99 is listed.\n",
        analytics.project,
        count(analytics.project_results),
        if analytics.seed_secs > 0.0 {
            format!(
                " (this run seeded in {} s, {} s of it computing the rollups of every project)",
                fmt(analytics.seed_secs),
                fmt(analytics.rollup_seed_secs)
            )
        } else {
            " (the cached seed was reused)".to_owned()
        },
        analytics.overview_projects,
        fmt(analytics.rate)
    );
    let _ = writeln!(
        out,
        "| endpoint | request | p50 ms | p99 ms | p99 of each run | verdict (p99 under {} ms) |\n|---|---|---|---|---|---|",
        fmt(DASHBOARD_P99_MS)
    );
    for runs in &analytics.endpoints {
        p99_row(out, runs, DASHBOARD_P99_MS);
    }
    if !analytics.first_call_ms.is_empty() {
        let firsts: Vec<String> = analytics
            .endpoints
            .iter()
            .filter_map(|runs| {
                let ms = analytics.first_call_ms.get(&runs.name)?;
                Some(format!("{} {} ms", runs.name, fmt(*ms)))
            })
            .collect();
        let _ = writeln!(
            out,
            "\nEach endpoint's first call (the warm-up before its runs, not in the figures above): {}. The rankings are kept per project, filter and rollup version (docs/analytics.md): their first call computes the answer the runs then reuse, and a build that changes the project's rollups makes the next call compute it again (its requests wait for that one computation, up to `rankings_fresh_wait_ms`), so the rankings' first call is what a viewer waits after each build.",
            firsts.join(", ")
        );
    }
    let _ = writeln!(
        out,
        "\n**Quality gate** over the project's latest {} builds in turn, with six rules (one of each kind) on every branch, once each build's gate is stored (a CI step usually finds it stored: the `build.completed` consumer evaluates it). The first call of each build, which evaluates and stores it, was timed one at a time: median {} ms, slowest {} ms.\n",
        analytics.gate_builds,
        opt(median(&analytics.gate_first_call_ms)),
        opt(percentile(&analytics.gate_first_call_ms, 100.0))
    );
    let _ = writeln!(
        out,
        "| endpoint | request | p50 ms | p99 ms | p99 of each run | verdict (p99 under {} ms) |\n|---|---|---|---|---|---|",
        fmt(GATE_P99_MS)
    );
    p99_row(out, &analytics.gate, GATE_P99_MS);
    let _ = writeln!(out, "\n**Rollup lag**\n");
    match &analytics.rollup_lag {
        Some(lag) => {
            let _ = writeln!(
                out,
                "{} builds of {} test cases, one after the other, each created, uploaded and finished through the gateway with an API key on `main` of job `ci`; then today's trends (`branch=main&job=ci`) asked every {} ms until they count it. Lag: from the build's `build.completed` event (its `occurred_at` in the failure service's queue to analytics) to the first answer that counts it. It includes the failure service's relay interval (`outbox_relay_interval_ms`, 1 s by default).\n",
                lag.builds, lag.testcases_per_build, lag.poll_ms
            );
            let p50 = percentile(&lag.lag_ms, 50.0);
            let p99 = percentile(&lag.lag_ms, 99.0);
            let _ = writeln!(
                out,
                "| goal | measured | verdict |\n|---|---|---|\n| a finished build in the trends within 2 s (p99) | p50 {} ms, p99 {} ms, slowest {} ms over {} builds | {} |\n",
                opt(p50),
                opt(p99),
                opt(percentile(&lag.lag_ms, 100.0)),
                lag.builds,
                verdict(p99, Bound::AtMost, ROLLUP_LAG_P99_MS, " ms")
            );
        }
        None => {
            let _ = writeln!(out, "Not measured.\n");
        }
    }
}

pub(super) fn pages_section(out: &mut String, results: &BenchResults) {
    let _ = writeln!(out, "## 9. Web pages\n");
    let Some(pages) = &results.pages else {
        let _ = writeln!(out, "Not measured.\n");
        return;
    };
    measured_alone(
        out,
        "faultline-bench analytics",
        &pages.commit,
        &pages.measured_at,
        &pages.note,
    );
    let _ = writeln!(
        out,
        "The pages of project `{}` through the gateway, which sends them to the web service, which builds each from the public API through the same gateway with the session's tokens; asked with a signed-in session's cookie at a fixed {} pages/s per page, open loop and latency-corrected as in section 8. Server time is the whole answer as the client sees it on this machine (gateway, web service and its API calls). Weight: the page's HTML and the assets it loads (stylesheet, script), bodies as sent (nothing is compressed) plus response headers; assets are cached for a year once loaded, so this is the first visit's weight.\n",
        pages.project,
        fmt(pages.rate)
    );
    let _ = writeln!(
        out,
        "| page | path | p50 ms | p99 ms | p99 of each run | verdict (p99 under {} ms) | weight KB (HTML + assets) | verdict (under 200 KB) |\n|---|---|---|---|---|---|---|---|",
        fmt(PAGE_P99_MS)
    );
    for page in &pages.pages {
        let runs = QueryRuns {
            name: page.name.clone(),
            endpoint: page.path.clone(),
            runs: page.runs.clone(),
        };
        let p99 = runs.median_of(|r| r.p99_ms);
        let all: Vec<String> = page.runs.iter().map(|r| fmt(r.p99_ms)).collect();
        let weight = page.transferred_bytes() as f64;
        let assets: u64 = page.assets.iter().map(|a| a.bytes).sum();
        let _ = writeln!(
            out,
            "| {} | `{}` | {} | {} | {} | {} | {} ({} + {}) | {} |",
            page.name,
            page.path,
            opt(runs.median_of(|r| r.p50_ms)),
            opt(p99),
            all.join(", "),
            latency_verdict(&page.runs, p99, PAGE_P99_MS),
            fmt(weight / 1024.0),
            fmt(page.html_bytes as f64 / 1024.0),
            fmt(assets as f64 / 1024.0),
            verdict(
                Some(weight / 1024.0),
                Bound::AtMost,
                PAGE_WEIGHT_BYTES / 1024.0,
                " KB"
            )
        );
    }
    let _ = writeln!(out);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(p99: f64) -> LoadRun {
        LoadRun {
            requests_per_sec: 100.0,
            p50_ms: p99 / 4.0,
            p99_ms: p99,
            success_rate: 1.0,
            non_2xx: 0,
            ..LoadRun::default()
        }
    }

    fn runs(name: &str, p99s: &[f64]) -> QueryRuns {
        QueryRuns {
            name: name.to_owned(),
            endpoint: format!("GET /{name}"),
            runs: p99s.iter().copied().map(run).collect(),
        }
    }

    #[test]
    fn dashboard_gate_and_lag_verdicts_use_their_own_goals() {
        let results = BenchResults {
            analytics: Some(AnalyticsResults {
                project: "bench-big".to_owned(),
                project_results: 1_000_000,
                overview_projects: 20,
                rate: 100.0,
                endpoints: vec![
                    runs("summary", &[10.0, 30.0, 20.0]),
                    runs("rankings_90", &[60.0, 80.0, 70.0]),
                ],
                first_call_ms: [("rankings_90".to_owned(), 412.0)].into(),
                gate: runs("quality_gate", &[25.0, 15.0, 30.0]),
                gate_builds: 100,
                gate_first_call_ms: vec![40.0, 60.0],
                rollup_lag: Some(RollupLag {
                    builds: 4,
                    testcases_per_build: 200,
                    poll_ms: 20,
                    lag_ms: vec![900.0, 1100.0, 1000.0, 2500.0],
                }),
                seed_secs: 0.0,
                rollup_seed_secs: 0.0,
                note: None,
                commit: None,
                measured_at: None,
            }),
            ..BenchResults::default()
        };
        let report = render(&results, "charts");
        assert!(
            report.contains("| 20.0 | 10.0, 30.0, 20.0 | **met** (30.0 ms under) |"),
            "{report}"
        );
        assert!(
            report.contains("| 70.0 | 60.0, 80.0, 70.0 | **missed** (20.0 ms over) |"),
            "{report}"
        );
        assert!(
            report.contains("| 25.0 | 25.0, 15.0, 30.0 | **missed** (5.00 ms over) |"),
            "{report}"
        );
        assert!(
            report.contains(
                "p99 2,500 ms, slowest 2,500 ms over 4 builds | **missed** (500 ms over) |"
            ),
            "{report}"
        );
        assert!(
            report.contains(
                "(the warm-up before its runs, not in the figures above): rankings_90 412 ms."
            ),
            "{report}"
        );
        assert!(
            report.contains("## 9. Web pages\n\nNot measured."),
            "{report}"
        );
    }

    #[test]
    fn failed_requests_miss_the_goal_whatever_the_latency() {
        let mut failing = runs("mttr", &[5.0, 5.0, 5.0]);
        failing.runs[1].success_rate = 0.96;
        failing.runs[1].non_2xx = 3;
        assert_eq!(
            latency_verdict(&failing.runs, Some(5.0), 50.0),
            "**missed** (up to 4.00% of a run's requests failed; answers not 2xx: 3)"
        );
    }

    #[test]
    fn a_page_weighs_its_html_and_its_assets() {
        let results = BenchResults {
            pages: Some(PageResults {
                project: "bench-big".to_owned(),
                rate: 10.0,
                pages: vec![PageRuns {
                    name: "dashboard".to_owned(),
                    path: "/p/bench-big".to_owned(),
                    runs: vec![run(40.0), run(120.0), run(90.0)],
                    html_bytes: 100 * 1024,
                    assets: vec![AssetWeight {
                        path: "/static/app.css".to_owned(),
                        bytes: 50 * 1024,
                    }],
                }],
                note: None,
                commit: None,
                measured_at: None,
            }),
            ..BenchResults::default()
        };
        let report = render(&results, "charts");
        assert!(
            report.contains("| 90.0 | 40.0, 120, 90.0 | **met** (10.0 ms under) | 150 (100 + 50.0) | **met** (50.0 KB under) |"),
            "{report}"
        );
    }
}
