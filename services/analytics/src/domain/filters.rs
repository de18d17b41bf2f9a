//! The filters every dashboard takes: `branch`, `job` and a time range
//! (`from`/`to` days, or `period` 7, 30 or 90 days ending today), checked
//! once here so handlers and queries only see valid ones.

use chrono::{Datelike, Days, NaiveDate};

/// The longest range a dashboard answers for (a year and a day).
pub const MAX_RANGE_DAYS: u64 = 366;

/// The periods a trend may be asked for by name.
pub const PERIODS: [u64; 3] = [7, 30, 90];

/// Why a filter is refused (400, [`FilterError::code`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    #[error("`from` ({from}) is after `to` ({to})")]
    Reversed { from: NaiveDate, to: NaiveDate },
    #[error("the range spans {days} days; at most {MAX_RANGE_DAYS} are allowed")]
    TooLong { days: u64 },
    #[error("`period` must be 7, 30 or 90 (days), not {0}")]
    UnknownPeriod(u64),
    #[error("give either `period` or `from`/`to`, not both")]
    PeriodAndRange,
    #[error("`{name}` must be 1 to 200 characters, none of them NUL")]
    BadName { name: &'static str },
    #[error("`{name}` must be between 1 and {max}")]
    OutOfBounds { name: &'static str, max: u64 },
    #[error("dates must be between 0001-01-01 and 9999-12-31")]
    DateOutOfBounds,
}

impl FilterError {
    /// The problem code: `filter.inconsistent_range` when the parameters
    /// disagree with each other (a range the wrong way round, longer than
    /// allowed, or given twice), `filter.invalid` when one is wrong alone.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Reversed { .. } | Self::TooLong { .. } | Self::PeriodAndRange => {
                "filter.inconsistent_range"
            }
            Self::UnknownPeriod(_)
            | Self::BadName { .. }
            | Self::OutOfBounds { .. }
            | Self::DateOutOfBounds => "filter.invalid",
        }
    }
}

/// The first day a filter may name.
fn first_day() -> NaiveDate {
    NaiveDate::from_ymd_opt(1, 1, 1).unwrap_or(NaiveDate::MIN)
}

/// The last day a filter may name.
fn last_day() -> NaiveDate {
    NaiveDate::from_ymd_opt(9999, 12, 31).unwrap_or(NaiveDate::MAX)
}

/// What the client sent, before checking.
#[derive(Debug, Clone, Default)]
pub struct RawFilter {
    pub branch: Option<String>,
    pub job: Option<String>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub period: Option<u64>,
}

/// A checked filter: an inclusive range of UTC days, and optionally one
/// branch (`""` is the builds that name none) and one job.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DashboardFilter {
    pub branch: Option<String>,
    pub job: Option<String>,
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl DashboardFilter {
    /// Checks `raw` as of `today`; without a range the last
    /// `default_days` days (today included) are taken.
    pub fn parse(raw: RawFilter, today: NaiveDate, default_days: u64) -> Result<Self, FilterError> {
        let RawFilter {
            branch,
            job,
            from,
            to,
            period,
        } = raw;
        for (name, value) in [("branch", &branch), ("job", &job)] {
            if value
                .as_ref()
                .is_some_and(|v| v.chars().count() > 200 || v.contains('\0'))
            {
                return Err(FilterError::BadName { name });
            }
        }
        if job.as_deref() == Some("") {
            return Err(FilterError::BadName { name: "job" });
        }
        let (from, to) = match (period, from, to) {
            (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
                return Err(FilterError::PeriodAndRange);
            }
            (Some(days), None, None) => {
                if !PERIODS.contains(&days) {
                    return Err(FilterError::UnknownPeriod(days));
                }
                (days_before(today, days), today)
            }
            (None, from, to) => {
                let to = to.unwrap_or(today);
                let from = from.unwrap_or_else(|| days_before(to, default_days));
                (from, to)
            }
        };
        if [from, to]
            .iter()
            .any(|day| *day < first_day() || *day > last_day())
        {
            return Err(FilterError::DateOutOfBounds);
        }
        if from > to {
            return Err(FilterError::Reversed { from, to });
        }
        let days = span_days(from, to);
        if days > MAX_RANGE_DAYS {
            return Err(FilterError::TooLong { days });
        }
        Ok(Self {
            branch,
            job,
            from,
            to,
        })
    }

    /// Days in the range, both ends included.
    pub fn days(&self) -> u64 {
        span_days(self.from, self.to)
    }

    /// The range of the same length just before this one, same branch and
    /// job: what a trend or a direction compares against.
    #[must_use]
    pub fn previous(&self) -> Self {
        let days = self.days();
        let to = self
            .from
            .checked_sub_days(Days::new(1))
            .unwrap_or(self.from);
        Self {
            branch: self.branch.clone(),
            job: self.job.clone(),
            from: days_before(to, days),
            to,
        }
    }
}

/// A range cut into the full ISO weeks (Monday to Sunday) inside it and
/// the days before and after them; each part is an inclusive pair of
/// dates, empty when its first date is after its last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WeekSplit {
    pub head: (NaiveDate, NaiveDate),
    /// The Mondays of the full weeks.
    pub weeks: (NaiveDate, NaiveDate),
    pub tail: (NaiveDate, NaiveDate),
}

