//! A project's classification rules: an admin's regular expression on one
//! field of a failure and the label it gives, tried in order.
//!
//! Patterns use the `regex` crate's syntax (no look-around, no
//! back-references, so matching time is linear in the text) and are
//! compiled when a rule is written: a pattern longer than
//! [`MAX_PATTERN_CHARS`] or compiling to more than
//! [`COMPILED_SIZE_LIMIT`] bytes is refused. A rule matches when its
//! pattern is found anywhere in the field: the message (its first
//! [`super::builtin::SEARCHED_MESSAGE_BYTES`]), the exception type, or any
//! one of the top frame keys of the failure's signature
//! (`com.shop.Cart::add`, `cart.py::add_item`).

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use regex::{Regex, RegexBuilder};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::Label;

/// The longest pattern a rule may have, in characters.
pub const MAX_PATTERN_CHARS: usize = 1000;

/// The most memory a rule's compiled pattern may take.
pub const COMPILED_SIZE_LIMIT: usize = 256 * 1024;

/// The most rules a project may have.
pub const MAX_RULES_PER_PROJECT: i64 = 200;

/// Which field of a failure a rule's pattern is searched in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RuleField {
    Message,
    ExceptionType,
    Frames,
}

impl RuleField {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Message => "message",
            Self::ExceptionType => "exception_type",
            Self::Frames => "frames",
        }
    }
}

impl FromStr for RuleField {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value {
            "message" => Ok(Self::Message),
            "exception_type" => Ok(Self::ExceptionType),
            "frames" => Ok(Self::Frames),
            other => Err(format!("`{other}` is not a rule field")),
        }
    }
}

impl fmt::Display for RuleField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Compiles a rule's pattern, or says why it cannot be one.
pub fn compile_pattern(pattern: &str) -> Result<Regex, String> {
    if pattern.is_empty() {
        return Err("must not be empty".to_owned());
    }
    if pattern.chars().count() > MAX_PATTERN_CHARS {
        return Err(format!("must be at most {MAX_PATTERN_CHARS} characters"));
    }
    RegexBuilder::new(pattern)
        .size_limit(COMPILED_SIZE_LIMIT)
        .dfa_size_limit(COMPILED_SIZE_LIMIT)
        .nest_limit(64)
        .build()
        .map_err(|error| match error {
            regex::Error::CompiledTooBig(_) => {
                format!("compiles to more than {COMPILED_SIZE_LIMIT} bytes; simplify it")
            }
            other => format!("is not a valid regular expression: {other}"),
        })
}

/// A rule as stored and answered.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RuleRecord {
    pub id: Uuid,
    /// Rules are tried by ascending position, then id.
    pub position: i32,
    pub name: String,
    pub field: RuleField,
    pub pattern: String,
    pub label: Label,
    pub enabled: bool,
    pub created_by: Uuid,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A rule to create, validated.
#[derive(Debug, Clone)]
pub struct NewRule {
    pub name: String,
    pub field: RuleField,
    pub pattern: String,
    pub label: Label,
    pub enabled: bool,
    /// `None`: after the project's last rule.
    pub position: Option<i32>,
}

/// Changes to a rule, validated; `None` keeps a field.
#[derive(Debug, Clone, Default)]
pub struct RulePatch {
    pub name: Option<String>,
    pub field: Option<RuleField>,
    pub pattern: Option<String>,
    pub label: Option<Label>,
    pub enabled: Option<bool>,
    pub position: Option<i32>,
}

/// An enabled rule, ready to match.
#[derive(Debug, Clone)]
pub struct CompiledRule {
    pub id: Uuid,
    pub name: String,
    pub field: RuleField,
    pub label: Label,
    pub regex: Regex,
}

impl CompiledRule {
    /// The enabled rules of `records` in their order; a stored pattern that
    /// no longer compiles (a limit lowered since) is left out.
    pub fn compile_all(records: &[RuleRecord]) -> Vec<CompiledRule> {
        let mut ordered: Vec<&RuleRecord> = records.iter().filter(|r| r.enabled).collect();
        ordered.sort_by_key(|r| (r.position, r.id));
        ordered
            .into_iter()
            .filter_map(|record| {
                Some(CompiledRule {
                    id: record.id,
                    name: record.name.clone(),
                    field: record.field,
                    label: record.label,
                    regex: compile_pattern(&record.pattern).ok()?,
                })
            })
            .collect()
    }
}
