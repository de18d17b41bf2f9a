//! Section 10: how cost grows. Each cost against what should drive it:
//! ingest time against report size, the list reads against the project's
//! size and against the number of projects, the gateway's throughput
//! against the distinct keys its caches must hold.

use std::fmt::Write;

use crate::results::*;
use crate::svg::{BarChart, Series};

use super::*;

/// The ingest curve's baseline and its smallest point held to linearity:
/// below it, what every upload costs whatever its size dominates the time.
const LINEAR_FROM_TESTCASES: u64 = 10_000;

/// Linear enough: the largest per-testcase cost from the baseline up at
/// most this many times the smallest.
const LINEAR_MAX_SPREAD: f64 = 1.5;

const PROJECT_SIZE_CHART: &str = "curves-project-size.svg";
const PROJECT_COUNT_CHART: &str = "curves-project-count.svg";

/// One list's runs at a point of a read curve.
type ListRuns = fn(&ReadPoint) -> &[LoadRun];

/// The two lists the read curves measure, by their key in section 3.
const LISTS: [(&str, ListRuns); 2] = [
    ("failures_list", |p| &p.failures_list),
    ("groups_list", |p| &p.groups_list),
];

fn median_of(runs: &[LoadRun], field: fn(&LoadRun) -> f64) -> Option<f64> {
    median(&runs.iter().map(field).collect::<Vec<_>>())
}

/// A list's label and its p99 goal, as section 3 states them.
fn query_goal(name: &str) -> Option<(&'static str, f64)> {
    QUERY_GOALS
        .iter()
        .find(|(key, _, _)| *key == name)
        .and_then(|(_, label, goal)| goal.map(|goal| (*label, goal)))
}

pub(super) fn curves_section(out: &mut String, results: &BenchResults, charts: &str) {
    let _ = writeln!(out, "## 10. How cost grows\n");
    let _ = writeln!(
        out,
        "Each cost against what should drive it, one row per point measured.\n"
    );
    ingest_curve(out, results.ingestion.as_ref());
    let curves = results.curves.as_ref();
    let _ = writeln!(out, "### List reads against the project's size\n");
    match curves.filter(|c| !c.project_size.is_empty()) {
        Some(curves) => {
            let _ = writeln!(
                out,
                "The failures list and the groups list (v2), first page of 50, on the failure service as in section 3 at a fixed {} req/s (latency-corrected, a warm-up run discarded), each of the `bench-size-*` projects in turn; p50 and p99 are medians over the runs.\n",
                fmt(curves.rate)
            );
            let _ = writeln!(
                out,
                "| project | test results | failures | failures list p50 ms | failures list p99 ms | groups list p50 ms | groups list p99 ms |\n|---|---|---|---|---|---|---|"
            );
            for point in &curves.project_size {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} |",
                    point.project,
                    count(point.results),
                    count(point.failures),
                    list_percentiles(point)
                );
            }
            read_goals(out, &curves.project_size, "project size", |p| {
                format!("{} results", count(p.results))
            });
            let _ = writeln!(
                out,
                "\n![list p99 by project size]({charts}/{PROJECT_SIZE_CHART})\n"
            );
        }
        None => {
            let _ = writeln!(out, "Not measured.\n");
        }
    }
    let _ = writeln!(out, "### List reads against the number of projects\n");
    match curves.filter(|c| !c.project_count.is_empty()) {
        Some(curves) => {
            let first = &curves.project_count[0];
            let _ = writeln!(
                out,
                "The same reads of one project, `{}` ({} test results), as small projects are added to the database around it (one build of ten tests each, one failing, then `ANALYZE`); at {} req/s as above.\n",
                first.project,
                count(first.results),
                fmt(curves.rate)
            );
            let _ = writeln!(
                out,
                "| projects | test results (all projects) | failures list p50 ms | failures list p99 ms | groups list p50 ms | groups list p99 ms |\n|---|---|---|---|---|---|"
            );
            for point in &curves.project_count {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} |",
                    count(point.projects),
                    count(point.total_results),
                    list_percentiles(point)
                );
            }
            read_goals(out, &curves.project_count, "number of projects", |p| {
                format!("{} projects", count(p.projects))
            });
            let _ = writeln!(
                out,
                "\n![list p99 by number of projects]({charts}/{PROJECT_COUNT_CHART})\n"
            );
        }
        None => {
            let _ = writeln!(out, "Not measured.\n");
        }
    }
    cache_curves(
        out,
        results
            .static_gateway
            .as_ref()
            .and_then(|s| s.caches.as_ref()),
    );
}

