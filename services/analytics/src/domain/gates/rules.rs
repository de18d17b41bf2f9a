//! A gate rule: what it measures ([`RuleKind`]), its limit
//! ([`Threshold`]), its name and the branches it applies to
//! ([`BranchPattern`]). Each parses from what an admin sends, so a rule
//! that exists is valid.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// What a rule measures in a build. Quarantined tests and failures of
/// muted groups never count in any of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RuleKind {
    /// At most `threshold` failing tests.
    MaxFailures,
    /// At least `threshold` percent of the tests that ran passed.
    MinPassRate,
    /// No failure group first seen in this build.
    NoNewGroups,
    /// No failure labelled `product_bug`.
    NoProductBugs,
    /// At most `threshold` tests failing that did not fail in the
    /// build's baseline (the last good build of its job on its branch).
    MaxNewlyFailing,
    /// At least `threshold` tests ran (skipped ones do not count): a
    /// build that silently ran fewer fails.
    MinTests,
}

impl RuleKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MaxFailures => "max_failures",
            Self::MinPassRate => "min_pass_rate",
            Self::NoNewGroups => "no_new_groups",
            Self::NoProductBugs => "no_product_bugs",
            Self::MaxNewlyFailing => "max_newly_failing",
            Self::MinTests => "min_tests",
        }
    }
}

impl FromStr for RuleKind {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        [
            Self::MaxFailures,
            Self::MinPassRate,
            Self::NoNewGroups,
            Self::NoProductBugs,
            Self::MaxNewlyFailing,
            Self::MinTests,
        ]
        .into_iter()
        .find(|kind| kind.as_str() == value)
        .ok_or_else(|| format!("`{value}` is not a quality gate rule kind"))
    }
}

/// The largest count a count threshold may be.
pub const MAX_COUNT_THRESHOLD: f64 = 1_000_000_000.0;

/// A rule's limit, valid for its kind: a whole count from 0 to 10^9, a
/// percentage from 0 to 100, or 0 for the kinds that allow nothing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Threshold(f64);

impl Threshold {
    /// `value` as `kind`'s threshold; the kinds that allow nothing take
    /// none (or 0).
    pub fn parse(kind: RuleKind, value: Option<f64>) -> Result<Self, String> {
        match (kind, value) {
            (RuleKind::NoNewGroups | RuleKind::NoProductBugs, None | Some(0.0)) => Ok(Self(0.0)),
            (RuleKind::NoNewGroups | RuleKind::NoProductBugs, Some(_)) => {
                Err(format!("must be absent or 0 for {}", kind.as_str()))
            }
            (_, None) => Err(format!("is required for {}", kind.as_str())),
            (RuleKind::MinPassRate, Some(value)) if (0.0..=100.0).contains(&value) => {
                Ok(Self(value))
            }
            (RuleKind::MinPassRate, Some(_)) => {
                Err("must be a percentage from 0 to 100".to_owned())
            }
            (_, Some(value))
                if value.fract() == 0.0 && (0.0..=MAX_COUNT_THRESHOLD).contains(&value) =>
            {
                Ok(Self(value))
            }
            (_, Some(_)) => Err("must be a whole number from 0 to 1000000000".to_owned()),
        }
    }

    pub fn value(self) -> f64 {
        self.0
    }
}

/// A rule's name: 1 to 200 characters without control characters, unique
/// in its project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleName(String);

