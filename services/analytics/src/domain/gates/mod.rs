//! Quality gates: the rules a project's admins set for the builds of
//! matching branches, and what a finished build's evaluation answers.
//!
//! - [`rules`]: the rule kinds, their thresholds, names and branch
//!   patterns, parsed so an invalid rule cannot be built;
//! - [`evaluate`]: a finished build's facts against its rules;
//! - [`event`]: `gate.failed`, published when a build's gate fails.

pub mod evaluate;
pub mod event;
pub mod rules;

pub use evaluate::{
    Amount, BuildFacts, FailingResult, FailureRef, GateAnswer, GateStatus, RuleResult, RuleStatus,
    evaluate,
};
pub use rules::{BranchPattern, GateRule, NewGateRule, RuleKind, RuleName, Threshold};