fn ingest_curve(out: &mut String, ingestion: Option<&IngestionResults>) {
    let _ = writeln!(out, "### Ingest time against report size\n");
    let Some(single) = ingestion.map(|i| &i.single).filter(|s| !s.is_empty()) else {
        let _ = writeln!(out, "Not measured.\n");
        return;
    };
    let per_testcase_us =
        |upload: &UploadRuns| median(&upload.secs).map(|secs| secs / upload.testcases as f64 * 1e6);
    let baseline = single
        .iter()
        .find(|u| u.testcases == LINEAR_FROM_TESTCASES)
        .and_then(per_testcase_us);
    let _ = writeln!(
        out,
        "The single uploads of section 2, each size timed the same way. Uploads under {} testcases are shown but left out of the verdict: what every upload costs whatever its size weighs most there, so their cost per testcase says little about how the cost grows.\n",
        count(LINEAR_FROM_TESTCASES)
    );
    let _ = writeln!(
        out,
        "| testcases | report MB | seconds (median) | runs | µs per testcase | relative to {} |\n|---|---|---|---|---|---|",
        count(LINEAR_FROM_TESTCASES)
    );
    for upload in single {
        let cost = per_testcase_us(upload);
        let all: Vec<String> = upload.secs.iter().map(|s| fmt(*s)).collect();
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            count(upload.testcases),
            fmt(upload.report_bytes as f64 / 1e6),
            opt(median(&upload.secs)),
            all.join(", "),
            opt(cost),
            cost.zip(baseline)
                .map_or("n/a".to_owned(), |(c, b)| format!("{:.2}", c / b))
        );
    }
    let held: Vec<(u64, f64)> = single
        .iter()
        .filter(|u| u.testcases >= LINEAR_FROM_TESTCASES)
        .filter_map(|u| per_testcase_us(u).map(|cost| (u.testcases, cost)))
        .collect();
    let cheapest = held.iter().copied().min_by(|a, b| a.1.total_cmp(&b.1));
    let dearest = held.iter().copied().max_by(|a, b| a.1.total_cmp(&b.1));
    let spread = cheapest
        .zip(dearest)
        .filter(|_| held.len() >= 2)
        .map(|(low, high)| (low, high, high.1 / low.1));
    let _ = writeln!(out, "\n| goal | measured | verdict |\n|---|---|---|");
    goal_row(
        out,
        &format!(
            "ingest cost is linear in report size: from {} testcases up, the largest cost per testcase at most {}x the smallest",
            count(LINEAR_FROM_TESTCASES),
            fmt(LINEAR_MAX_SPREAD)
        ),
        spread.map_or(
            format!(
                "n/a (needs two sizes from {} testcases)",
                count(LINEAR_FROM_TESTCASES)
            ),
            |(low, high, ratio)| {
                format!(
                    "{ratio:.2}x ({} µs at {} testcases, {} µs at {})",
                    fmt(high.1),
                    count(high.0),
                    fmt(low.1),
                    count(low.0)
                )
            },
        ),
        verdict(
            spread.map(|(_, _, ratio)| ratio),
            Bound::AtMost,
            LINEAR_MAX_SPREAD,
            "x",
        ),
    );
    let _ = writeln!(out);
}

/// Each list's p50 and p99 at one point, as table cells.
fn list_percentiles(point: &ReadPoint) -> String {
    LISTS
        .iter()
        .flat_map(|(_, runs)| {
            [
                median_of(runs(point), |r| r.p50_ms),
                median_of(runs(point), |r| r.p99_ms),
            ]
        })
        .map(opt)
        .collect::<Vec<_>>()
        .join(" | ")
}

/// One goal row per list: section 3's p99 goal at every point of the
/// curve, and where it stops holding when it does.
fn read_goals(out: &mut String, points: &[ReadPoint], axis: &str, size: fn(&ReadPoint) -> String) {
    let _ = writeln!(out, "\n| goal | measured | verdict |\n|---|---|---|");
    for (name, runs) in LISTS {
        let Some((label, goal)) = query_goal(name) else {
            continue;
        };
        let p99s: Vec<Option<f64>> = points
            .iter()
            .map(|p| median_of(runs(p), |r| r.p99_ms))
            .collect();
        let worst = points
            .iter()
            .zip(&p99s)
            .filter_map(|(p, p99)| p99.map(|v| (p, v)))
            .max_by(|a, b| a.1.total_cmp(&b.1));
        let measured = worst.map_or("n/a".to_owned(), |(p, v)| {
            format!("worst p99 {} ms, at {}", fmt(v), size(p))
        });
        let first_miss = p99s.iter().position(|p99| p99.is_none_or(|v| v > goal));
        let verdict_text = match first_miss {
            None => format!(
                "{} at every point",
                verdict(worst.map(|(_, v)| v), Bound::AtMost, goal, " ms")
            ),
            Some(miss) => {
                let missed = match worst {
                    Some((_, v)) if v > goal => verdict(Some(v), Bound::AtMost, goal, " ms"),
                    _ => format!("**missed** (not measured at {})", size(&points[miss])),
                };
                let held = match miss {
                    0 => "holds at no point".to_owned(),
                    _ => format!("holds up to {}", size(&points[miss - 1])),
                };
                format!("{missed}; {held}")
            }
        };
        goal_row(
            out,
            &format!(
                "{label}: p99 under {} ms at every {axis} (section 3's goal)",
                fmt(goal)
            ),
            measured,
            verdict_text,
        );
    }
}

