//! The order of [`super`], as one function over a failure's facts and
//! what is known about the project.

use std::collections::HashSet;

use uuid::Uuid;

use super::builtin;
use super::learned::LabelledGroups;
use super::rules::{CompiledRule, RuleField};
use super::{Classification, Explanation, Label, LabelSource};
use crate::domain::FailureKind;
use crate::domain::signature::fingerprint::Signature;

/// The confidence of `flaky` for a failure of a test the flaky-test
/// monitor knows as flaky (a retry that passed in the same build is 1).
pub const KNOWN_FLAKY_CONFIDENCE: f64 = 0.8;

/// The confidence of a project rule's label: an admin wrote it for the
/// project, but a pattern still guesses.
pub const PROJECT_RULE_CONFIDENCE: f64 = 0.9;

/// What classification reads of a failure (or of a group, through its
/// first failure).
#[derive(Debug, Clone, Copy)]
pub struct FailureFacts<'a> {
    pub kind: FailureKind,
    /// The exception type of the signature, else the report's `type`.
    pub exception_type: Option<&'a str>,
    pub message: Option<&'a str>,
    /// The signature's frame keys, top (innermost) first.
    pub frames: &'a [String],
    pub signature: &'a Signature,
}

impl<'a> FailureFacts<'a> {
    pub fn new(
        kind: FailureKind,
        report_type: Option<&'a str>,
        message: Option<&'a str>,
        signature: &'a Signature,
    ) -> Self {
        Self {
            kind,
            exception_type: signature
                .exception_type
                .as_deref()
                .or(report_type.map(str::trim).filter(|t| !t.is_empty())),
            message,
            frames: &signature.frames,
            signature,
        }
    }
}

/// What is known of the failing run's test.
#[derive(Debug, Clone, Copy, Default)]
pub struct Flakiness {
    pub test_id: Option<Uuid>,
    /// The test passed on a retry in the same build (result status `flaky`).
    pub passed_on_retry: bool,
}

/// A project's rules, its user-labelled groups and the tests known flaky:
/// loaded once per upload or label change, then applied to any number of
/// failures.
#[derive(Debug, Clone, Copy)]
pub struct Classifier<'a> {
    pub rules: &'a [CompiledRule],
    pub labelled: &'a LabelledGroups,
    /// Tests the flaky-test monitor flags; empty until it feeds them in.
    pub known_flaky: &'a HashSet<Uuid>,
}

impl Classifier<'_> {
    /// The full order of [`super`] for a failure of group `group_id`.
    pub fn classify(
        &self,
        group_id: Uuid,
        facts: &FailureFacts<'_>,
        flakiness: Flakiness,
    ) -> Classification {
        let user = self.labelled.user_label(group_id).cloned();
        let own = self.own(facts, flakiness);
        if user.is_some() || own.source == Some(LabelSource::Flaky) {
            return combine(user, own, None);
        }
        let learned = self.learned(group_id, facts.signature);
        combine(None, own, learned)
    }

    /// What a failure says about itself, whatever other groups are
    /// labelled: flaky evidence, else the project's rules, else the
    /// built-in rules, else nothing.
    pub fn own(&self, facts: &FailureFacts<'_>, flakiness: Flakiness) -> Classification {
        if let Some(flaky) = self.flaky(flakiness) {
            return flaky;
        }
        if let Some(rule) = self.project_rule(facts) {
            return rule;
        }
        if let Some(found) = builtin::first_match(facts) {
            return Classification {
                label: found.rule.label,
                confidence: found.rule.confidence,
                source: Some(LabelSource::Rule),
                explanation: Explanation::BuiltinRule {
                    rule: found.rule.name.to_owned(),
                    field: found.field.to_owned(),
                    matched: found.matched,
                },
            };
        }
        Classification::nothing()
    }

    /// The label of the most similar user-labelled group (not `group_id`
    /// itself), if one is similar enough.
    pub fn learned(&self, group_id: Uuid, signature: &Signature) -> Option<Classification> {
        let found = self.labelled.most_similar(signature, group_id)?;
        Some(Classification {
            label: found.label,
            confidence: found.similarity.score.clamp(0.0, 1.0),
            source: Some(LabelSource::Learned),
            explanation: Explanation::Learned {
                group_id: found.group_id,
                similarity: found.similarity.score,
                compared: found.similarity.compared.to_owned(),
            },
        })
    }

    /// Flaky evidence about the failing run, if any.
    pub fn flaky(&self, flakiness: Flakiness) -> Option<Classification> {
        let (evidence, confidence) = if flakiness.passed_on_retry {
            ("passed_on_retry", 1.0)
        } else if flakiness
            .test_id
            .is_some_and(|test| self.known_flaky.contains(&test))
        {
            ("known_flaky_test", KNOWN_FLAKY_CONFIDENCE)
        } else {
            return None;
        };
        Some(Classification {
            label: Label::Flaky,
            confidence,
            source: Some(LabelSource::Flaky),
            explanation: Explanation::Flaky {
                evidence: evidence.to_owned(),
                test_id: flakiness.test_id,
            },
        })
    }

    fn project_rule(&self, facts: &FailureFacts<'_>) -> Option<Classification> {
        let message = facts
            .message
            .map(|m| truncate(m, builtin::SEARCHED_MESSAGE_BYTES));
        self.rules.iter().find_map(|rule| {
            let matched = match rule.field {
                RuleField::Message => rule.regex.find(message?).map(|m| m.as_str().to_owned()),
                RuleField::ExceptionType => rule
                    .regex
                    .find(facts.exception_type?)
                    .map(|m| m.as_str().to_owned()),
                RuleField::Frames => facts
                    .frames
                    .iter()
                    .find(|frame| rule.regex.is_match(frame))
                    .cloned(),
            }?;
            Some(Classification {
                label: rule.label,
                confidence: PROJECT_RULE_CONFIDENCE,
                source: Some(LabelSource::Rule),
                explanation: Explanation::ProjectRule {
                    rule_id: rule.id,
                    rule_name: rule.name.clone(),
                    field: rule.field,
                    matched,
                },
            })
        })
    }
}

/// The label that stands, from a user's label (if any), the failure's own
/// and a learned one (if any): the user's, else flaky evidence, else the
/// learned label, else the own one.
pub fn combine(
    user: Option<Classification>,
    own: Classification,
    learned: Option<Classification>,
) -> Classification {
    if let Some(user) = user {
        return user;
    }
    if own.source == Some(LabelSource::Flaky) {
        return own;
    }
    learned.unwrap_or(own)
}

fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}
