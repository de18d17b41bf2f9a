//! The relay's settings as a service's `[service]` section spells them.

use std::time::Duration;

use super::{Backoff, RelaySettings};

/// The `outbox_*` values of a service's settings, checked and turned into
/// [`RelaySettings`] in one place. Services keep the fields flat in their
/// own settings (serde `flatten` would read numbers from environment
/// variables as strings) and hand them over with [`RelayKnobs`].
#[derive(Debug, Clone, Copy)]
pub struct RelayKnobs {
    pub relay_interval_ms: u64,
    pub batch_size: i64,
    pub delivery_timeout_ms: u64,
    pub backoff_base_ms: u64,
    pub backoff_max_secs: u64,
    pub retention_hours: u64,
    pub prune_interval_secs: u64,
}

impl RelayKnobs {
    /// Adds a line to `problems` for each value out of its range, named as
    /// the setting (`service.outbox_...`).
    pub fn validate(&self, problems: &mut Vec<String>) {
        if !(10..=3_600_000).contains(&self.relay_interval_ms) {
            problems.push(
                "service.outbox_relay_interval_ms must be between 10 and 3600000 (an hour)".into(),
            );
        }
        // A full batch must fit in the receiver's JSON body limit (1 MiB by
        // default): every event published today is under 5 KiB.
        if !(1..=200).contains(&self.batch_size) {
            problems.push("service.outbox_batch_size must be between 1 and 200".into());
        }
        if !(100..=60_000).contains(&self.delivery_timeout_ms) {
            problems
                .push("service.outbox_delivery_timeout_ms must be between 100 and 60000".into());
        }
        if self.backoff_base_ms == 0
            || u128::from(self.backoff_base_ms) > u128::from(self.backoff_max_secs) * 1000
        {
            problems.push(
                "service.outbox_backoff_base_ms must be positive and at most outbox_backoff_max_secs"
                    .into(),
            );
        }
        if !(1..=86_400).contains(&self.backoff_max_secs) {
            problems.push("service.outbox_backoff_max_secs must be between 1 and 86400".into());
        }
        if self.retention_hours == 0 || self.retention_hours > 24 * 366 {
            problems.push("service.outbox_retention_hours must be between 1 and 8784".into());
        }
        if !(1..=86_400).contains(&self.prune_interval_secs) {
            problems.push("service.outbox_prune_interval_secs must be between 1 and 86400".into());
        }
    }

    /// How the outbox is relayed to the service `receiver_audience` at
    /// `receiver_url`.
    pub fn relay_to(&self, receiver_url: &str, receiver_audience: &'static str) -> RelaySettings {
        RelaySettings {
            receiver_url: receiver_url.to_owned(),
            receiver_audience,
            interval: Duration::from_millis(self.relay_interval_ms),
            batch_size: self.batch_size,
            timeout: Duration::from_millis(self.delivery_timeout_ms),
            backoff: Backoff {
                base: Duration::from_millis(self.backoff_base_ms),
                max: Duration::from_secs(self.backoff_max_secs),
            },
            retention: Duration::from_secs(self.retention_hours.saturating_mul(3600)),
            prune_interval: Duration::from_secs(self.prune_interval_secs),
        }
    }
}

/// Adds a line to `problems` unless `url` (the setting `service.{name}`)
/// is an http:// or https:// URL with a host.
pub fn validate_receiver_url(name: &str, url: &str, problems: &mut Vec<String>) {
    if !(url.starts_with("http://") || url.starts_with("https://")) || url.len() < 10 {
        problems.push(format!(
            "service.{name} must be an http:// or https:// URL, not `{url}`"
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KNOBS: RelayKnobs = RelayKnobs {
        relay_interval_ms: 1000,
        batch_size: 100,
        delivery_timeout_ms: 5000,
        backoff_base_ms: 1000,
        backoff_max_secs: 300,
        retention_hours: 168,
        prune_interval_secs: 3600,
    };

    #[test]
    fn values_in_range_pass_and_each_one_out_of_range_is_named() {
        let mut problems = Vec::new();
        KNOBS.validate(&mut problems);
        assert!(problems.is_empty(), "{problems:?}");

        let broken = [
            RelayKnobs {
                relay_interval_ms: 5,
                ..KNOBS
            },
            RelayKnobs {
                batch_size: 0,
                ..KNOBS
            },
            RelayKnobs {
                delivery_timeout_ms: 99,
                ..KNOBS
            },
            RelayKnobs {
                backoff_base_ms: 301_000,
                ..KNOBS
            },
            RelayKnobs {
                backoff_max_secs: 0,
                backoff_base_ms: 0,
                ..KNOBS
            },
            RelayKnobs {
                retention_hours: 0,
                ..KNOBS
            },
            RelayKnobs {
                prune_interval_secs: 86_401,
                ..KNOBS
            },
        ];
        let named = [
            "outbox_relay_interval_ms",
            "outbox_batch_size",
            "outbox_delivery_timeout_ms",
            "outbox_backoff_base_ms",
            "outbox_backoff_max_secs",
            "outbox_retention_hours",
            "outbox_prune_interval_secs",
        ];
        for (knobs, name) in broken.iter().zip(named) {
            let mut problems = Vec::new();
            knobs.validate(&mut problems);
            assert!(
                problems.iter().any(|problem| problem.contains(name)),
                "{name}: {problems:?}"
            );
        }
    }

    #[test]
    fn the_relay_gets_the_values_in_their_units() {
        let relay = KNOBS.relay_to("http://receiver:8080", "receiver");
        assert_eq!(relay.receiver_url, "http://receiver:8080");
        assert_eq!(relay.interval, Duration::from_secs(1));
        assert_eq!(relay.backoff.max, Duration::from_secs(300));
        assert_eq!(relay.retention, Duration::from_secs(168 * 3600));
    }

    #[test]
    fn a_receiver_url_needs_a_scheme_and_a_host() {
        let mut problems = Vec::new();
        validate_receiver_url("analytics_url", "http://analytics:8080", &mut problems);
        assert!(problems.is_empty());
        validate_receiver_url("analytics_url", "analytics:8080", &mut problems);
        assert_eq!(problems.len(), 1);
        assert!(problems[0].contains("service.analytics_url"));
    }
}