fn cache_curves(out: &mut String, caches: Option<&GatewayCacheCurves>) {
    let _ = writeln!(
        out,
        "### Gateway throughput against distinct tokens and projects\n"
    );
    let Some(caches) = caches else {
        let _ = writeln!(out, "Not measured.\n");
        return;
    };
    let _ = writeln!(
        out,
        "The gateway of section 1b, in front of the same static upstream, unthrottled: `gateway_user` with requests spread over this many distinct access tokens (a user and session each), `gateway_project` over this many distinct projects. Its caches hold {} verified tokens and {} project accesses; a point beyond that is marked, as the cache cannot hold every key its requests cycle through. Each point's keys are all sent once before its runs. Load: {}. These runs use the bench's own generator, not oha, so their absolute figures are not section 1b's: only the curve's shape, each point against its 1-distinct point, is compared.\n",
        count(caches.token_cache_size),
        count(caches.access_cache_size),
        caches.generator
    );
    let _ = writeln!(
        out,
        "| curve | distinct | max req/s (median) | runs | relative to 1 distinct | p99 ms (median) |\n|---|---|---|---|---|---|"
    );
    let rps_runs = |runs: &[LoadRun]| {
        runs.iter()
            .map(|r| fmt(r.requests_per_sec))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let _ = writeln!(
        out,
        "| the generator against the static upstream directly (its ceiling) | - | {} | {} | - | {} |",
        opt(median_of(&caches.ceiling, |r| r.requests_per_sec)),
        rps_runs(&caches.ceiling),
        opt(median_of(&caches.ceiling, |r| r.p99_ms))
    );
    for (curve, points, capacity) in [
        (
            "tokens (`gateway_user`)",
            &caches.tokens,
            caches.token_cache_size,
        ),
        (
            "projects (`gateway_project`)",
            &caches.projects,
            caches.access_cache_size,
        ),
    ] {
        let one = points
            .iter()
            .find(|p| p.distinct == 1)
            .and_then(|p| median_of(&p.runs, |r| r.requests_per_sec));
        for point in points {
            let rps = median_of(&point.runs, |r| r.requests_per_sec);
            let distinct = if point.distinct > capacity {
                format!(
                    "{} (beyond the cache's {})",
                    count(point.distinct),
                    count(capacity)
                )
            } else {
                count(point.distinct)
            };
            let _ = writeln!(
                out,
                "| {curve} | {distinct} | {} | {} | {} | {} |",
                opt(rps),
                rps_runs(&point.runs),
                rps.zip(one)
                    .map_or("n/a".to_owned(), |(a, b)| format!("{:.2}", a / b)),
                opt(median_of(&point.runs, |r| r.p99_ms))
            );
        }
    }
    let _ = writeln!(out);
}

/// The read curves' charts, by file name: each list's p99 at each point.
pub(super) fn curve_charts(results: &BenchResults) -> Vec<(&'static str, BarChart)> {
    let Some(curves) = &results.curves else {
        return Vec::new();
    };
    let chart = |points: &[ReadPoint], axis: &str, group: fn(&ReadPoint) -> String| BarChart {
        title: format!("List p99 by {axis} at {} req/s", fmt(curves.rate)),
        y_label: "ms (median of runs)".to_owned(),
        groups: points.iter().map(group).collect(),
        series: LISTS
            .iter()
            .map(|(name, runs)| Series {
                name: format!("{name} p99"),
                values: points
                    .iter()
                    .map(|p| median_of(runs(p), |r| r.p99_ms))
                    .collect(),
            })
            .collect(),
    };
    let mut charts = Vec::new();
    if !curves.project_size.is_empty() {
        charts.push((
            PROJECT_SIZE_CHART,
            chart(&curves.project_size, "project size", |p| {
                format!("{} results", count(p.results))
            }),
        ));
    }
    if !curves.project_count.is_empty() {
        charts.push((
            PROJECT_COUNT_CHART,
            chart(&curves.project_count, "number of projects", |p| {
                format!("{} projects", count(p.projects))
            }),
        ));
    }
    charts
}

#[cfg(test)]
mod tests;
