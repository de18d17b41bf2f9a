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
//!
//! [`ClosedLoop`] is the closed-loop counterpart, for the gateway's
//! cache curves: requests that each carry their own token.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
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

/// A closed-loop plan: `connections` tasks, each sending its next request
/// as soon as its last one was answered, until `secs` have passed or
/// `limit` requests were sent. The `n`th request is `requests[n % len]`, a
/// URL and its `Authorization` value, so one run can spread over many
/// tokens (which oha cannot); `cursor` is `n`, shared by the runs of one
/// plan, so a run goes on where the last one stopped.
#[derive(Debug, Clone)]
pub struct ClosedLoop {
    pub requests: Arc<Vec<(String, String)>>,
    pub cursor: Arc<AtomicUsize>,
    pub connections: usize,
    pub secs: u64,
    pub limit: Option<usize>,
}

impl ClosedLoop {
    pub fn new(requests: Vec<(String, String)>, connections: usize, secs: u64) -> Self {
        Self {
            requests: Arc::new(requests),
            cursor: Arc::new(AtomicUsize::new(0)),
            connections,
            secs,
            limit: None,
        }
    }

    /// Every request once (each token or project seen: caches filled as
    /// far as they hold), however long that takes.
    pub async fn touch_all(&self) -> anyhow::Result<LoadRun> {
        let once = Self {
            secs: 3600,
            limit: Some(self.cursor.load(Ordering::Relaxed) + self.requests.len()),
            ..self.clone()
        };
        once.run().await
    }

    /// Runs the plan; latency runs from when a request left.
    pub async fn run(&self) -> anyhow::Result<LoadRun> {
        if self.requests.is_empty() || self.connections == 0 {
            bail!("a closed-loop run needs requests and connections");
        }
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(self.connections)
            .tcp_nodelay(true)
            .timeout(DRAIN)
            .build()?;
        let start = Instant::now();
        let deadline = start + Duration::from_secs(self.secs);
        let limit = self.limit.unwrap_or(usize::MAX);
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..self.connections {
            let (http, requests, cursor) =
                (http.clone(), self.requests.clone(), self.cursor.clone());
            tasks.spawn(async move {
                let mut outcomes = Vec::new();
                while Instant::now() < deadline {
                    let n = cursor.fetch_add(1, Ordering::Relaxed);
                    if n >= limit {
                        break;
                    }
                    let (url, authorization) = &requests[n % requests.len()];
                    let sent = Instant::now();
                    let answer = async {
                        let response = http
                            .get(url)
                            .header("Authorization", authorization)
                            .send()
                            .await?;
                        let status = response.status().as_u16();
                        response.bytes().await?;
                        Ok::<_, reqwest::Error>(status)
                    };
                    let (status, error) = match answer.await {
                        Ok(status) => (status, None),
                        Err(error) => (0, Some(chain(&error))),
                    };
                    outcomes.push(Outcome {
                        latency_ms: sent.elapsed().as_secs_f64() * 1000.0,
                        status,
                        error,
                    });
                }
                outcomes
            });
        }
        let mut outcomes = Vec::new();
        while let Some(task) = tasks.join_next().await {
            outcomes.extend(task?);
        }
        let elapsed = start.elapsed().as_secs_f64();
        if let Some(first) = outcomes.iter().find_map(|o| o.error.as_ref()) {
            eprintln!("bench:     requests failed; the first: {first}");
        }
        Ok(reduce(&outcomes, elapsed))
    }
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
