//! Commercial plans and what each allows.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::{Invalid, invalid};

/// A project's commercial plan; it decides the limits the gateway enforces
/// and how long results are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(description = "A commercial plan.")]
pub enum Plan {
    Free,
    Team,
    Enterprise,
}

/// What a plan allows. Rates are for the gateway's GCRA limiter: a
/// sustained rate per minute and the burst allowed on top of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(description = "What a plan allows.")]
pub struct PlanLimits {
    pub requests_per_minute: u32,
    pub request_burst: u32,
    pub uploads_per_minute: u32,
    pub upload_burst: u32,
    pub retention_days: u32,
}

impl Plan {
    pub const ALL: [Self; 3] = [Self::Free, Self::Team, Self::Enterprise];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Free => "free",
            Self::Team => "team",
            Self::Enterprise => "enterprise",
        }
    }

    /// The limits live in code, not in a table: changing them is a reviewed
    /// deploy, and every replica agrees on them without a query.
    pub fn limits(self) -> PlanLimits {
        match self {
            Self::Free => PlanLimits {
                requests_per_minute: 300,
                request_burst: 60,
                uploads_per_minute: 10,
                upload_burst: 5,
                retention_days: 14,
            },
            Self::Team => PlanLimits {
                requests_per_minute: 1_200,
                request_burst: 200,
                uploads_per_minute: 60,
                upload_burst: 20,
                retention_days: 90,
            },
            Self::Enterprise => PlanLimits {
                requests_per_minute: 6_000,
                request_burst: 1_000,
                uploads_per_minute: 300,
                upload_burst: 100,
                retention_days: 365,
            },
        }
    }
}

impl FromStr for Plan {
    type Err = Invalid;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|plan| plan.as_str() == value)
            .ok_or_else(|| invalid(format!("`{value}` is not a plan (free, team, enterprise)")))
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn higher_plans_never_allow_less() {
        let limits = Plan::ALL.map(Plan::limits);
        for pair in limits.windows(2) {
            let (lower, higher) = (pair[0], pair[1]);
            assert!(higher.requests_per_minute > lower.requests_per_minute);
            assert!(higher.uploads_per_minute > lower.uploads_per_minute);
            assert!(higher.retention_days > lower.retention_days);
        }
        for plan in Plan::ALL {
            assert_eq!(plan.as_str().parse::<Plan>().unwrap(), plan);
        }
    }
}
