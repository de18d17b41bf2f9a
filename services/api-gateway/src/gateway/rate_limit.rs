//! Which rate limits a request meets, and which of them it is told about.

use std::net::IpAddr;

use super::{Caller, Gateway};
use crate::domain::route_table::Route;
use crate::lookups::Access;
use crate::rate_limiter::Limit;
use crate::rate_policy::{RateKey, RateOutcome, RatePolicy};

impl Gateway {
    /// Every limit that applies to this request, in order, each weighing
    /// the route's `rate_cost` (an upload also counts once against its
    /// plan's upload rate). The first refusal wins; otherwise the limit
    /// with the fewest requests of this kind left is reported.
    pub(super) async fn rate_limit(
        &self,
        caller: &Caller,
        access: Option<&Access>,
        route: &Route,
        client_ip: Option<IpAddr>,
    ) -> Option<RateOutcome> {
        let cost = route.rate_cost;
        let mut checks: Vec<(RatePolicy, RateKey, Limit, u32)> = Vec::with_capacity(3);
        match caller {
            Caller::Anonymous => {
                // The address's own limit first, so one noisy address is
                // refused before it uses up the shared ceiling.
                checks.push((
                    RatePolicy::Address,
                    RateKey::address(client_ip),
                    self.anonymous_limit,
                    cost,
                ));
                checks.push((
                    RatePolicy::Anonymous,
                    RateKey::Anonymous,
                    self.anonymous_global_limit,
                    cost,
                ));
            }
            Caller::User(user) => checks.push((
                RatePolicy::Principal,
                RateKey::User(user.user_id),
                self.principal_limit,
                cost,
            )),
            Caller::ApiKey(key) => checks.push((
                RatePolicy::Principal,
                RateKey::ApiKey(key.principal_id),
                self.principal_limit,
                cost,
            )),
        }
        if let Some(access) = access {
            // The narrower limit first: an upload past its plan's upload
            // rate is refused as such, whatever requests remain.
            if route.upload {
                checks.push((
                    RatePolicy::Uploads,
                    RateKey::Uploads(access.project_id),
                    Limit {
                        per_minute: access.limits.uploads_per_minute,
                        burst: access.limits.upload_burst,
                    },
                    1,
                ));
            }
            checks.push((
                RatePolicy::Project,
                RateKey::Project(access.project_id),
                Limit {
                    per_minute: access.limits.requests_per_minute,
                    burst: access.limits.request_burst,
                },
                cost,
            ));
        }
        let mut tightest: Option<(u32, RateOutcome)> = None;
        for (policy, key, limit, cost) in checks {
            let decision = self.limiter.check(key, limit, cost).await;
            let outcome = RateOutcome { policy, decision };
            if !decision.allowed {
                return Some(outcome);
            }
            let fits = decision.remaining / cost.max(1);
            if tightest.is_none_or(|(least, _)| fits < least) {
                tightest = Some((fits, outcome));
            }
        }
        tightest.map(|(_, outcome)| outcome)
    }
}
