//! Which rate limits a request meets, by name, and how their state is
//! told to clients (`RateLimit-Policy`, `RateLimit`).

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};

use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};

use uuid::Uuid;

use crate::rate_limiter::Decision;

/// The limits a request can run into, named in `RateLimit-Policy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RatePolicy {
    /// A user or API key, on every route.
    Principal,
    /// A project, from its plan's request rate.
    Project,
    /// A project's result uploads, from its plan's upload rate.
    Uploads,
    /// Callers without credentials, per client address.
    Address,
    /// Callers without credentials, all together.
    Anonymous,
}

impl RatePolicy {
    pub fn name(self) -> &'static str {
        match self {
            Self::Principal => "principal",
            Self::Project => "project",
            Self::Uploads => "uploads",
            Self::Address => "address",
            Self::Anonymous => "anonymous",
        }
    }

    pub fn exhausted(self) -> &'static str {
        match self {
            Self::Principal => "the rate limit of this user or API key is exhausted",
            Self::Project => "the request rate of this project's plan is exhausted",
            Self::Uploads => "the upload rate of this project's plan is exhausted",
            Self::Address => "too many requests without credentials from this address",
            Self::Anonymous => "too many requests without credentials; try again shortly",
        }
    }
}

/// One limit's answer and which limit gave it.
#[derive(Debug, Clone, Copy)]
pub struct RateOutcome {
    pub policy: RatePolicy,
    pub decision: Decision,
}

/// Whose bucket a request draws from. A plain value, so a check hashes it
/// in place; it is written out (`u:<id>`, `p:<id>`, ...) only as the
/// shared store's key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RateKey {
    /// A client address without credentials ([`RateKey::address`]).
    Address(Option<IpAddr>),
    /// Every caller without credentials together.
    Anonymous,
    User(Uuid),
    ApiKey(Uuid),
    /// A project's plan, for requests.
    Project(Uuid),
    /// A project's plan, for result uploads.
    Uploads(Uuid),
}

impl RateKey {
    /// The bucket of a client address. An IPv6 client usually holds a
    /// whole /64, so that is what one address means there.
    pub fn address(client_ip: Option<IpAddr>) -> Self {
        Self::Address(client_ip.map(|ip| match ip {
            IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !((1_u128 << 64) - 1))),
            v4 @ IpAddr::V4(_) => v4,
        }))
    }
}

impl fmt::Display for RateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Address(Some(IpAddr::V6(prefix))) => write!(f, "a:{prefix}/64"),
            Self::Address(Some(IpAddr::V4(v4))) => write!(f, "a:{v4}"),
            Self::Address(None) => f.write_str("a:unknown"),
            Self::Anonymous => f.write_str("anonymous"),
            Self::User(id) => write!(f, "u:{id}"),
            Self::ApiKey(id) => write!(f, "k:{id}"),
            Self::Project(id) => write!(f, "p:{id}"),
            Self::Uploads(id) => write!(f, "up:{id}"),
        }
    }
}

/// `RateLimit-Policy` and `RateLimit` (IETF httpapi ratelimit headers).
pub fn insert_rate_headers(headers: &mut HeaderMap, rate: &RateOutcome) {
    let (name, decision) = (rate.policy.name(), &rate.decision);
    let policy = format!(
        "\"{name}\";q={};w=60;burst={}",
        decision.limit.per_minute, decision.limit.burst
    );
    let state = format!(
        "\"{name}\";r={};t={}",
        decision.remaining, decision.reset_secs
    );
    for (name, value) in [("ratelimit-policy", policy), ("ratelimit", state)] {
        if let Ok(value) = HeaderValue::try_from(value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ipv6_client_is_limited_by_its_64_and_an_ipv4_client_by_its_address() {
        let key = |text: &str| RateKey::address(Some(text.parse().unwrap()));
        assert_eq!(
            key("2001:db8:1:2:aaaa::1").to_string(),
            "a:2001:db8:1:2::/64"
        );
        assert_eq!(key("2001:db8:1:2:ffff::9"), key("2001:db8:1:2::1"));
        assert_ne!(key("2001:db8:1:3::1"), key("2001:db8:1:2::1"));
        assert_eq!(key("203.0.113.9").to_string(), "a:203.0.113.9");
        assert_eq!(RateKey::address(None).to_string(), "a:unknown");
    }
}
