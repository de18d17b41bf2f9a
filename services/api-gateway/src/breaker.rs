//! A circuit breaker per upstream, and a retry budget.
//!
//! After `failure_threshold` consecutive transport failures (refused
//! connections, timeouts) the breaker opens: requests to that upstream get
//! 503 with `Retry-After` at once, without touching it. When `open_for` has
//! passed, one request is let through (half-open); its success closes the
//! breaker, its failure opens it again. Retries draw on a budget that grows
//! by a tenth of a token per request, so retries never amplify an outage.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use prometheus_client::metrics::counter::Counter;

#[derive(Debug, Clone, Copy)]
enum State {
    Closed { failures: u32 },
    Open { until: Instant },
    HalfOpen { probe_started: Instant },
}

#[derive(Debug)]
pub struct Breakers {
    states: Mutex<HashMap<String, State>>,
    /// In tenths of a retry.
    retry_tokens: Mutex<HashMap<String, u32>>,
    failure_threshold: u32,
    open_for: Duration,
    pub opened: Counter,
}

/// Why a request may not go to its upstream now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rejected {
    pub retry_after_secs: u64,
}

/// Ten retries, counted in tenths.
const RETRY_TENTHS_MAX: u32 = 100;
const RETRY_TENTHS_PER_RETRY: u32 = 10;

impl Breakers {
    pub fn new(failure_threshold: u32, open_for: Duration) -> Self {
        Self {
            states: Mutex::new(HashMap::new()),
            retry_tokens: Mutex::new(HashMap::new()),
            failure_threshold: failure_threshold.max(1),
            open_for,
            opened: Counter::default(),
        }
    }

    /// Whether a request may go to `upstream` now.
    pub fn admit(&self, upstream: &str) -> Result<(), Rejected> {
        let Ok(mut states) = self.states.lock() else {
            return Ok(());
        };
        let now = Instant::now();
        let state = states
            .entry(upstream.to_owned())
            .or_insert(State::Closed { failures: 0 });
        match *state {
            State::Closed { .. } => Ok(()),
            State::Open { until } if now >= until => {
                *state = State::HalfOpen { probe_started: now };
                Ok(())
            }
            State::Open { until } => Err(Rejected {
                retry_after_secs: (until - now).as_secs_f64().ceil().max(1.0) as u64,
            }),
            // One probe at a time; a probe that hangs past the open period
            // lets another through.
            State::HalfOpen { probe_started } if now - probe_started >= self.open_for => {
                *state = State::HalfOpen { probe_started: now };
                Ok(())
            }
            State::HalfOpen { .. } => Err(Rejected {
                retry_after_secs: self.open_for.as_secs().max(1),
            }),
        }
    }

    pub fn record_success(&self, upstream: &str) {
        if let Ok(mut states) = self.states.lock() {
            states.insert(upstream.to_owned(), State::Closed { failures: 0 });
        }
    }

    pub fn record_failure(&self, upstream: &str) {
        let Ok(mut states) = self.states.lock() else {
            return;
        };
        let now = Instant::now();
        let state = states
            .entry(upstream.to_owned())
            .or_insert(State::Closed { failures: 0 });
        let next = match *state {
            State::Closed { failures } if failures + 1 < self.failure_threshold => State::Closed {
                failures: failures + 1,
            },
            State::Open { until } => State::Open { until },
            _ => {
                self.opened.inc();
                tracing::warn!(upstream, "circuit breaker open");
                State::Open {
                    until: now + self.open_for,
                }
            }
        };
        *state = next;
    }

    /// Adds to the retry budget; call once per request.
    pub fn deposit(&self, upstream: &str) {
        if let Ok(mut tokens) = self.retry_tokens.lock() {
            let balance = tokens
                .entry(upstream.to_owned())
                .or_insert(RETRY_TENTHS_MAX);
            *balance = (*balance + 1).min(RETRY_TENTHS_MAX);
        }
    }

    /// Takes one retry from the budget, if there is one.
    pub fn withdraw_retry(&self, upstream: &str) -> bool {
        let Ok(mut tokens) = self.retry_tokens.lock() else {
            return false;
        };
        let balance = tokens
            .entry(upstream.to_owned())
            .or_insert(RETRY_TENTHS_MAX);
        if *balance >= RETRY_TENTHS_PER_RETRY {
            *balance -= RETRY_TENTHS_PER_RETRY;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_breaker_opens_after_consecutive_failures_and_half_opens_after_the_wait() {
        let breakers = Breakers::new(3, Duration::from_millis(50));
        for _ in 0..2 {
            breakers.record_failure("up");
            assert!(breakers.admit("up").is_ok());
        }
        breakers.record_failure("up");
        assert!(breakers.admit("up").is_err(), "open after 3 failures");
        assert!(breakers.admit("other").is_ok(), "breakers are per upstream");
        // The scenario: the open period (50 ms) passes.
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert!(breakers.admit("up").is_ok(), "one probe when half-open");
        assert!(breakers.admit("up").is_err(), "only one probe");
        breakers.record_failure("up");
        assert!(
            breakers.admit("up").is_err(),
            "a failed probe opens it again"
        );
        // And passes again.
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert!(breakers.admit("up").is_ok());
        breakers.record_success("up");
        assert!(
            breakers.admit("up").is_ok() && breakers.admit("up").is_ok(),
            "closed again"
        );
        assert_eq!(breakers.opened.get(), 2);
    }

    #[test]
    fn a_success_resets_the_failure_count() {
        let breakers = Breakers::new(2, Duration::from_secs(60));
        breakers.record_failure("up");
        breakers.record_success("up");
        breakers.record_failure("up");
        assert!(breakers.admit("up").is_ok());
    }

    #[test]
    fn retries_are_bounded_by_the_budget() {
        let breakers = Breakers::new(5, Duration::from_secs(1));
        let granted = (0..100).filter(|_| breakers.withdraw_retry("up")).count();
        assert_eq!(granted, 10);
        for _ in 0..10 {
            breakers.deposit("up");
        }
        assert!(breakers.withdraw_retry("up"));
        assert!(!breakers.withdraw_retry("up"));
    }
}
