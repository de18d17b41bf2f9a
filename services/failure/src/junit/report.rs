//! What reading a report yields: its test cases, its counts, the repairs
//! made on the way, and why a document is refused.

use std::io;

use crate::domain::{CaseStatus, FailureKind};

/// Bounds on what one document may contain.
#[derive(Debug, Clone, Copy)]
pub struct ParseLimits {
    pub max_depth: usize,
    pub max_attribute_bytes: usize,
    /// Failure messages and stack traces are kept up to this many bytes.
    pub max_stack_trace_bytes: usize,
    pub max_message_bytes: usize,
    /// `system-out` / `system-err` excerpts.
    pub max_output_bytes: usize,
    /// The most of one XML event (a text, tag, comment, CDATA section)
    /// held at once; longer text is cut, a longer tag refused.
    pub max_event_bytes: usize,
}

impl Default for ParseLimits {
    fn default() -> Self {
        Self {
            max_depth: 64,
            max_attribute_bytes: 64 * 1024,
            max_stack_trace_bytes: 64 * 1024,
            max_message_bytes: 8 * 1024,
            max_output_bytes: 16 * 1024,
            max_event_bytes: 1024 * 1024,
        }
    }
}

/// One test case as a report states it.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedCase {
    pub suite: String,
    pub classname: String,
    pub name: String,
    pub file: Option<String>,
    pub status: CaseStatus,
    pub duration_ms: Option<i64>,
    /// Failed attempts before the final one (Surefire reruns, flaky reruns).
    pub retries: i32,
    pub failure: Option<FailureDetail>,
    /// Earlier failed attempts as Surefire writes them (`flakyFailure`,
    /// `flakyError`, `rerunFailure`, `rerunError`), in document order.
    pub attempts: Vec<FailureDetail>,
}

/// What went wrong in a failed or errored case, excerpts capped.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FailureDetail {
    pub kind: FailureKind,
    pub error_type: Option<String>,
    pub message: Option<String>,
    pub stack_trace: Option<String>,
    pub system_out: Option<String>,
    pub system_err: Option<String>,
}

/// Counts of what was ingested, the way CI summaries show them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    pub tests: u64,
    pub passed: u64,
    pub failures: u64,
    pub errors: u64,
    pub skipped: u64,
    pub flaky: u64,
}

impl Counts {
    pub fn add(&mut self, status: CaseStatus) {
        self.tests += 1;
        match status {
            CaseStatus::Passed => self.passed += 1,
            CaseStatus::Failed => self.failures += 1,
            CaseStatus::Error => self.errors += 1,
            CaseStatus::Skipped => self.skipped += 1,
            CaseStatus::Flaky => self.flaky += 1,
        }
    }

    pub fn merge(&mut self, other: Counts) {
        self.tests += other.tests;
        self.passed += other.passed;
        self.failures += other.failures;
        self.errors += other.errors;
        self.skipped += other.skipped;
        self.flaky += other.flaky;
    }

    /// A suite's own totals (`tests`, `failures`, `errors`, `skipped`), as
    /// outcomes: what is neither failed, errored nor skipped passed.
    pub fn declared(tests: u64, failures: u64, errors: u64, skipped: u64) -> Self {
        let not_passed = failures.saturating_add(errors).saturating_add(skipped);
        let tests = tests.max(not_passed);
        Self {
            tests,
            passed: tests - not_passed,
            failures,
            errors,
            skipped,
            flaky: 0,
        }
    }
}

/// What one report held.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Every outcome, the declared ones below included.
    pub counts: Counts,
    /// Outcomes that `<testsuite>` elements declared in their attributes
    /// without listing the test cases: counted, but no test results.
    pub unlisted: Counts,
    pub warnings: Warnings,
}

/// Repairs made while reading, for the upload's response. Capped, so a
/// report with a million repaired cases does not produce a million lines.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Warnings {
    items: Vec<String>,
    dropped: usize,
}

pub(super) const MAX_WARNINGS: usize = 50;

impl Warnings {
    pub fn push(&mut self, warning: impl Into<String>) {
        if self.items.len() < MAX_WARNINGS {
            self.items.push(warning.into());
        } else {
            self.dropped += 1;
        }
    }

    pub fn extend(&mut self, other: Warnings) {
        for item in other.items {
            self.push(item);
        }
        self.dropped += other.dropped;
    }

    pub fn into_vec(mut self) -> Vec<String> {
        if self.dropped > 0 {
            self.items
                .push(format!("{} more warnings not shown", self.dropped));
        }
        self.items
    }
}

/// Why a document was refused.
#[derive(Debug, thiserror::Error)]
pub enum JunitError {
    #[error("line {line}, column {column}: {message}")]
    Malformed {
        line: u64,
        column: u64,
        message: String,
    },
    #[error("the document is empty")]
    Empty,
    #[error("the root element `{0}` is not JUnit (expected testsuites, testsuite or testcase)")]
    NotJunit(String),
    #[error(
        "line {line}, column {column}: document type declarations are refused (no DTDs or entities in test reports)"
    )]
    DtdRefused { line: u64, column: u64 },
    #[error("line {line}, column {column}: elements are nested deeper than {max}")]
    TooDeep { line: u64, column: u64, max: usize },
    #[error("line {line}, column {column}: an attribute is longer than {max} bytes")]
    AttributeTooLong { line: u64, column: u64, max: usize },
    #[error("line {line}, column {column}: a tag is longer than {max} bytes")]
    TagTooLong { line: u64, column: u64, max: u64 },
    /// The document ends inside its root element: cut off while written.
    #[error(
        "line {line}, column {column}: the document ends before its root element is closed (the report is incomplete)"
    )]
    Truncated { line: u64, column: u64 },
    /// The size limit of the decompressed input was reached.
    #[error("the report is larger than {limit} bytes uncompressed")]
    TooLarge { limit: u64 },
    #[error("reading the report failed")]
    Io(#[source] io::Error),
    /// The consumer went away (the upload was abandoned).
    #[error("the upload was abandoned")]
    Abandoned,
}