impl RuleName {
    pub fn parse(value: &str) -> Result<Self, String> {
        let trimmed = value.trim();
        // The length counts as sent, surrounding spaces included, as the
        // API document states it.
        match (trimmed.chars().count(), value.chars().count()) {
            (0, _) => Err("must not be empty".to_owned()),
            (_, sent) if sent > 200 => Err("must be at most 200 characters".to_owned()),
            _ if trimmed.chars().any(char::is_control) => {
                Err("must not contain control characters".to_owned())
            }
            _ => Ok(Self(trimmed.to_owned())),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The branches a rule applies to: a glob where `*` matches any run of
/// characters (`/` included, so `*` matches every branch and `release/*`
/// every release branch) and `?` one character; everything else matches
/// itself. A build without a branch is matched as the empty name, so only
/// patterns like `*` apply to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BranchPattern(String);

impl BranchPattern {
    pub fn parse(value: &str) -> Result<Self, String> {
        let sent = value.chars().count();
        let value = value.trim();
        if value.is_empty() || sent > 200 {
            return Err("must be 1 to 200 characters".to_owned());
        }
        if value.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err("must not contain spaces or control characters".to_owned());
        }
        Ok(Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `branch` (`None`: the build has none) is one this pattern
    /// names.
    pub fn matches(&self, branch: Option<&str>) -> bool {
        let pattern: Vec<char> = self.0.chars().collect();
        let branch: Vec<char> = branch.unwrap_or_default().chars().collect();
        glob_matches(&pattern, &branch)
    }
}

/// Iterative glob matching with one backtrack point (the last `*`):
/// linear in practice, never exponential.
fn glob_matches(pattern: &[char], text: &[char]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some('*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(&c) if c == '?' || c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((star_p, star_t)) => {
                    p = star_p + 1;
                    t = star_t + 1;
                    star = Some((star_p, star_t + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p.min(pattern.len())..].iter().all(|&c| c == '*')
}

/// A rule as stored and answered.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GateRule {
    pub id: Uuid,
    pub name: String,
    pub kind: RuleKind,
    /// A glob: `main`, `release/*`, `*`.
    pub branch_pattern: String,
    /// A count (max_failures, max_newly_failing, min_tests), a percentage
    /// (min_pass_rate) or 0 (no_new_groups, no_product_bugs).
    pub threshold: f64,
    /// A disabled rule is kept but never evaluated.
    pub enabled: bool,
    pub created_by: Uuid,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl GateRule {
    /// Whether the rule is evaluated for a build on `branch`.
    pub fn applies_to(&self, branch: Option<&str>) -> bool {
        self.enabled
            && BranchPattern::parse(&self.branch_pattern)
                .is_ok_and(|pattern| pattern.matches(branch))
    }
}

/// A rule to store, every field valid.
#[derive(Debug, Clone)]
pub struct NewGateRule {
    pub name: RuleName,
    pub kind: RuleKind,
    pub branch_pattern: BranchPattern,
    pub threshold: Threshold,
    pub enabled: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(pattern: &str, branch: Option<&str>) -> bool {
        BranchPattern::parse(pattern).unwrap().matches(branch)
    }

    #[test]
    fn branch_patterns_match_as_globs() {
        assert!(matches("main", Some("main")));
        assert!(!matches("main", Some("main2")));
        assert!(!matches("main", None));
        assert!(matches("*", Some("feature/x/y")));
        assert!(matches("*", None));
        assert!(matches("release/*", Some("release/1.2")));
        assert!(!matches("release/*", Some("releases/1.2")));
        assert!(matches("release/*", Some("release/")));
        assert!(matches("r?l", Some("rél")));
        assert!(matches("*-hotfix", Some("a-b-hotfix")));
        assert!(!matches("*-hotfix", Some("a-hotfix-b")));
        assert!(matches("a*b*c", Some("aXbYbZc")));
    }

    #[test]
    fn thresholds_follow_their_kind() {
        assert!(Threshold::parse(RuleKind::MaxFailures, Some(3.0)).is_ok());
        assert!(Threshold::parse(RuleKind::MaxFailures, Some(2.5)).is_err());
        assert!(Threshold::parse(RuleKind::MaxFailures, Some(-1.0)).is_err());
        assert!(Threshold::parse(RuleKind::MaxFailures, None).is_err());
        assert!(Threshold::parse(RuleKind::MinPassRate, Some(97.5)).is_ok());
        assert!(Threshold::parse(RuleKind::MinPassRate, Some(100.5)).is_err());
        assert_eq!(
            Threshold::parse(RuleKind::NoNewGroups, None),
            Ok(Threshold(0.0))
        );
        assert!(Threshold::parse(RuleKind::NoProductBugs, Some(1.0)).is_err());
    }

    #[test]
    fn kinds_round_trip_through_their_names() {
        for name in [
            "max_failures",
            "min_pass_rate",
            "no_new_groups",
            "no_product_bugs",
            "max_newly_failing",
            "min_tests",
        ] {
            assert_eq!(name.parse::<RuleKind>().unwrap().as_str(), name);
        }
        assert!("max_flakes".parse::<RuleKind>().is_err());
    }
}
