//! A `<testcase>` as real reports write it: a failure or an error (the
//! first one describes the case), skips written as an element or as a
//! `status` attribute, Surefire's `flakyFailure`/`rerunFailure` attempts,
//! captured output, and `time` with thousands separators. Excerpts are cut
//! to their limits on a character boundary.

use quick_xml::events::BytesStart;

use super::parser::{Parser, SuiteFrame, attribute};
use super::report::{FailureDetail, JunitError, ParsedCase};
use crate::domain::{CaseStatus, FailureKind};

/// Where a text event's content goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Capture {
    Nothing,
    StackTrace,
    /// The trace of the latest Surefire attempt: its text, or its
    /// `<stackTrace>` child's.
    AttemptTrace,
    SystemOut,
    SystemErr,
}

#[derive(Debug, Default)]
pub(super) struct CaseBuilder {
    pub(super) suite: String,
    pub(super) classname: String,
    pub(super) name: String,
    pub(super) file: Option<String>,
    pub(super) duration_ms: Option<i64>,
    pub(super) skipped: bool,
    pub(super) disabled: bool,
    pub(super) flaky: bool,
    pub(super) retries: i32,
    pub(super) failure: Option<FailureDetail>,
    pub(super) attempts: Vec<FailureDetail>,
    pub(super) system_out: Option<String>,
    pub(super) system_err: Option<String>,
    /// Element depth of the `<testcase>` itself.
    pub(super) depth: usize,
}

impl CaseBuilder {
    pub(super) fn finish(self) -> ParsedCase {
        let status = match (&self.failure, self.skipped || self.disabled, self.flaky) {
            (Some(detail), _, _) => match detail.kind {
                FailureKind::Failure => CaseStatus::Failed,
                FailureKind::Error => CaseStatus::Error,
            },
            (None, true, _) => CaseStatus::Skipped,
            (None, false, true) => CaseStatus::Flaky,
            (None, false, false) => CaseStatus::Passed,
        };
        let failure = self.failure.map(|mut detail| {
            detail.system_out = self.system_out;
            detail.system_err = self.system_err;
            detail
        });
        ParsedCase {
            suite: self.suite,
            classname: self.classname,
            name: self.name,
            file: self.file,
            status,
            duration_ms: self.duration_ms,
            retries: self.retries,
            failure,
            attempts: self.attempts,
        }
    }
}

/// Text collected up to a cap, cut on a character boundary.
fn append_capped(target: &mut String, text: &str, cap: usize, truncated: &mut bool) {
    if target.len() >= cap {
        if !text.is_empty() {
            *truncated = true;
        }
        return;
    }
    let room = cap - target.len();
    if text.len() <= room {
        target.push_str(text);
    } else {
        let mut end = room;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        target.push_str(&text[..end]);
        *truncated = true;
    }
}

/// `time` as real reports write it: `1.5`, `3,000.457`, ` 2 `, or nothing.
pub fn parse_duration_ms(raw: &str) -> Option<i64> {
    let cleaned: String = raw.trim().chars().filter(|c| *c != ',').collect();
    let seconds: f64 = cleaned.parse().ok()?;
    if !seconds.is_finite() || !(0.0..=1.0e9).contains(&seconds) {
        return None;
    }
    #[expect(
        clippy::cast_possible_truncation,
        reason = "bounded above: at most 1e12 ms"
    )]
    Some((seconds * 1000.0).round() as i64)
}

impl Parser {
    /// A `<testcase>` opens: its identity from its attributes and its
    /// suite's, a `time` as real reports write it, a `status` that skips it.
    pub(super) fn start_case(
        &mut self,
        start: &BytesStart<'_>,
        here: (u64, u64),
    ) -> Result<(), JunitError> {
        if let Some(suite) = self.suites.last_mut() {
            suite.has_children = true;
        }
        let attributes = self.attributes(start, here)?;
        let SuiteFrame {
            name: suite,
            file: suite_file,
            ..
        } = self.suites.last().cloned().unwrap_or_default();
        let name = match attribute(&attributes, "name").filter(|n| !n.trim().is_empty()) {
            Some(name) => name,
            None => {
                self.warnings.push(format!(
                    "line {}: a testcase without a name was named `unnamed`",
                    here.0
                ));
                "unnamed".to_owned()
            }
        };
        let duration_ms = match attribute(&attributes, "time") {
            None => None,
            Some(raw) if raw.trim().is_empty() => None,
            Some(raw) => {
                let parsed = parse_duration_ms(&raw);
                if parsed.is_none() {
                    self.warnings.push(format!(
                        "line {}: time `{raw}` is not a duration; left empty",
                        here.0
                    ));
                }
                parsed
            }
        };
        let status = attribute(&attributes, "status").unwrap_or_default();
        self.case = Some(CaseBuilder {
            suite,
            classname: attribute(&attributes, "classname").unwrap_or_default(),
            name,
            file: attribute(&attributes, "file")
                .filter(|f| !f.is_empty())
                .or(suite_file),
            duration_ms,
            disabled: matches!(
                status.to_ascii_lowercase().as_str(),
                "disabled" | "skipped" | "notrun" | "ignored"
            ),
            depth: self.depth,
            ..CaseBuilder::default()
        });
        Ok(())
    }

