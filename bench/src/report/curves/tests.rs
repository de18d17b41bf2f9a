//! Section 10 rendered from figures made up to sit either side of each goal.

use super::*;

fn run(p99: f64) -> LoadRun {
    LoadRun {
        requests_per_sec: 200.0,
        p50_ms: p99 / 2.0,
        p99_ms: p99,
        success_rate: 1.0,
        non_2xx: 0,
        ..LoadRun::default()
    }
}

fn upload(testcases: u64, report_bytes: u64, secs: &[f64]) -> UploadRuns {
    UploadRuns {
        testcases,
        failures: testcases / 20,
        report_bytes,
        secs: secs.to_vec(),
    }
}

fn with_uploads(single: Vec<UploadRuns>) -> BenchResults {
    BenchResults {
        ingestion: Some(IngestionResults {
            single,
            sustained: None,
            large: None,
            failure_peak_rss_mb: 90.0,
            commit: None,
            measured_at: None,
        }),
        ..BenchResults::default()
    }
}

fn point(results: u64, projects: u64, failures_p99: &[f64], groups_p99: &[f64]) -> ReadPoint {
    ReadPoint {
        project: format!("bench-size-{results}"),
        results,
        failures: results / 20,
        projects,
        total_results: 5_000_000 + projects * 10,
        failures_list: failures_p99.iter().copied().map(run).collect(),
        groups_list: groups_p99.iter().copied().map(run).collect(),
    }
}

fn with_read_curves() -> BenchResults {
    BenchResults {
        curves: Some(CurveResults {
            rate: 200.0,
            project_size: vec![
                point(10_000, 1_005, &[4.0, 6.0, 5.0], &[3.0, 3.0, 3.0]),
                point(100_000, 1_005, &[8.0], &[4.0]),
                point(1_000_000, 1_005, &[15.0], &[6.0]),
                point(10_000_000, 1_005, &[30.0, 34.0, 32.0], &[12.0]),
            ],
            project_count: vec![
                point(5_000, 1_005, &[25.0], &[3.0]),
                point(5_000, 10_000, &[26.0], &[3.0]),
                point(5_000, 100_000, &[27.0], &[3.0]),
            ],
        }),
        ..BenchResults::default()
    }
}

#[test]
fn ingest_linearity_leaves_the_smallest_upload_out_of_the_verdict() {
    let report = render(
        &with_uploads(vec![
            upload(1_000, 180_000, &[0.1, 0.1, 0.1]),
            upload(10_000, 1_760_000, &[0.2, 0.3, 0.2]),
            upload(100_000, 17_800_000, &[2.0, 2.6, 2.4]),
            upload(1_000_000, 178_000_000, &[25.0]),
        ]),
        "charts",
    );
    // 100 µs per testcase at 1,000 is 5x the 10,000 point, yet met.
    assert!(
        report.contains("| 1,000 | 0.18 | 0.10 | 0.10, 0.10, 0.10 | 100 | 5.00 |"),
        "{report}"
    );
    assert!(
        report.contains("| 10,000 | 1.76 | 0.20 | 0.20, 0.30, 0.20 | 20.0 | 1.00 |"),
        "{report}"
    );
    assert!(
        report.contains("| 100,000 | 17.8 | 2.40 | 2.00, 2.60, 2.40 | 24.0 | 1.20 |"),
        "{report}"
    );
    assert!(
        report.contains(
            "| 1.25x (25.0 µs at 1,000,000 testcases, 20.0 µs at 10,000) | **met** (0.25x under) |"
        ),
        "{report}"
    );
}

#[test]
fn ingest_cost_growing_faster_than_the_report_misses_linearity() {
    let report = render(
        &with_uploads(vec![
            upload(10_000, 1_760_000, &[0.2]),
            upload(100_000, 17_800_000, &[2.4]),
            upload(1_000_000, 178_000_000, &[40.0]),
        ]),
        "charts",
    );
    assert!(
        report.contains(
            "| 2.00x (40.0 µs at 1,000,000 testcases, 20.0 µs at 10,000) | **missed** (0.50x over) |"
        ),
        "{report}"
    );
}

