//! Notification rules: which of a project's events go to which connection.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

/// The events a rule may name, as other services publish them.
pub const NOTIFIABLE_EVENTS: &[&str] = &[
    "group.created",
    "group.regressed",
    "build.completed",
    "gate.failed",
    "test.flaky_detected",
    "test.quarantined",
];

/// The failure service's labels a rule may filter on.
pub const LABELS: &[&str] = &[
    "product_bug",
    "automation_bug",
    "infrastructure",
    "flaky",
    "to_investigate",
];

/// The most rules one project may have.
pub const MAX_RULES_PER_PROJECT: i64 = 200;

/// A rule to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRule {
    pub connection_id: Uuid,
    /// At least one of `group.created`, `group.regressed`,
    /// `build.completed`, `gate.failed`, `test.flaky_detected`,
    /// `test.quarantined`.
    pub events: Vec<String>,
    /// A branch name, `*` matching any run of characters (`release/*`).
    /// An event that names a branch must match it; an event without one
    /// (a new failure group) is not filtered by branch.
    pub branch_filter: Option<String>,
    /// Only events about a failure group with one of these labels; an
    /// event without a label is not filtered by label.
    pub labels: Option<Vec<String>>,
}

/// A rule as stored and shown.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Rule {
    pub id: Uuid,
    pub connection_id: Uuid,
    pub events: Vec<String>,
    pub branch_filter: Option<String>,
    pub labels: Option<Vec<String>>,
    pub enabled: bool,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} {message}")]
pub struct InvalidRule {
    pub field: &'static str,
    pub message: String,
}

impl NewRule {
    /// Checks the rule, events and labels sorted and each listed once.
    pub fn validate(mut self) -> Result<Self, InvalidRule> {
        let invalid = |field, message: String| InvalidRule { field, message };
        self.events.sort();
        self.events.dedup();
        if self.events.is_empty() {
            return Err(invalid("events", "must name at least one event".into()));
        }
        if let Some(unknown) = self
            .events
            .iter()
            .find(|e| !NOTIFIABLE_EVENTS.contains(&e.as_str()))
        {
            return Err(invalid(
                "events",
                format!("`{unknown}` is not one of {}", NOTIFIABLE_EVENTS.join(", ")),
            ));
        }
        if let Some(filter) = &self.branch_filter
            && (filter.is_empty() || filter.len() > 200 || filter.chars().any(char::is_control))
        {
            return Err(invalid(
                "branch_filter",
                "must be 1 to 200 characters".into(),
            ));
        }
        if let Some(labels) = &mut self.labels {
            labels.sort();
            labels.dedup();
            if let Some(unknown) = labels.iter().find(|l| !LABELS.contains(&l.as_str())) {
                return Err(invalid(
                    "labels",
                    format!("`{unknown}` is not one of {}", LABELS.join(", ")),
                ));
            }
        }
        Ok(self)
    }
}

impl Rule {
    /// Whether an event of `kind` with `payload` goes out through this rule.
    pub fn matches(&self, kind: &str, payload: &Value) -> bool {
        if !self.enabled || !self.events.iter().any(|e| e == kind) {
            return false;
        }
        if let (Some(filter), Some(branch)) = (
            &self.branch_filter,
            payload.get("branch").and_then(Value::as_str),
        ) && !glob_matches(filter, branch)
        {
            return false;
        }
        if let (Some(labels), Some(label)) =
            (&self.labels, payload.get("label").and_then(Value::as_str))
            && !labels.iter().any(|l| l == label)
        {
            return false;
        }
        true
    }
}

/// `pattern` against `text`, `*` matching any run of characters
/// (including none); everything else literally.
pub fn glob_matches(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    let [first, middle @ .., last] = parts.as_slice() else {
        return pattern == text;
    };
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn rule(events: &[&str], branch: Option<&str>, labels: Option<&[&str]>) -> Rule {
        Rule {
            id: Uuid::now_v7(),
            connection_id: Uuid::now_v7(),
            events: events.iter().map(|e| (*e).to_owned()).collect(),
            branch_filter: branch.map(str::to_owned),
            labels: labels.map(|l| l.iter().map(|s| (*s).to_owned()).collect()),
            enabled: true,
            created_at: Utc::now(),
        }
    }

    #[test]
    fn globs_match_literally_except_for_stars() {
        assert!(glob_matches("main", "main"));
        assert!(!glob_matches("main", "main2"));
        assert!(glob_matches("release/*", "release/1.2"));
        assert!(!glob_matches("release/*", "feature/x"));
        assert!(glob_matches("*", ""));
        assert!(glob_matches("a*b*c", "axxbyyc"));
        assert!(!glob_matches("a*b*c", "axxcyyb"));
        assert!(!glob_matches("ab*ba", "aba"));
    }

    #[test]
    fn a_rule_matches_its_events_branches_and_labels() {
        let r = rule(&["build.completed", "gate.failed"], Some("main"), None);
        assert!(r.matches("gate.failed", &json!({"branch": "main"})));
        assert!(!r.matches("gate.failed", &json!({"branch": "dev"})));
        assert!(!r.matches("group.created", &json!({})));
        let labelled = rule(&["group.created"], None, Some(&["product_bug"]));
        assert!(labelled.matches("group.created", &json!({})));
        assert!(labelled.matches("group.created", &json!({"label": "product_bug"})));
        assert!(!labelled.matches("group.created", &json!({"label": "flaky"})));
    }

    #[test]
    fn unknown_events_and_labels_are_refused() {
        let new = |events: &[&str], labels: Option<Vec<String>>| NewRule {
            connection_id: Uuid::now_v7(),
            events: events.iter().map(|e| (*e).to_owned()).collect(),
            branch_filter: None,
            labels,
        };
        assert!(new(&[], None).validate().is_err());
        assert!(new(&["group.deleted"], None).validate().is_err());
        assert!(
            new(&["gate.failed"], Some(vec!["bad".into()]))
                .validate()
                .is_err()
        );
        let ok = new(&["gate.failed", "gate.failed", "build.completed"], None)
            .validate()
            .unwrap();
        assert_eq!(ok.events, ["build.completed", "gate.failed"]);
    }
}
