//! The query every dashboard takes, as the client sends it.

use chrono::{NaiveDate, Utc};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::domain::filters::{DashboardFilter, FilterError, RawFilter, bounded};

/// Days a dashboard covers when the query names no range.
pub const DEFAULT_DAYS: u64 = 30;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DashboardQuery {
    /// Only builds of this branch (`""`: builds that name none).
    #[param(max_length = 200, pattern = r"^[^\x00]*$")]
    branch: Option<String>,
    /// Only builds of this job (exact name).
    #[param(min_length = 1, max_length = 200, pattern = r"^[^\x00]*$")]
    job: Option<String>,
    /// First day (UTC, `YYYY-MM-DD`), included; default 30 days before `to`.
    from: Option<NaiveDate>,
    /// Last day (UTC), included; default today.
    to: Option<NaiveDate>,
    /// 7, 30 or 90: the last that many days, today included (instead of
    /// `from`/`to`).
    #[param(value_type = Option<u64>, minimum = 7, maximum = 90)]
    period: Option<u64>,
    /// How many builds (summary, default 10) or entries per ranking or
    /// list (default 10; MTTR 50), at most 100 (MTTR 500).
    #[param(value_type = Option<u64>, minimum = 1, maximum = 500)]
    limit: Option<u64>,
}

impl DashboardQuery {
    /// The checked filter and the `limit` (default `default`, at most
    /// `max`).
    pub fn parse(self, default: u64, max: u64) -> Result<(DashboardFilter, i64), FilterError> {
        let limit = bounded("limit", self.limit, default, max)?;
        let raw = RawFilter {
            branch: self.branch,
            job: self.job,
            from: self.from,
            to: self.to,
            period: self.period,
        };
        let filter = DashboardFilter::parse(raw, Utc::now().date_naive(), DEFAULT_DAYS)?;
        Ok((filter, limit))
    }
}
