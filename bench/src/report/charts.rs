//! The report's bar charts, drawn from the same saved results.

use crate::results::*;
use crate::svg::{BarChart, Series};

use super::*;

/// The charts, by file name.
pub fn charts(results: &BenchResults) -> Vec<(&'static str, BarChart)> {
    let mut charts = Vec::new();
    let names = ["direct", "nginx", "gateway"];
    if let Some(gateway) = &results.gateway {
        charts.push((
            "gateway-throughput.svg",
            BarChart {
                title: "Max throughput, same backend route".to_owned(),
                y_label: "requests/s (median)".to_owned(),
                groups: names.iter().map(|n| (*n).to_owned()).collect(),
                series: vec![Series {
                    name: "req/s".to_owned(),
                    values: names
                        .iter()
                        .map(|n| med(target(&gateway.max, n), |r| r.requests_per_sec))
                        .collect(),
                }],
            },
        ));
        let mut groups = Vec::new();
        let mut series: Vec<Series> = names
            .iter()
            .map(|n| Series {
                name: (*n).to_owned(),
                values: Vec::new(),
            })
            .collect();
        for level in &gateway.latency {
            for (label, field) in [
                ("p50", (|r: &LoadRun| r.p50_ms) as fn(&LoadRun) -> f64),
                ("p99", |r: &LoadRun| r.p99_ms),
            ] {
                groups.push(format!("{} at {}% load", label, level.load_percent));
                for (s, name) in names.iter().enumerate() {
                    series[s]
                        .values
                        .push(med(target(&level.targets, name), field));
                }
            }
        }
        charts.push((
            "gateway-latency.svg",
            BarChart {
                title: "Latency at a fixed share of nginx's max rate".to_owned(),
                y_label: "ms (median of runs)".to_owned(),
                groups,
                series,
            },
        ));
    }
    if let Some(ingestion) = &results.ingestion {
        let mut groups = Vec::new();
        let mut values = Vec::new();
        for single in &ingestion.single {
            groups.push(format!("{}k single", single.testcases / 1000));
            values.push(median(&single.secs).map(|s| single.testcases as f64 / s));
        }
        if let Some(s) = &ingestion.sustained {
            groups.push(format!("sustained x{}", s.uploaders));
            values.push(Some(s.results as f64 / s.secs));
        }
        if let Some(large) = &ingestion.large {
            groups.push(format!("{} MB report", large.report_bytes >> 20));
            values.push((large.status == 201).then(|| large.testcases as f64 / large.secs));
        }
        charts.push((
            "ingestion.svg",
            BarChart {
                title: "Ingestion through the gateway".to_owned(),
                y_label: "test results/s".to_owned(),
                groups,
                series: vec![Series {
                    name: "results/s".to_owned(),
                    values,
                }],
            },
        ));
    }
    if let Some(queries) = &results.queries {
        let groups: Vec<String> = queries.queries.iter().map(|q| q.name.clone()).collect();
        let pick = |field: fn(&LoadRun) -> f64| {
            queries
                .queries
                .iter()
                .map(|q| median(&q.runs.iter().map(field).collect::<Vec<_>>()))
                .collect()
        };
        charts.push((
            "queries.svg",
            BarChart {
                title: format!("Query latency at {} req/s", fmt(queries.rate)),
                y_label: "ms".to_owned(),
                groups,
                series: vec![
                    Series {
                        name: "p50".to_owned(),
                        values: pick(|r| r.p50_ms),
                    },
                    Series {
                        name: "p99".to_owned(),
                        values: pick(|r| r.p99_ms),
                    },
                ],
            },
        ));
    }
    if let Some(resources) = &results.resources {
        charts.push((
            "rss.svg",
            BarChart {
                title: "Resident memory per service".to_owned(),
                y_label: "MB".to_owned(),
                groups: resources.services.iter().map(|s| s.name.clone()).collect(),
                series: vec![
                    Series {
                        name: "idle".to_owned(),
                        values: resources
                            .services
                            .iter()
                            .map(|s| Some(s.idle_rss_mb))
                            .collect(),
                    },
                    Series {
                        name: "peak under load".to_owned(),
                        values: resources
                            .services
                            .iter()
                            .map(|s| Some(s.peak_rss_mb))
                            .collect(),
                    },
                ],
            },
        ));
    }
    charts.extend(super::curves::curve_charts(results));
    charts
}
