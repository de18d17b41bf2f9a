//! Sign-in throttling per account.
//!
//! An account's failed sign-ins are counted within a sliding window; from
//! the `max_failures`th failure within it on, the account is locked for an
//! exponentially growing time (base, 2 x base, ... capped), during which
//! even its correct password is refused. A lock always ends, and failures
//! older than the window no longer count, so a victim is locked out for at
//! most `max_secs` at a time, however long an attacker keeps guessing.
//!
//! Addresses are not locked here: the gateway rate-limits attempts per
//! client address, which slows a noisy address down without refusing the
//! correct passwords of everyone else behind it.

/// Most failures remembered per account; more would never change a lock.
pub const REMEMBERED_FAILURES: i32 = 64;

#[derive(Debug, Clone, Copy)]
pub struct AccountBackoff {
    pub max_failures: i32,
    pub base_secs: i64,
    pub max_secs: i64,
    /// Failures older than this no longer count.
    pub window_secs: i64,
}

impl AccountBackoff {
    /// How long to lock an account that has had `failures` failures within
    /// the window (this one included); `None` while it may keep trying.
    pub fn lock_secs(&self, failures: i32) -> Option<i64> {
        let beyond = u32::try_from(failures.checked_sub(self.max_failures)?).ok()?;
        let doubling = 1_i64.checked_shl(beyond.min(62));
        Some(
            doubling
                .and_then(|factor| self.base_secs.checked_mul(factor))
                .unwrap_or(self.max_secs)
                .min(self.max_secs),
        )
    }
}

/// The `Retry-After` of a sign-in refused because its account is locked
/// for `locked_for_secs` more: at least one second.
pub fn retry_after_secs(locked_for_secs: i64) -> u64 {
    u64::try_from(locked_for_secs.max(1)).unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lock_starts_at_the_threshold_doubles_and_is_capped() {
        let backoff = AccountBackoff {
            max_failures: 5,
            base_secs: 30,
            max_secs: 900,
            window_secs: 900,
        };
        let locks: Vec<Option<i64>> = (1..=11).map(|n| backoff.lock_secs(n)).collect();
        assert_eq!(
            locks,
            [
                None,
                None,
                None,
                None,
                Some(30),
                Some(60),
                Some(120),
                Some(240),
                Some(480),
                Some(900),
                Some(900)
            ]
        );
        assert_eq!(backoff.lock_secs(REMEMBERED_FAILURES), Some(900));
        assert_eq!(backoff.lock_secs(i32::MAX), Some(900));
    }
}