    /// An element directly inside a `<testcase>`: the failure or error
    /// that describes it, a skip, Surefire's flaky and rerun attempts, and
    /// the output it captured.
    pub(super) fn start_in_case(
        &mut self,
        name: &str,
        start: &BytesStart<'_>,
        here: (u64, u64),
    ) -> Result<(), JunitError> {
        let direct_child = self
            .case
            .as_ref()
            .is_some_and(|c| c.depth + 1 == self.depth);
        if !direct_child {
            // Inside a Surefire attempt: its `<stackTrace>` is the trace
            // being captured; its own output is not kept.
            if self.capture == Capture::AttemptTrace && name != "stackTrace" {
                self.capture = Capture::Nothing;
            }
            return Ok(());
        }
        match name {
            "failure" | "error" => {
                let kind = if name == "error" {
                    FailureKind::Error
                } else {
                    FailureKind::Failure
                };
                let detail = self.failure_detail(kind, start, here)?;
                if let Some(case) = self.case.as_mut() {
                    // The first failure describes the case; more are counted once.
                    if case.failure.is_none() {
                        case.failure = Some(detail);
                        self.capture = Capture::StackTrace;
                        self.capture_depth = self.depth;
                    }
                }
            }
            "skipped" => {
                if let Some(case) = self.case.as_mut() {
                    case.skipped = true;
                }
            }
            "flakyFailure" | "flakyError" | "rerunFailure" | "rerunError" => {
                let kind = if name.ends_with("Error") {
                    FailureKind::Error
                } else {
                    FailureKind::Failure
                };
                let detail = self.failure_detail(kind, start, here)?;
                if let Some(case) = self.case.as_mut() {
                    case.flaky |= name.starts_with("flaky");
                    case.retries = case.retries.saturating_add(1);
                    case.attempts.push(detail);
                    self.capture = Capture::AttemptTrace;
                    self.capture_depth = self.depth;
                }
            }
            "system-out" => {
                self.capture = Capture::SystemOut;
                self.capture_depth = self.depth;
            }
            "system-err" => {
                self.capture = Capture::SystemErr;
                self.capture_depth = self.depth;
            }
            _ => {}
        }
        Ok(())
    }

    /// The type and (capped) message of a `<failure>`, `<error>` or
    /// Surefire attempt element.
    fn failure_detail(
        &mut self,
        kind: FailureKind,
        start: &BytesStart<'_>,
        here: (u64, u64),
    ) -> Result<FailureDetail, JunitError> {
        let attributes = self.attributes(start, here)?;
        let get = |key: &str| attribute(&attributes, key).filter(|v| !v.is_empty());
        let mut truncated = false;
        let message = get("message").map(|message| {
            let mut capped = String::new();
            append_capped(
                &mut capped,
                &message,
                self.limits.max_message_bytes,
                &mut truncated,
            );
            capped
        });
        self.truncated |= truncated;
        Ok(FailureDetail {
            kind,
            error_type: get("type"),
            message,
            ..FailureDetail::default()
        })
    }

    pub(super) fn text(&mut self, text: &str) {
        let Some(case) = self.case.as_mut() else {
            return;
        };
        let mut truncated = false;
        match self.capture {
            Capture::Nothing => {}
            Capture::StackTrace => {
                if let Some(detail) = case.failure.as_mut() {
                    let target = detail.stack_trace.get_or_insert_with(String::new);
                    append_capped(
                        target,
                        text,
                        self.limits.max_stack_trace_bytes,
                        &mut truncated,
                    );
                }
            }
            Capture::AttemptTrace => {
                if let Some(detail) = case.attempts.last_mut() {
                    let target = detail.stack_trace.get_or_insert_with(String::new);
                    append_capped(
                        target,
                        text,
                        self.limits.max_stack_trace_bytes,
                        &mut truncated,
                    );
                }
            }
            Capture::SystemOut => {
                let target = case.system_out.get_or_insert_with(String::new);
                append_capped(target, text, self.limits.max_output_bytes, &mut truncated);
            }
            Capture::SystemErr => {
                let target = case.system_err.get_or_insert_with(String::new);
                append_capped(target, text, self.limits.max_output_bytes, &mut truncated);
            }
        }
        self.truncated |= truncated;
    }
}