/// A part with nothing in it (its first day after its last, both days
/// the database can hold).
fn empty() -> (NaiveDate, NaiveDate) {
    (last_day(), first_day())
}

impl DashboardFilter {
    /// The range's full weeks and the days around them.
    pub fn week_split(&self) -> WeekSplit {
        let to_monday = (7 - self.from.weekday().num_days_from_monday()) % 7;
        let first_monday = self.from.checked_add_days(Days::new(u64::from(to_monday)));
        let past_sunday = (self.to.weekday().num_days_from_monday() + 1) % 7;
        let last_sunday = self.to.checked_sub_days(Days::new(u64::from(past_sunday)));
        let weeks = first_monday.zip(last_sunday).and_then(|(monday, sunday)| {
            let last_monday = sunday.checked_sub_days(Days::new(6))?;
            let head_end = monday.checked_sub_days(Days::new(1))?;
            let tail_start = sunday.checked_add_days(Days::new(1))?;
            (monday <= last_monday).then_some((monday, last_monday, head_end, tail_start))
        });
        match weeks {
            Some((monday, last_monday, head_end, tail_start)) => WeekSplit {
                head: (self.from, head_end),
                weeks: (monday, last_monday),
                tail: (tail_start, self.to),
            },
            None => WeekSplit {
                head: (self.from, self.to),
                weeks: empty(),
                tail: empty(),
            },
        }
    }
}

/// A count parameter (`limit`, `builds`) between 1 and `max`, `default`
/// when absent.
pub fn bounded(
    name: &'static str,
    value: Option<u64>,
    default: u64,
    max: u64,
) -> Result<i64, FilterError> {
    let value = value.unwrap_or(default);
    if value == 0 || value > max {
        return Err(FilterError::OutOfBounds { name, max });
    }
    i64::try_from(value).map_err(|_| FilterError::OutOfBounds { name, max })
}

/// The first day of a range of `days` days ending with `last`.
fn days_before(last: NaiveDate, days: u64) -> NaiveDate {
    last.checked_sub_days(Days::new(days.saturating_sub(1)))
        .unwrap_or(NaiveDate::MIN)
}

fn span_days(from: NaiveDate, to: NaiveDate) -> u64 {
    u64::try_from((to - from).num_days()).unwrap_or(0) + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn a_period_ends_today_and_counts_today() {
        let raw = RawFilter {
            period: Some(7),
            ..RawFilter::default()
        };
        let filter = DashboardFilter::parse(raw, day("2026-03-10"), 30).unwrap();
        assert_eq!(
            (filter.from, filter.to),
            (day("2026-03-04"), day("2026-03-10"))
        );
        assert_eq!(filter.days(), 7);
        let previous = filter.previous();
        assert_eq!(
            (previous.from, previous.to),
            (day("2026-02-25"), day("2026-03-03"))
        );
    }

    fn range(from: &str, to: &str) -> DashboardFilter {
        DashboardFilter {
            branch: None,
            job: None,
            from: day(from),
            to: day(to),
        }
    }

    #[test]
    fn a_range_splits_into_its_full_weeks_and_the_days_around_them() {
        // 2026-03-04 is a Wednesday; 2026-03-09 and 2026-03-16 Mondays.
        let split = range("2026-03-04", "2026-03-24").week_split();
        assert_eq!(split.head, (day("2026-03-04"), day("2026-03-08")));
        assert_eq!(split.weeks, (day("2026-03-09"), day("2026-03-16")));
        assert_eq!(split.tail, (day("2026-03-23"), day("2026-03-24")));
        let exact = range("2026-03-09", "2026-03-22").week_split();
        assert!(exact.head.0 > exact.head.1 && exact.tail.0 > exact.tail.1);
        assert_eq!(exact.weeks, (day("2026-03-09"), day("2026-03-16")));
        let short = range("2026-03-10", "2026-03-15").week_split();
        assert_eq!(short.head, (day("2026-03-10"), day("2026-03-15")));
        assert!(short.weeks.0 > short.weeks.1 && short.tail.0 > short.tail.1);
    }

    #[test]
    fn bad_ranges_are_refused() {
        let today = day("2026-03-10");
        let reversed = RawFilter {
            from: Some(day("2026-03-09")),
            to: Some(day("2026-03-01")),
            ..RawFilter::default()
        };
        assert!(matches!(
            DashboardFilter::parse(reversed, today, 30),
            Err(FilterError::Reversed { .. })
        ));
        let long = RawFilter {
            from: Some(day("2020-01-01")),
            ..RawFilter::default()
        };
        assert!(matches!(
            DashboardFilter::parse(long, today, 30),
            Err(FilterError::TooLong { .. })
        ));
        let ancient = RawFilter {
            from: Some(day("0000-12-31")),
            to: Some(day("0001-01-02")),
            ..RawFilter::default()
        };
        assert_eq!(
            DashboardFilter::parse(ancient, today, 30),
            Err(FilterError::DateOutOfBounds)
        );
        let period = RawFilter {
            period: Some(8),
            ..RawFilter::default()
        };
        assert_eq!(
            DashboardFilter::parse(period, today, 30),
            Err(FilterError::UnknownPeriod(8))
        );
    }
}
