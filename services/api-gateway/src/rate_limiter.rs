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

use crate::rate_policy::RateKey;

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
    shards: Vec<Mutex<HashMap<RateKey, Instant>>>,
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
    pub fn check(&self, key: RateKey, limit: Limit, cost: u32) -> Decision {
        self.check_at(key, limit, cost, Instant::now())
    }

    fn check_at(&self, key: RateKey, limit: Limit, cost: u32, now: Instant) -> Decision {
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
        let tat = shard.get(&key).copied().unwrap_or(now).max(now);
        let new_tat = tat + interval * cost.max(1);
        let ahead = new_tat - now;
        if ahead <= tolerance {
            shard.insert(key, new_tat);
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

/// GCRA in Redis: one atomic script per check, on Redis's clock, so every
/// gateway replica shares the same state.
const REDIS_GCRA: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local increment = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + increment
local ahead = new_tat - now
if ahead <= tolerance then
  redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', math.ceil(ahead / 1000) + 1000)
  return {1, ahead}
end
return {0, ahead}
";

const REDIS_RETRY_AFTER: Duration = Duration::from_secs(1);

/// Limits shared through Redis when configured, falling back to this
/// replica's share of the limit while Redis is down or slow.
pub struct SharedLimiter {
    local: Gcra,
    redis: Option<redis::aio::ConnectionManager>,
    script: redis::Script,
    timeout: Duration,
    replicas: u32,
    last_fallback_log: Mutex<Option<Instant>>,
    /// After a failure Redis is skipped for a moment, so an outage costs
    /// one timeout, not one per request.
    redis_skipped_until: Mutex<Option<Instant>>,
    pub fallbacks: prometheus_client::metrics::counter::Counter,
}

impl std::fmt::Debug for SharedLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedLimiter")
            .field("redis", &self.redis.is_some())
            .field("replicas", &self.replicas)
            .finish_non_exhaustive()
    }
}

impl SharedLimiter {
    pub fn in_memory() -> Self {
        Self::with_redis(None, Duration::from_millis(20), 1)
    }

    pub fn with_redis(
        redis: Option<redis::aio::ConnectionManager>,
        timeout: Duration,
        replicas: u32,
    ) -> Self {
        Self {
            local: Gcra::default(),
            redis,
            script: redis::Script::new(REDIS_GCRA),
            timeout,
            replicas: replicas.max(1),
            last_fallback_log: Mutex::new(None),
            redis_skipped_until: Mutex::new(None),
            fallbacks: prometheus_client::metrics::counter::Counter::default(),
        }
    }

    pub async fn check(&self, key: RateKey, limit: Limit, cost: u32) -> Decision {
        let Some(redis) = &self.redis else {
            return self.local.check(key, limit, cost);
        };
        let skipping = self
            .redis_skipped_until
            .lock()
            .ok()
            .and_then(|until| *until)
            .is_some_and(|until| Instant::now() < until);
        if skipping {
            self.fallbacks.inc();
            return self.local.check(key, self.share(limit), cost);
        }
        let per_minute = limit.per_minute.max(1);
        let interval_us = 60_000_000_u64 / u64::from(per_minute);
        let increment = interval_us * u64::from(cost.max(1));
        let tolerance = interval_us * u64::from(limit.burst.max(1));
        let mut connection = redis.clone();
        let mut invocation = self.script.prepare_invoke();
        invocation
            .key(format!("faultline:rl:{key}"))
            .arg(increment)
            .arg(tolerance);
        let call = invocation.invoke_async::<(i64, i64)>(&mut connection);
        match tokio::time::timeout(self.timeout, call).await {
            Ok(Ok((allowed, ahead))) => {
                let ahead = u64::try_from(ahead).unwrap_or(0);
                if allowed == 1 {
                    Decision {
                        allowed: true,
                        limit,
                        remaining: u32::try_from(tolerance.saturating_sub(ahead) / interval_us)
                            .unwrap_or(u32::MAX),
                        reset_secs: ahead.div_ceil(1_000_000),
                        retry_after_secs: 0,
                    }
                } else {
                    Decision {
                        allowed: false,
                        limit,
                        remaining: 0,
                        reset_secs: ahead.div_ceil(1_000_000),
                        retry_after_secs: (ahead - tolerance).div_ceil(1_000_000).max(1),
                    }
                }
            }
            outcome => {
                self.fallbacks.inc();
                if let Ok(mut until) = self.redis_skipped_until.lock() {
                    *until = Some(Instant::now() + REDIS_RETRY_AFTER);
                }
                self.log_fallback(match outcome {
                    Ok(Err(error)) => error.to_string(),
                    _ => format!("no answer within {:?}", self.timeout),
                });
                self.local.check(key, self.share(limit), cost)
            }
        }
    }

    /// This replica's part of a limit shared by `replicas` gateways.
    fn share(&self, limit: Limit) -> Limit {
        Limit {
            per_minute: (limit.per_minute / self.replicas).max(1),
            burst: (limit.burst / self.replicas).max(1),
        }
    }

    /// At most one warning every ten seconds.
    fn log_fallback(&self, reason: String) {
        if let Ok(mut last) = self.last_fallback_log.lock()
            && last.is_none_or(|at| at.elapsed() >= Duration::from_secs(10))
        {
            *last = Some(Instant::now());
            tracing::warn!(
                reason,
                replicas = self.replicas,
                "Redis rate limiting unavailable: enforcing this replica's share locally"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;

    const K: RateKey = RateKey::User(Uuid::from_u128(1));
    const OTHER: RateKey = RateKey::User(Uuid::from_u128(2));

    #[test]
    fn a_burst_is_admitted_then_the_steady_rate() {
        let gcra = Gcra::default();
        let limit = Limit {
            per_minute: 60,
            burst: 5,
        };
        let start = Instant::now();
        let admitted = (0..10)
            .filter(|_| gcra.check_at(K, limit, 1, start).allowed)
            .count();
        assert_eq!(admitted, 5);
        let refused = gcra.check_at(K, limit, 1, start);
        assert!(!refused.allowed);
        assert_eq!(refused.retry_after_secs, 1);
        // One interval later exactly one more fits.
        let later = start + Duration::from_secs(1);
        assert!(gcra.check_at(K, limit, 1, later).allowed);
        assert!(!gcra.check_at(K, limit, 1, later).allowed);
        // Keys are independent.
        assert!(gcra.check_at(OTHER, limit, 1, later).allowed);
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
                gcra.check_at(K, limit, 1, start + Duration::from_millis(i * 10))
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
        assert!(gcra.check_at(K, limit, 8, now).allowed);
        let decision = gcra.check_at(K, limit, 3, now);
        assert!(!decision.allowed);
        assert!(gcra.check_at(K, limit, 2, now).allowed);
    }
}
