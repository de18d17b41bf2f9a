//! The rules `[service]` configures: how long refresh tokens live, how
//! sign-ins are throttled, how long API keys and revocations matter.

use chrono::{DateTime, Duration, Utc};

use super::account_backoff::AccountBackoff;

#[derive(Debug, Clone)]
pub struct Policy {
    pub refresh_idle_days: i64,
    pub refresh_family_days: i64,
    /// A rotated refresh token replayed this soon after its rotation is a
    /// concurrent client, not a thief.
    pub refresh_grace_secs: i64,
    pub account_backoff: AccountBackoff,
    pub api_key_max_days: i64,
    /// How long after its session is revoked an access token may still
    /// verify (its lifetime and the verifiers' leeway): the revocation feed
    /// hands a starting gateway the revocations of this long.
    pub revocation_window_secs: i64,
}

impl Policy {
    /// An API key expires in the future, and at most `api_key_max_days`
    /// after `now`.
    pub fn allows_api_key_expiry(&self, expires_at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
        expires_at > now && expires_at <= now + Duration::days(self.api_key_max_days)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_api_key_expires_in_the_future_within_the_configured_days() {
        let policy = Policy {
            refresh_idle_days: 14,
            refresh_family_days: 60,
            refresh_grace_secs: 5,
            account_backoff: AccountBackoff {
                max_failures: 5,
                base_secs: 30,
                max_secs: 900,
                window_secs: 900,
            },
            api_key_max_days: 365,
            revocation_window_secs: 630,
        };
        let now = Utc::now();
        assert!(!policy.allows_api_key_expiry(now, now));
        assert!(policy.allows_api_key_expiry(now + Duration::days(1), now));
        assert!(policy.allows_api_key_expiry(now + Duration::days(365), now));
        assert!(!policy.allows_api_key_expiry(now + Duration::days(366), now));
    }
}
