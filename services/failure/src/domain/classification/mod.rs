//! Classification: what kind of problem a failure group (or one failure)
//! is, how sure Faultline is, and what decided it.
//!
//! The order, first that applies wins:
//!
//! 1. a user's label on the group (confidence 1);
//! 2. flaky evidence: the failing test passed on a retry in the same build
//!    (result status `flaky`, confidence 1), or the test is known flaky
//!    (fed in by the flaky-test monitor, confidence [`KNOWN_FLAKY_CONFIDENCE`]);
//! 3. the label of the most similar user-labelled group of the project, at
//!    a [`learned::signature_similarity`] of at least
//!    [`learned::LEARNED_THRESHOLD`] (confidence = the similarity);
//! 4. the project's rules, in their order ([`rules`]);
//! 5. the built-in rules ([`builtin`]);
//! 6. else `to_investigate`, confidence 0, "nothing matched".
//!
//! Flaky evidence sits above learned labels and rules: it is a fact about
//! the failing run, where they are guesses about the problem; only a
//! person overrides it. Pure functions: no SQL, no HTTP.

pub mod builtin;
mod classify;
pub mod learned;
pub mod rules;
#[cfg(test)]
mod tests;
mod upload;

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

pub use classify::{
    Classifier, FailureFacts, Flakiness, KNOWN_FLAKY_CONFIDENCE, PROJECT_RULE_CONFIDENCE, combine,
};
pub use learned::{LabelledGroup, LabelledGroups};
pub use rules::{CompiledRule, NewRule, RuleField, RulePatch, RuleRecord, compile_pattern};
pub use upload::{BatchClassification, GroupClassification, UploadClassifier};

/// What kind of problem a failure is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Label {
    ProductBug,
    AutomationBug,
    Infrastructure,
    Flaky,
    NoDefect,
    ToInvestigate,
}

impl Label {
    pub const ALL: [Label; 6] = [
        Self::ProductBug,
        Self::AutomationBug,
        Self::Infrastructure,
        Self::Flaky,
        Self::NoDefect,
        Self::ToInvestigate,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ProductBug => "product_bug",
            Self::AutomationBug => "automation_bug",
            Self::Infrastructure => "infrastructure",
            Self::Flaky => "flaky",
            Self::NoDefect => "no_defect",
            Self::ToInvestigate => "to_investigate",
        }
    }
}

impl FromStr for Label {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|label| label.as_str() == value)
            .ok_or_else(|| format!("`{value}` is not a label"))
    }
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who or what gave a label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LabelSource {
    /// A project member.
    User,
    /// A similar group a member labelled.
    Learned,
    /// A project rule or a built-in rule.
    Rule,
    /// Flaky evidence about the failing test.
    Flaky,
}

impl LabelSource {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Learned => "learned",
            Self::Rule => "rule",
            Self::Flaky => "flaky",
        }
    }
}

impl FromStr for LabelSource {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value {
            "user" => Ok(Self::User),
            "learned" => Ok(Self::Learned),
            "rule" => Ok(Self::Rule),
            "flaky" => Ok(Self::Flaky),
            other => Err(format!("`{other}` is not a label source")),
        }
    }
}

/// A label, how sure it is, who gave it and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Classification {
    pub label: Label,
    /// From 0 (nothing decided) to 1 (a person said so).
    pub confidence: f64,
    /// Absent when nothing matched.
    pub source: Option<LabelSource>,
    pub explanation: Explanation,
}

/// Exactly what decided a label, as stored with it and answered by the API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "decided_by", rename_all = "snake_case")]
pub enum Explanation {
    /// A project member labelled the group (or the failure).
    User {
        user_id: Uuid,
        labelled_at: DateTime<Utc>,
    },
    /// The most similar group a member labelled.
    Learned {
        group_id: Uuid,
        similarity: f64,
        /// `frames` (same exception type and stack frames) or `message`
        /// (same exception type and message token cosine).
        compared: String,
    },
    /// One of the project's rules.
    ProjectRule {
        rule_id: Uuid,
        rule_name: String,
        field: RuleField,
        /// The text the rule's pattern matched.
        matched: String,
    },
    /// One of the built-in rules ([`builtin::BUILTIN_RULES`]).
    BuiltinRule {
        rule: String,
        /// `message`, `exception_type` or `frames`.
        field: String,
        matched: String,
    },
    /// Flaky evidence about the failing test.
    Flaky {
        /// `passed_on_retry` (in the same build) or `known_flaky_test`.
        evidence: String,
        test_id: Option<Uuid>,
    },
    /// No label, rule or evidence applied.
    Nothing,
}

impl Classification {
    /// `to_investigate`: nothing matched.
    pub fn nothing() -> Self {
        Self {
            label: Label::ToInvestigate,
            confidence: 0.0,
            source: None,
            explanation: Explanation::Nothing,
        }
    }

    /// A member's label, given at `at`.
    pub fn by_user(label: Label, user_id: Uuid, at: DateTime<Utc>) -> Self {
        Self {
            label,
            confidence: 1.0,
            source: Some(LabelSource::User),
            explanation: Explanation::User {
                user_id,
                labelled_at: at,
            },
        }
    }

    /// The explanation as stored (jsonb).
    pub fn explanation_json(&self) -> serde_json::Value {
        serde_json::to_value(&self.explanation).unwrap_or(serde_json::Value::Null)
    }
}