#[test]
fn read_curves_apply_the_query_goals_at_every_point() {
    let report = render(&with_read_curves(), "charts");
    assert!(
        report.contains("| bench-size-10000 | 10,000 | 500 | 2.50 | 5.00 | 1.50 | 3.00 |"),
        "{report}"
    );
    assert!(
        report.contains("| 100,000 | 6,000,000 | 13.5 | 27.0 | 1.50 | 3.00 |"),
        "{report}"
    );
    assert!(
        report.contains(
            "| the failures list, first page of 50: p99 under 20.0 ms at every project size (section 3's goal) | worst p99 32.0 ms, at 10,000,000 results | **missed** (12.0 ms over); holds up to 1,000,000 results |"
        ),
        "{report}"
    );
    assert!(
        report.contains(
            "| the failure groups list (v2), first page of 50: p99 under 20.0 ms at every project size (section 3's goal) | worst p99 12.0 ms, at 10,000,000 results | **met** (8.00 ms under) at every point |"
        ),
        "{report}"
    );
    assert!(
        report.contains(
            "at every number of projects (section 3's goal) | worst p99 27.0 ms, at 100,000 projects | **missed** (7.00 ms over); holds at no point |"
        ),
        "{report}"
    );
    assert!(
        report.contains("(charts/curves-project-size.svg)")
            && report.contains("(charts/curves-project-count.svg)"),
        "{report}"
    );
}

#[test]
fn read_curves_draw_each_lists_p99_at_each_point() {
    let drawn = charts(&with_read_curves());
    let (_, by_size) = drawn
        .iter()
        .find(|(file, _)| *file == PROJECT_SIZE_CHART)
        .expect("a chart by project size");
    assert_eq!(by_size.render().matches("<title>").count(), 8);
    assert!(drawn.iter().any(|(file, _)| *file == PROJECT_COUNT_CHART));
    assert!(curve_charts(&BenchResults::default()).is_empty());
}

#[test]
fn cache_points_beyond_capacity_are_marked_against_the_one_key_point() {
    let point = |distinct: u64, rps: f64| CurvePoint {
        distinct,
        runs: vec![LoadRun {
            requests_per_sec: rps,
            ..run(2.0)
        }],
    };
    let mut results = with_read_curves();
    results.static_gateway = Some(StaticGatewayResults {
        requests: Vec::new(),
        body_bytes: 205,
        max: Vec::new(),
        own_half: Vec::new(),
        common: LatencyLevel {
            load_percent: 50,
            rate: 1.0,
            targets: Vec::new(),
        },
        connections: 32,
        profile: None,
        caches: Some(GatewayCacheCurves {
            generator: "closed loop".to_owned(),
            ceiling: vec![run(1.0), run(1.0)],
            tokens: vec![
                point(1, 10_000.0),
                point(100_000, 8_000.0),
                point(200_000, 5_000.0),
            ],
            projects: vec![point(1, 9_000.0), point(200_000, 9_000.0)],
            token_cache_size: 100_000,
            access_cache_size: 100_000,
        }),
        commit: None,
        measured_at: None,
    });
    let report = render(&results, "charts");
    assert!(
        report.contains(
            "| the generator against the static upstream directly (its ceiling) | - | 200 | 200, 200 | - | 1.00 |"
        ),
        "{report}"
    );
    assert!(
        report.contains("| tokens (`gateway_user`) | 100,000 | 8,000 | 8,000 | 0.80 | 2.00 |"),
        "{report}"
    );
    assert!(
        report.contains(
            "| tokens (`gateway_user`) | 200,000 (beyond the cache's 100,000) | 5,000 | 5,000 | 0.50 | 2.00 |"
        ),
        "{report}"
    );
    assert!(
        report.contains(
            "| projects (`gateway_project`) | 200,000 (beyond the cache's 100,000) | 9,000 | 9,000 | 1.00 | 2.00 |"
        ),
        "{report}"
    );
    assert!(report.contains("Load: closed loop."), "{report}");
}

#[test]
fn every_part_is_said_not_measured_when_absent() {
    let mut results = BenchResults {
        static_gateway: None,
        ..BenchResults::default()
    };
    let report = render(&results, "charts");
    for part in [
        "### Ingest time against report size\n\nNot measured.",
        "### List reads against the project's size\n\nNot measured.",
        "### List reads against the number of projects\n\nNot measured.",
        "### Gateway throughput against distinct tokens and projects\n\nNot measured.",
    ] {
        assert!(report.contains(part), "{part}\n{report}");
    }
    // Results saved before the points were measured: no verdict either.
    results.ingestion = with_uploads(vec![upload(1_000, 180_000, &[0.1])]).ingestion;
    let report = render(&results, "charts");
    assert!(
        report.contains("| n/a (needs two sizes from 10,000 testcases) | not measured |"),
        "{report}"
    );
}
