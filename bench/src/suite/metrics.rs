//! Reading a service's Prometheus `/metrics` text.

use std::collections::HashMap;

use crate::results::{HistogramBucket, ServiceHistogram};

/// The samples of a Prometheus/OpenMetrics text exposition: each
/// series' metric name, its labels (without the braces) and its value.
fn samples(text: &str) -> impl Iterator<Item = (&str, &str, f64)> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let value = value.trim().parse::<f64>().ok()?;
            let (name, labels) = series.split_once('{').unwrap_or((series, ""));
            Some((
                name.trim(),
                labels.strip_suffix('}').unwrap_or(labels),
                value,
            ))
        })
}

/// Values from a Prometheus/OpenMetrics text exposition by metric name,
/// summed over label sets (the host labels every metric with its service).
pub fn parse_metrics(text: &str) -> HashMap<String, f64> {
    let mut metrics = HashMap::new();
    for (name, _, value) in samples(text) {
        *metrics.entry(name.to_owned()).or_insert(0.0) += value;
    }
    metrics
}

/// One route's `http_server_request_duration_seconds` from a service's
/// `/metrics` text, summed over methods and statuses; bucket bounds in
/// milliseconds, rounded to the microsecond so they compare exactly.
pub fn route_histogram(text: &str, route: &str) -> ServiceHistogram {
    let route_label = format!("route=\"{route}\"");
    let mut histogram = ServiceHistogram::default();
    for (name, labels, count) in samples(text) {
        if !labels.split(',').any(|label| label == route_label) {
            continue;
        }
        let count = count as u64;
        match name {
            "http_server_request_duration_seconds_count" => histogram.requests += count,
            "http_server_request_duration_seconds_bucket" => {
                let Some(le_ms) = labels
                    .split(',')
                    .find_map(|label| label.strip_prefix("le=\""))
                    .map(|le| le.trim_end_matches('"'))
                    .and_then(|le| le.parse::<f64>().ok())
                    .filter(|le| le.is_finite())
                    .map(|le| (le * 1e6).round() / 1e3)
                else {
                    continue;
                };
                match histogram.buckets.iter_mut().find(|b| b.le_ms == le_ms) {
                    Some(bucket) => bucket.requests += count,
                    None => histogram.buckets.push(HistogramBucket {
                        le_ms,
                        requests: count,
                    }),
                }
            }
            _ => {}
        }
    }
    histogram
        .buckets
        .sort_by(|a, b| a.le_ms.total_cmp(&b.le_ms));
    histogram
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_counters_from_the_metrics_text() {
        let text = "# HELP x y\n# TYPE gateway_token_cache_hits counter\n\
                    gateway_token_cache_hits_total{service=\"api-gateway\"} 42\n\
                    http_requests{route=\"/x y\",status=\"200\"} 3\n\
                    http_requests{route=\"/z\",status=\"200\"} 4\n";
        let metrics = parse_metrics(text);
        assert_eq!(metrics.get("gateway_token_cache_hits_total"), Some(&42.0));
        assert_eq!(metrics.get("http_requests"), Some(&7.0));
    }

    #[test]
    fn reads_one_routes_request_histogram_in_milliseconds_over_statuses() {
        let series = |route: &str, status: u16, le: &str, count: u64| {
            format!(
                "http_server_request_duration_seconds_bucket{{service=\"project-service\",route=\"{route}\",method=\"GET\",status=\"{status}\",le=\"{le}\"}} {count}\n"
            )
        };
        let access = "/internal/v1/access";
        let mut text = String::from("# TYPE http_server_request_duration_seconds histogram\n");
        for (status, counts) in [(200, [70, 95, 99, 100]), (404, [5, 8, 10, 10])] {
            for (le, count) in ["0.001", "0.002", "0.004", "+Inf"].iter().zip(counts) {
                text += &series(access, status, le, count);
            }
            text += &format!(
                "http_server_request_duration_seconds_count{{service=\"project-service\",route=\"{access}\",method=\"GET\",status=\"{status}\"}} {}\n",
                counts[3]
            );
        }
        text += &series("/internal/v1/access/changes", 200, "0.001", 1000);
        let histogram = route_histogram(&text, access);
        assert_eq!(histogram.requests, 110);
        let bounds: Vec<(f64, u64)> = histogram
            .buckets
            .iter()
            .map(|b| (b.le_ms, b.requests))
            .collect();
        assert_eq!(bounds, [(1.0, 75), (2.0, 103), (4.0, 109)]);
        let share = histogram.share_over(2.0).unwrap();
        assert!((share - 7.0 / 110.0).abs() < 1e-9, "{share}");
        assert_eq!(histogram.share_over(3.0), None);

        let earlier = ServiceHistogram {
            requests: 10,
            buckets: [(1.0, 5), (2.0, 8), (4.0, 10)]
                .map(|(le_ms, requests)| HistogramBucket { le_ms, requests })
                .to_vec(),
        };
        let since = histogram.since(&earlier);
        assert_eq!(since.requests, 100);
        assert_eq!(since.buckets[1].requests, 95);
        let share = since.share_over(2.0).unwrap();
        assert!((share - 0.05).abs() < 1e-9, "{share}");
        assert_eq!(ServiceHistogram::default().share_over(2.0), None);
    }
}
