//! A fixed-rate (open-loop) load generator for the analytics and page
//! sections: request `i` is due at `start + i / rate` and is sent at that
//! moment on its own task, whatever the earlier ones are doing, and its
//! latency runs from when it was due, not from when it left. A slow answer
//! therefore never holds later requests back, and one that could not be
//! sent on time is charged for the wait (no coordinated omission: the same
//! correction oha's `--latency-correction` makes).
//!
//! These sections need a cookie or a list of URLs per request, which oha
//! cannot vary, and they run without any tool installed.

use std::time::{Duration, Instant};

use anyhow::bail;

use crate::results::{LoadRun, percentile};

/// How long after a run's last request was due its answers are awaited:
/// a service that cannot keep up would otherwise make a run last as long
/// as its backlog. Requests still unanswered then count as failed.
const DRAIN: Duration = Duration::from_secs(5);

/// One fixed-rate run's plan.
#[derive(Debug, Clone)]
pub struct FixedRate {
    /// Requests are spread over these URLs in turn.
    pub urls: Vec<String>,
    pub headers: Vec<(String, String)>,
    pub rate: f64,
    pub secs: u64,
}

/// One request's outcome: latency from its due time, HTTP status (0 when
/// it got no answer, with why).
#[derive(Debug, Clone)]
struct Outcome {
    latency_ms: f64,
    status: u16,
    error: Option<String>,
}

/// Runs the plan and reduces it to a [`LoadRun`] (requests per second over
/// the run, p50/p99 from the due times, the share answered 2xx).
pub async fn run(http: &reqwest::Client, plan: &FixedRate) -> anyhow::Result<LoadRun> {
    if plan.urls.is_empty() || plan.rate.is_nan() || plan.rate <= 0.0 {
        bail!("a fixed-rate run needs URLs and a positive rate");
    }
    let total = (plan.rate * plan.secs as f64).round() as usize;
    let interval = Duration::from_secs_f64(1.0 / plan.rate);
    let start = Instant::now();
    let drained = start + Duration::from_secs(plan.secs) + DRAIN;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..total {
        let due = start + interval * u32::try_from(i)?;
        tokio::time::sleep_until(due.into()).await;
        let mut request = http.get(&plan.urls[i % plan.urls.len()]);
        for (name, value) in &plan.headers {
            request = request.header(name, value);
        }
        tasks.spawn(async move {
            let answer = async {
                let response = request
                    .send()
                    .await
                    .map_err(|error| format!("no answer: {}", chain(&error)))?;
                let status = response.status().as_u16();
                // The body is read whole: the answer is complete only then.
                response
                    .bytes()
                    .await
                    .map_err(|error| format!("an answer was cut short: {}", chain(&error)))?;
                Ok::<_, String>(status)
            };
            let (status, error) = match tokio::time::timeout_at(drained.into(), answer).await {
                Ok(Ok(status)) => (status, None),
                Ok(Err(error)) => (0, Some(error)),
                Err(_) => (
                    0,
                    Some(format!(
                        "no answer {} s after the run's last request was due",
                        DRAIN.as_secs()
                    )),
                ),
            };
            Outcome {
                latency_ms: due.elapsed().as_secs_f64() * 1000.0,
                status,
                error,
            }
        });
    }
    let mut outcomes = Vec::with_capacity(total);
    while let Some(outcome) = tasks.join_next().await {
        outcomes.push(outcome?);
    }
    let elapsed = start.elapsed().as_secs_f64();
    let errors: Vec<&String> = outcomes.iter().filter_map(|o| o.error.as_ref()).collect();
    if let Some(first) = errors.first() {
        eprintln!(
            "bench:     {} requests failed; the first: {first}",
            errors.len()
        );
    }
    Ok(reduce(&outcomes, elapsed))
}

/// An error and its causes, outermost first.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn reduce(outcomes: &[Outcome], elapsed_secs: f64) -> LoadRun {
    let latencies: Vec<f64> = outcomes.iter().map(|o| o.latency_ms).collect();
    let ok = outcomes
        .iter()
        .filter(|o| (200..300).contains(&o.status))
        .count();
    let answered = outcomes.iter().filter(|o| o.status != 0).count();
    LoadRun {
        requests_per_sec: outcomes.len() as f64 / elapsed_secs.max(f64::EPSILON),
        p50_ms: percentile(&latencies, 50.0).unwrap_or(f64::NAN),
        p99_ms: percentile(&latencies, 99.0).unwrap_or(f64::NAN),
        p90_ms: percentile(&latencies, 90.0),
        p999_ms: percentile(&latencies, 99.9),
        success_rate: if outcomes.is_empty() {
            0.0
        } else {
            ok as f64 / outcomes.len() as f64
        },
        non_2xx: (answered - ok) as u64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reduces_latencies_and_counts_answers_that_are_not_2xx() {
        let mut outcomes: Vec<Outcome> = (1..=100)
            .map(|ms| Outcome {
                latency_ms: f64::from(ms),
                status: 200,
                error: None,
            })
            .collect();
        outcomes[0].status = 429;
        outcomes[1].status = 0;
        let run = reduce(&outcomes, 2.0);
        assert_eq!(run.requests_per_sec, 50.0);
        assert_eq!(run.p50_ms, 50.0);
        assert_eq!(run.p99_ms, 99.0);
        assert_eq!(run.success_rate, 0.98);
        assert_eq!(run.non_2xx, 1);
    }
}
