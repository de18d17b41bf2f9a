//! When the relay tries an event again after a failed delivery.

use std::time::Duration;

use rand::Rng;

/// Capped exponential backoff with jitter: the `n`th failed attempt waits
/// `base * 2^(n-1)`, at most `max`, of which a random part (up to half) is
/// taken off, so relays that failed together do not retry together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub base: Duration,
    pub max: Duration,
}

impl Backoff {
    /// The wait before the next attempt, after `attempts` failed ones
    /// (at least 1), honouring a receiver's `Retry-After` up to `max`.
    pub fn delay(&self, attempts: u32, retry_after: Option<Duration>) -> Duration {
        let exponent = attempts.saturating_sub(1).min(30);
        let full = self.base.saturating_mul(1_u32 << exponent).min(self.max);
        let jitter = rand::rng().random_range(0.0..=0.5);
        let jittered = full.mul_f64(1.0 - jitter);
        match retry_after {
            Some(asked) => jittered.max(asked.min(self.max)),
            None => jittered,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BACKOFF: Backoff = Backoff {
        base: Duration::from_secs(1),
        max: Duration::from_secs(60),
    };

    #[test]
    fn delays_double_per_attempt_within_half_jitter() {
        for (attempts, full) in [(1, 1), (2, 2), (3, 4), (4, 8), (6, 32)] {
            let delay = BACKOFF.delay(attempts, None);
            let full = Duration::from_secs(full);
            assert!(delay <= full, "{attempts}: {delay:?} > {full:?}");
            assert!(
                delay >= full / 2,
                "{attempts}: {delay:?} < half of {full:?}"
            );
        }
    }

    #[test]
    fn delays_are_capped_however_many_attempts_failed() {
        for attempts in [7, 20, 31, 1000, u32::MAX] {
            assert!(BACKOFF.delay(attempts, None) <= BACKOFF.max);
        }
    }

    #[test]
    fn retry_after_lengthens_the_wait_up_to_the_cap() {
        let asked = Duration::from_secs(30);
        assert!(BACKOFF.delay(1, Some(asked)) >= asked);
        assert_eq!(
            BACKOFF.delay(1, Some(Duration::from_secs(3600))),
            BACKOFF.max
        );
        assert!(BACKOFF.delay(1, Some(Duration::ZERO)) <= BACKOFF.base);
    }
}
