//! GCRA rate limiting, in memory.
//!
//! Each key has a theoretical arrival time (TAT). A request of cost `c`
//! moves it `c x T` into the future (T = window / limit) and is admitted
//! when the new TAT is at most `burst x T` ahead of now. State is one
//! instant per key, so a million keys cost tens of megabytes; idle keys are
//! swept when a shard grows.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const SHARDS: usize = 16;
const SWEEP_AT: usize = 100_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub per_minute: u32,
    pub burst: u32,
}

#[derive(Debug, Clone, Copy)]
pub struct Decision {
    pub allowed: bool,
    pub limit: Limit,
    pub remaining: u32,
    /// Seconds until the full burst is available again.
    pub reset_secs: u64,
    pub retry_after_secs: u64,
}

#[derive(Debug)]
pub struct Gcra {
    shards: Vec<Mutex<HashMap<String, Instant>>>,
    hasher: RandomState,
}

impl Default for Gcra {
    fn default() -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            hasher: RandomState::new(),
        }
    }
}

impl Gcra {
    pub fn check(&self, key: &str, limit: Limit, cost: u32) -> Decision {
        self.check_at(key, limit, cost, Instant::now())
    }

    fn check_at(&self, key: &str, limit: Limit, cost: u32, now: Instant) -> Decision {
        let per_minute = limit.per_minute.max(1);
        let interval = Duration::from_secs(60) / per_minute;
        let tolerance = interval * limit.burst.max(1);
        let index = usize::try_from(self.hasher.hash_one(key) % SHARDS as u64).unwrap_or(0);
        let Ok(mut shard) = self.shards[index].lock() else {
            // A poisoned lock must not take the gateway down: admit.
            return Decision {
                allowed: true,
                limit,
                remaining: 0,
                reset_secs: 0,
                retry_after_secs: 0,
            };
        };
        if shard.len() > SWEEP_AT {
            shard.retain(|_, tat| *tat > now);
        }
        let tat = shard.get(key).copied().unwrap_or(now).max(now);
        let new_tat = tat + interval * cost.max(1);
        let ahead = new_tat - now;
        if ahead <= tolerance {
            shard.insert(key.to_owned(), new_tat);
            let remaining = (tolerance - ahead).as_nanos() / interval.as_nanos().max(1);
            Decision {
                allowed: true,
                limit,
                remaining: u32::try_from(remaining).unwrap_or(u32::MAX),
                reset_secs: ahead.as_secs_f64().ceil() as u64,
                retry_after_secs: 0,
            }
        } else {
            let wait = ahead - tolerance;
            Decision {
                allowed: false,
                limit,
                remaining: 0,
                reset_secs: (tat - now).as_secs_f64().ceil() as u64,
                retry_after_secs: wait.as_secs_f64().ceil().max(1.0) as u64,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_admitted_then_the_steady_rate() {
        let gcra = Gcra::default();
        let limit = Limit {
            per_minute: 60,
            burst: 5,
        };
        let start = Instant::now();
        let admitted = (0..10)
            .filter(|_| gcra.check_at("k", limit, 1, start).allowed)
            .count();
        assert_eq!(admitted, 5);
        let refused = gcra.check_at("k", limit, 1, start);
        assert!(!refused.allowed);
        assert_eq!(refused.retry_after_secs, 1);
        // One interval later exactly one more fits.
        let later = start + Duration::from_secs(1);
        assert!(gcra.check_at("k", limit, 1, later).allowed);
        assert!(!gcra.check_at("k", limit, 1, later).allowed);
        // Keys are independent.
        assert!(gcra.check_at("other", limit, 1, later).allowed);
    }

    #[test]
    fn over_a_minute_the_admitted_count_is_the_limit_plus_the_burst() {
        let gcra = Gcra::default();
        let limit = Limit {
            per_minute: 120,
            burst: 10,
        };
        let start = Instant::now();
        let admitted = (0..6_000)
            .filter(|i| {
                gcra.check_at("k", limit, 1, start + Duration::from_millis(i * 10))
                    .allowed
            })
            .count();
        assert!((129..=131).contains(&admitted), "{admitted}");
    }

    #[test]
    fn a_costly_request_uses_several_units() {
        let gcra = Gcra::default();
        let limit = Limit {
            per_minute: 60,
            burst: 10,
        };
        let now = Instant::now();
        assert!(gcra.check_at("k", limit, 8, now).allowed);
        let decision = gcra.check_at("k", limit, 3, now);
        assert!(!decision.allowed);
        assert!(gcra.check_at("k", limit, 2, now).allowed);
    }
}
