//! A streaming JUnit XML reader.
//!
//! Reports are read event by event: memory holds one test case (with its
//! capped excerpts) at a time, never the document, and each case is handed
//! to a sink as soon as its element closes. Real reports bend the format in
//! many ways (Surefire reruns, pytest's xunit flavour, jest, nested suites,
//! a bare `<testcase>` root, missing attributes, `time="3,000.5"`); those
//! are accepted, and anything that had to be repaired becomes a warning.
//! What cannot be trusted is refused: any DTD (no external entities, no
//! entity expansion, so XXE and billion-laughs documents never get
//! anywhere), documents nested deeper than a limit, oversized attributes
//! and tags, a document that ends before its root element closes (a report
//! cut off while it was written), and anything that is not well-formed XML,
//! with the line and column. No single XML event is held past
//! `max_event_bytes` ([`crate::xml_input`]): longer text is cut.

use std::borrow::Cow;
use std::io::{self, BufRead, Read};

use quick_xml::XmlVersion;
use quick_xml::errors::{Error as XmlError, IllFormedError, SyntaxError};
use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::{BytesStart, Event};

use crate::domain::{CaseStatus, FailureKind};
use crate::xml_input::{self, XmlInput};

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

const MAX_WARNINGS: usize = 50;

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

/// The io error a [`LimitedReader`] raises; recognised so the limit
/// becomes a 413, not a parse error.
#[derive(Debug, thiserror::Error)]
#[error("input exceeds {limit} bytes")]
pub struct SizeLimitReached {
    pub limit: u64,
}

/// Stops reading with [`SizeLimitReached`] once `limit` bytes were read.
/// Put around decompressors so a gzip or zip bomb is cut off at the limit.
#[derive(Debug)]
pub struct LimitedReader<R> {
    inner: R,
    remaining: u64,
    limit: u64,
    reached: bool,
}

impl<R> LimitedReader<R> {
    pub fn new(inner: R, limit: u64) -> Self {
        Self {
            inner,
            remaining: limit,
            limit,
            reached: false,
        }
    }

    pub fn consumed(&self) -> u64 {
        self.limit - self.remaining
    }

    /// This reader, not one inside it, refused to read on.
    pub fn reached(&self) -> bool {
        self.reached
    }
}

impl<R: Read> Read for LimitedReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        // Ask for one byte beyond the limit, so reaching it exactly is fine
        // and crossing it is noticed.
        let allowed = usize::try_from(self.remaining.saturating_add(1))
            .unwrap_or(usize::MAX)
            .min(buf.len());
        let read = self.inner.read(&mut buf[..allowed])?;
        let read_u64 = read as u64;
        if read_u64 > self.remaining {
            self.reached = true;
            return Err(io::Error::other(SizeLimitReached { limit: self.limit }));
        }
        self.remaining -= read_u64;
        Ok(read)
    }
}

pub fn size_limit(error: &io::Error) -> Option<u64> {
    error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<SizeLimitReached>())
        .map(|reached| reached.limit)
}

/// Where a text event's content goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Capture {
    Nothing,
    StackTrace,
    SystemOut,
    SystemErr,
}

#[derive(Debug, Default)]
struct CaseBuilder {
    suite: String,
    classname: String,
    name: String,
    file: Option<String>,
    duration_ms: Option<i64>,
    skipped: bool,
    disabled: bool,
    flaky: bool,
    retries: i32,
    failure: Option<FailureDetail>,
    system_out: Option<String>,
    system_err: Option<String>,
    /// Element depth of the `<testcase>` itself.
    depth: usize,
}

impl CaseBuilder {
    fn finish(self) -> ParsedCase {
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

/// Reads one report, handing each test case to `sink` as it closes.
/// Returns its counts and the repairs made; a report that ends before its
/// root element closes is refused as [`JunitError::Truncated`].
pub fn parse_report<R, F>(input: R, limits: ParseLimits, mut sink: F) -> Result<Report, JunitError>
where
    R: BufRead,
    F: FnMut(ParsedCase) -> Result<(), JunitError>,
{
    let max_event = u64::try_from(limits.max_event_bytes).unwrap_or(u64::MAX);
    let mut reader = quick_xml::Reader::from_reader(XmlInput::new(input, max_event));
    {
        let config = reader.config_mut();
        config.expand_empty_elements = true;
        config.check_end_names = true;
        config.trim_text(false);
    }
    let mut parser = Parser {
        limits,
        counts: Counts::default(),
        unlisted: Counts::default(),
        warnings: Warnings::default(),
        depth: 0,
        saw_root: false,
        suites: Vec::new(),
        case: None,
        capture: Capture::Nothing,
        capture_depth: 0,
        truncated: false,
    };
    let mut buf = Vec::with_capacity(8 * 1024);
    loop {
        buf.clear();
        let event = match reader.read_event_into(&mut buf) {
            Ok(event) => event,
            Err(error) => {
                let input = reader.get_ref();
                return Err(parser.read_error(&error, input, reader.error_position()));
            }
        };
        if let Some(line) = reader.get_mut().take_cut() {
            parser.text_cut(line, max_event);
        }
        let here = || reader.get_ref().locate(reader.buffer_position());
        match event {
            Event::Start(start) => {
                parser.start(&start, here())?;
            }
            Event::Empty(start) => {
                parser.start(&start, here())?;
                if let Some(case) = parser.end() {
                    parser.counts.add(case.status);
                    sink(case)?;
                }
            }
            Event::End(_) => {
                if let Some(case) = parser.end() {
                    parser.counts.add(case.status);
                    sink(case)?;
                }
            }
            Event::Text(text) => {
                if parser.capture != Capture::Nothing {
                    let decoded = text.decode().unwrap_or_else(|_| {
                        Cow::Owned(String::from_utf8_lossy(&text).into_owned())
                    });
                    parser.text(&decoded);
                }
            }
            Event::CData(data) => {
                if parser.capture != Capture::Nothing {
                    let decoded = data.decode().unwrap_or_else(|_| {
                        Cow::Owned(String::from_utf8_lossy(&data).into_owned())
                    });
                    parser.text(&decoded);
                }
            }
            Event::GeneralRef(reference) => {
                if parser.capture != Capture::Nothing {
                    let resolved = if reference.is_char_ref() {
                        reference
                            .resolve_char_ref()
                            .ok()
                            .flatten()
                            .map(String::from)
                    } else {
                        reference
                            .decode()
                            .ok()
                            .and_then(|name| resolve_predefined_entity(&name).map(str::to_owned))
                    };
                    match resolved {
                        Some(text) => parser.text(&text),
                        None => {
                            let raw = String::from_utf8_lossy(&reference).into_owned();
                            parser
                                .warnings
                                .push(format!("unknown entity `&{raw};` kept as text"));
                            parser.text(&format!("&{raw};"));
                        }
                    }
                }
            }
            Event::DocType(_) => {
                let (line, column) = here();
                return Err(JunitError::DtdRefused { line, column });
            }
            Event::Eof => break,
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
        }
    }
    if !parser.saw_root {
        return Err(JunitError::Empty);
    }
    if parser.depth > 0 {
        let (line, column) = reader.get_ref().end_position();
        return Err(JunitError::Truncated { line, column });
    }
    if parser.truncated {
        parser
            .warnings
            .push("some messages, stack traces or outputs were cut to their size limit");
    }
    Ok(Report {
        counts: parser.counts,
        unlisted: parser.unlisted,
        warnings: parser.warnings,
    })
}

#[derive(Debug, Clone, Default)]
struct SuiteFrame {
    depth: usize,
    name: String,
    file: Option<String>,
    /// The suite's own totals, when it states any.
    declared: Option<Counts>,
    /// A `<testcase>` or `<testsuite>` was seen inside it.
    has_children: bool,
}

/// A whole number of tests from a suite's attribute; anything else is none.
fn declared_number(attributes: &[(String, String)], keys: &[&str]) -> Option<u64> {
    keys.iter().find_map(|key| {
        attributes
            .iter()
            .find(|(k, _)| k == key)
            .and_then(|(_, value)| value.trim().parse::<u64>().ok())
    })
}

struct Parser {
    limits: ParseLimits,
    counts: Counts,
    /// Declared by suites that list no test cases (also in `counts`).
    unlisted: Counts,
    warnings: Warnings,
    depth: usize,
    saw_root: bool,
    /// Enclosing `<testsuite>` elements: their depth, name and file.
    suites: Vec<SuiteFrame>,
    case: Option<CaseBuilder>,
    capture: Capture,
    /// Depth of the element whose text is being captured.
    capture_depth: usize,
    truncated: bool,
}

impl Parser {
    fn read_error<R: BufRead>(
        &self,
        error: &XmlError,
        input: &XmlInput<R>,
        position: u64,
    ) -> JunitError {
        if let XmlError::Io(io) = error {
            if let Some(limit) = size_limit(io) {
                return JunitError::TooLarge { limit };
            }
            if let Some(markup) = xml_input::markup_too_long(io) {
                let (line, column) = (markup.line, markup.column);
                return if markup.doctype {
                    JunitError::DtdRefused { line, column }
                } else {
                    JunitError::TagTooLong {
                        line,
                        column,
                        max: markup.max,
                    }
                };
            }
            if io.kind() != io::ErrorKind::InvalidData {
                return JunitError::Io(io::Error::new(io.kind(), io.to_string()));
            }
        }
        // Markup (or a reference) the input ended inside of: the document
        // was cut off, not written wrong.
        let cut_off = match error {
            XmlError::Syntax(syntax) => !matches!(syntax, SyntaxError::InvalidBangMarkup),
            XmlError::IllFormed(IllFormedError::UnclosedReference) => input.at_end(),
            _ => false,
        };
        if cut_off {
            let (line, column) = input.end_position();
            return JunitError::Truncated { line, column };
        }
        let (line, column) = input.locate(position);
        JunitError::Malformed {
            line,
            column,
            message: error.to_string(),
        }
    }

    /// The input skipped the rest of a text longer than `max` bytes.
    fn text_cut(&mut self, line: u64, max: u64) {
        let element = match self.capture {
            Capture::Nothing => None,
            Capture::StackTrace => Some("failure text"),
            Capture::SystemOut => Some("system-out"),
            Capture::SystemErr => Some("system-err"),
        };
        let what = match (element, &self.case) {
            (Some(element), Some(case)) => format!("the {element} of `{}`", case.name),
            _ => "a text".to_owned(),
        };
        self.warnings.push(format!(
            "line {line}: {what} is longer than {max} bytes; the rest was skipped"
        ));
        self.truncated = true;
    }

    fn attributes(
        &self,
        start: &BytesStart<'_>,
        (line, column): (u64, u64),
    ) -> Result<Vec<(String, String)>, JunitError> {
        let mut out = Vec::new();
        let mut attributes = start.attributes();
        attributes.with_checks(false);
        for attribute in attributes {
            let attribute = attribute.map_err(|error| JunitError::Malformed {
                line,
                column,
                message: error.to_string(),
            })?;
            if attribute.value.len() > self.limits.max_attribute_bytes {
                return Err(JunitError::AttributeTooLong {
                    line,
                    column,
                    max: self.limits.max_attribute_bytes,
                });
            }
            let key = String::from_utf8_lossy(attribute.key.local_name().as_ref()).into_owned();
            let value = attribute
                .normalized_value(XmlVersion::Implicit1_0)
                .map(Cow::into_owned)
                .unwrap_or_else(|_| String::from_utf8_lossy(&attribute.value).into_owned());
            out.push((key, value));
        }
        Ok(out)
    }

    fn start(&mut self, start: &BytesStart<'_>, here: (u64, u64)) -> Result<(), JunitError> {
        self.depth += 1;
        if self.depth > self.limits.max_depth {
            return Err(JunitError::TooDeep {
                line: here.0,
                column: here.1,
                max: self.limits.max_depth,
            });
        }
        let local = start.local_name();
        let name = String::from_utf8_lossy(local.as_ref()).into_owned();
        if !self.saw_root {
            self.saw_root = true;
            if !matches!(name.as_str(), "testsuites" | "testsuite" | "testcase") {
                return Err(JunitError::NotJunit(name));
            }
        }
        let get = |attributes: &[(String, String)], key: &str| {
            attributes
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.clone())
        };
        match (name.as_str(), self.case.is_some()) {
            ("testsuite", false) => {
                let attributes = self.attributes(start, here)?;
                let suite_name = get(&attributes, "name").unwrap_or_default();
                let file = get(&attributes, "file").filter(|f| !f.is_empty());
                let declared = declared_number(&attributes, &["tests"]).map(|tests| {
                    let count = |keys: &[&str]| declared_number(&attributes, keys).unwrap_or(0);
                    Counts::declared(
                        tests,
                        count(&["failures"]),
                        count(&["errors"]),
                        count(&["skipped", "skips"]),
                    )
                });
                if let Some(parent) = self.suites.last_mut() {
                    parent.has_children = true;
                }
                self.suites.push(SuiteFrame {
                    depth: self.depth,
                    name: suite_name,
                    file,
                    declared,
                    has_children: false,
                });
            }
            ("testcase", false) => {
                if let Some(suite) = self.suites.last_mut() {
                    suite.has_children = true;
                }
                let attributes = self.attributes(start, here)?;
                let SuiteFrame {
                    name: suite,
                    file: suite_file,
                    ..
                } = self.suites.last().cloned().unwrap_or_default();
                let name = match get(&attributes, "name").filter(|n| !n.trim().is_empty()) {
                    Some(name) => name,
                    None => {
                        self.warnings.push(format!(
                            "line {}: a testcase without a name was named `unnamed`",
                            here.0
                        ));
                        "unnamed".to_owned()
                    }
                };
                let duration_ms = match get(&attributes, "time") {
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
                let status = get(&attributes, "status").unwrap_or_default();
                self.case = Some(CaseBuilder {
                    suite,
                    classname: get(&attributes, "classname").unwrap_or_default(),
                    name,
                    file: get(&attributes, "file")
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
            }
            (_, true) => self.start_in_case(&name, start, here)?,
            _ => {}
        }
        Ok(())
    }

    fn start_in_case(
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
            return Ok(());
        }
        match name {
            "failure" | "error" => {
                let attributes = self.attributes(start, here)?;
                let get = |key: &str| {
                    attributes
                        .iter()
                        .find(|(k, _)| k == key)
                        .map(|(_, v)| v.clone())
                        .filter(|v| !v.is_empty())
                };
                let kind = if name == "error" {
                    FailureKind::Error
                } else {
                    FailureKind::Failure
                };
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
                let error_type = get("type");
                if let Some(case) = self.case.as_mut() {
                    // The first failure describes the case; more are counted once.
                    if case.failure.is_none() {
                        case.failure = Some(FailureDetail {
                            kind,
                            error_type,
                            message,
                            ..FailureDetail::default()
                        });
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
            "flakyFailure" | "flakyError" => {
                if let Some(case) = self.case.as_mut() {
                    case.flaky = true;
                    case.retries = case.retries.saturating_add(1);
                }
            }
            "rerunFailure" | "rerunError" => {
                if let Some(case) = self.case.as_mut() {
                    case.retries = case.retries.saturating_add(1);
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

    fn text(&mut self, text: &str) {
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

    /// Closes the current element; returns a finished case when it was a `<testcase>`.
    fn end(&mut self) -> Option<ParsedCase> {
        let closing = self.depth;
        self.depth = self.depth.saturating_sub(1);
        if self.capture != Capture::Nothing && closing == self.capture_depth {
            self.capture = Capture::Nothing;
        }
        if self.case.as_ref().is_some_and(|case| case.depth == closing) {
            return self.case.take().map(|mut case| {
                let trim = |value: Option<String>| {
                    value
                        .map(|text| text.trim().to_owned())
                        .filter(|text| !text.is_empty())
                };
                if let Some(detail) = case.failure.as_mut() {
                    detail.stack_trace = trim(detail.stack_trace.take());
                }
                case.system_out = trim(case.system_out.take());
                case.system_err = trim(case.system_err.take());
                case.finish()
            });
        }
        if self
            .suites
            .last()
            .is_some_and(|suite| suite.depth == closing)
            && let Some(suite) = self.suites.pop()
        {
            self.close_suite(suite);
        }
        None
    }

    /// A suite that states totals but lists no test cases (a runner that
    /// wrote only the summary) counts its totals, as other JUnit tools do.
    fn close_suite(&mut self, suite: SuiteFrame) {
        let Some(declared) = suite.declared.filter(|d| d.tests > 0) else {
            return;
        };
        if suite.has_children {
            return;
        }
        self.warnings.push(format!(
            "suite `{}` lists no test cases; its stated totals were counted ({} tests, {} failures, {} errors, {} skipped)",
            suite.name, declared.tests, declared.failures, declared.errors, declared.skipped
        ));
        self.counts.merge(declared);
        self.unlisted.merge(declared);
    }
}

/// Reads `input` fully into the parser, for callers that hold the whole
/// document (tests, the JSON-free paths).
pub fn parse_all(
    input: &[u8],
    limits: ParseLimits,
) -> Result<(Vec<ParsedCase>, Counts, Warnings), JunitError> {
    let mut cases = Vec::new();
    let report = parse_report(input, limits, |case| {
        cases.push(case);
        Ok(())
    })?;
    Ok((cases, report.counts, report.warnings))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(xml: &str) -> (Vec<ParsedCase>, Counts, Vec<String>) {
        let (cases, counts, warnings) = parse_all(xml.as_bytes(), ParseLimits::default())
            .unwrap_or_else(|error| panic!("{error}"));
        (cases, counts, warnings.into_vec())
    }

    fn refusal(xml: &str, limits: ParseLimits) -> JunitError {
        match parse_all(xml.as_bytes(), limits) {
            Ok((cases, ..)) => panic!("accepted {} cases", cases.len()),
            Err(error) => error,
        }
    }

    #[test]
    fn nested_suites_name_their_cases_and_a_bare_testcase_is_a_report() {
        let (cases, counts, _) = parse(
            r#"<testsuites><testsuite name="outer" file="a.py">
                 <testsuite name="inner"><testcase classname="C" name="one"/></testsuite>
                 <testcase classname="C" name="two"/>
               </testsuite></testsuites>"#,
        );
        let names: Vec<_> = cases
            .iter()
            .map(|c| (c.suite.as_str(), c.name.as_str(), c.file.as_deref()))
            .collect();
        assert_eq!(
            names,
            [("inner", "one", None), ("outer", "two", Some("a.py"))]
        );
        assert_eq!(counts.tests, 2);
        assert_eq!(counts.passed, 2);

        let (cases, counts, _) = parse(r#"<testcase classname="C" name="alone" time="1"/>"#);
        assert_eq!(cases.len(), 1);
        assert_eq!(cases[0].suite, "");
        assert_eq!(cases[0].duration_ms, Some(1000));
        assert_eq!(counts.passed, 1);
    }

    #[test]
    fn an_error_counts_as_an_error_and_a_failure_without_attributes_still_fails() {
        let (cases, counts, _) = parse(
            r#"<testsuite name="s">
                 <testcase name="f"><failure/></testcase>
                 <testcase name="e"><error message="boom" type="IOError">at x()</error></testcase>
               </testsuite>"#,
        );
        assert_eq!(cases[0].status, CaseStatus::Failed);
        let detail = cases[0].failure.as_ref().unwrap();
        assert_eq!(
            (detail.error_type.as_deref(), detail.message.as_deref()),
            (None, None)
        );
        assert_eq!(cases[1].status, CaseStatus::Error);
        let detail = cases[1].failure.as_ref().unwrap();
        assert_eq!(detail.kind, FailureKind::Error);
        assert_eq!(detail.error_type.as_deref(), Some("IOError"));
        assert_eq!(detail.stack_trace.as_deref(), Some("at x()"));
        assert_eq!((counts.failures, counts.errors), (1, 1));
    }

    #[test]
    fn surefire_flaky_reruns_are_retries_of_a_flaky_test_and_reruns_of_a_failure_stay_failed() {
        let (cases, counts, _) = parse(
            r#"<testsuite name="s">
                 <testcase name="flaky"><flakyFailure message="m"/><flakyError/></testcase>
                 <testcase name="broken"><failure/><rerunFailure/><rerunError/></testcase>
               </testsuite>"#,
        );
        assert_eq!((cases[0].status, cases[0].retries), (CaseStatus::Flaky, 2));
        assert_eq!((cases[1].status, cases[1].retries), (CaseStatus::Failed, 2));
        assert_eq!((counts.flaky, counts.failures, counts.passed), (1, 1, 0));
    }

    #[test]
    fn skips_with_and_without_a_message_and_disabled_cases_are_skipped() {
        let (cases, counts, _) = parse(
            r#"<testsuite name="s">
                 <testcase name="a"><skipped/></testcase>
                 <testcase name="b"><skipped message="not on linux"/></testcase>
                 <testcase name="c" status="disabled"/>
               </testsuite>"#,
        );
        assert!(cases.iter().all(|c| c.status == CaseStatus::Skipped));
        assert_eq!(counts.skipped, 3);
    }

    #[test]
    fn cdata_entities_properties_and_output_are_read() {
        let (cases, _, _) = parse(
            r#"<testsuite name="s"><properties><property name="k" value="v"/></properties>
                 <testcase name="a &amp; b &#x263A;">
                   <failure message="x &lt; y"><![CDATA[<trace> & more]]></failure>
                   <system-out>out &quot;1&quot;</system-out>
                   <system-err><![CDATA[err]]></system-err>
                 </testcase>
               </testsuite>"#,
        );
        let case = &cases[0];
        assert_eq!(case.name, "a & b \u{263A}");
        let detail = case.failure.as_ref().unwrap();
        assert_eq!(detail.message.as_deref(), Some("x < y"));
        assert_eq!(detail.stack_trace.as_deref(), Some("<trace> & more"));
        assert_eq!(detail.system_out.as_deref(), Some("out \"1\""));
        assert_eq!(detail.system_err.as_deref(), Some("err"));
    }

    #[test]
    fn times_with_thousands_separators_missing_and_garbage_times() {
        assert_eq!(parse_duration_ms("3,000.457"), Some(3_000_457));
        assert_eq!(parse_duration_ms(" 2 "), Some(2000));
        assert_eq!(parse_duration_ms("NaN"), None);
        assert_eq!(parse_duration_ms("-1"), None);
        let (cases, _, warnings) = parse(
            r#"<testsuite name="s"><testcase name="a"/><testcase name="b" time="soon"/></testsuite>"#,
        );
        assert_eq!((cases[0].duration_ms, cases[1].duration_ms), (None, None));
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains("soon"), "{warnings:?}");
    }

    #[test]
    fn excerpts_are_capped_on_a_character_boundary_with_a_warning() {
        let limits = ParseLimits {
            max_stack_trace_bytes: 5,
            ..ParseLimits::default()
        };
        let (cases, _, warnings) = parse_all(
            "<testcase name=\"a\"><failure>ab\u{e9}\u{e9}\u{e9}</failure></testcase>".as_bytes(),
            limits,
        )
        .unwrap();
        let trace = cases[0].failure.as_ref().unwrap().stack_trace.clone();
        assert_eq!(trace.as_deref(), Some("ab\u{e9}"));
        assert!(!warnings.into_vec().is_empty());
    }

    #[test]
    fn any_dtd_is_refused_with_its_position() {
        let error = refusal(
            "<?xml version=\"1.0\"?>\n<!DOCTYPE t [<!ENTITY x \"y\">]>\n<testsuite/>",
            ParseLimits::default(),
        );
        assert!(
            matches!(error, JunitError::DtdRefused { line: 2, .. }),
            "{error:?}"
        );
    }

    #[test]
    fn malformed_documents_say_where() {
        let error = refusal(
            "<testsuite name=\"s\">\n  <testcase name=\"a\">\n  </testsuite>",
            ParseLimits::default(),
        );
        match error {
            JunitError::Malformed { line, column, .. } => {
                assert_eq!(line, 3);
                assert!(column > 0);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn other_roots_empty_documents_depth_and_long_attributes_are_refused() {
        assert!(matches!(
            refusal("<test-run><test-suite/></test-run>", ParseLimits::default()),
            JunitError::NotJunit(root) if root == "test-run"
        ));
        assert!(matches!(
            refusal("  \n", ParseLimits::default()),
            JunitError::Empty
        ));
        let deep = format!("{}{}", "<testsuite>".repeat(10), "</testsuite>".repeat(10));
        let shallow = ParseLimits {
            max_depth: 5,
            ..ParseLimits::default()
        };
        assert!(matches!(
            refusal(&deep, shallow),
            JunitError::TooDeep { max: 5, .. }
        ));
        let long = format!("<testsuite name=\"{}\"/>", "n".repeat(100));
        let short = ParseLimits {
            max_attribute_bytes: 50,
            ..ParseLimits::default()
        };
        assert!(matches!(
            refusal(&long, short),
            JunitError::AttributeTooLong { max: 50, .. }
        ));
    }

    #[test]
    fn the_size_limit_becomes_too_large_not_a_parse_error() {
        let xml = format!(
            "<testsuite>{}</testsuite>",
            "<testcase name=\"a\"/>".repeat(1000)
        );
        let input = io::BufReader::new(LimitedReader::new(xml.as_bytes(), 1000));
        let error = parse_report(input, ParseLimits::default(), |_| Ok(())).unwrap_err();
        assert!(
            matches!(error, JunitError::TooLarge { limit: 1000 }),
            "{error:?}"
        );
    }

    #[test]
    fn a_document_ending_inside_its_root_element_is_truncated_where_it_stops() {
        for document in [
            "<testsuite name=\"x\"><testcase name=\"a\"><failure message=\"m\">trace",
            "<testsuite>\n<testcase name=\"a\"/>\n",
            "<testsuite>\n  <testcase name=\"a",
            "<testsuite><testcase name=\"a\"><system-out><![CDATA[out",
            "<testsuite><!-- a comment",
            "<testsuite><testcase name=\"a\"><failure>x &am",
        ] {
            // Just after the last byte.
            let line = document.matches('\n').count() as u64 + 1;
            let column = document.rsplit('\n').next().unwrap().len() as u64 + 1;
            match refusal(document, ParseLimits::default()) {
                JunitError::Truncated { line: l, column: c } => {
                    assert_eq!((l, c), (line, column), "{document}");
                }
                other => panic!("{document}: {other:?}"),
            }
        }
        assert!(matches!(
            refusal("<testsuite><a></b></testsuite>", ParseLimits::default()),
            JunitError::Malformed { .. }
        ));
    }

    #[test]
    fn a_suite_stating_totals_without_test_cases_counts_them_once() {
        let report = parse_report(
            r#"<testsuites tests="9">
                 <testsuite name="only-totals" tests="4" failures="1" errors="0" skips="2"/>
                 <testsuite name="outer" tests="1"><testsuite name="inner" tests="1"><testcase name="t"/></testsuite></testsuite>
                 <testsuite name="none" tests="0"/>
                 <testsuite name="odd" tests="1" failures="2"/>
                 <testsuite name="unreadable" tests="many"/>
               </testsuites>"#
                .as_bytes(),
            ParseLimits::default(),
            |_| Ok(()),
        )
        .unwrap();
        let only_totals = Counts::declared(4, 1, 0, 2);
        let odd = Counts::declared(1, 2, 0, 0);
        assert_eq!((odd.tests, odd.passed), (2, 0));
        let mut expected = only_totals;
        expected.merge(odd);
        assert_eq!(report.unlisted, expected);
        assert_eq!(report.counts.tests, expected.tests + 1);
        assert_eq!(report.counts.passed, 1 + 1);
        let warnings = report.warnings.into_vec();
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings[0].contains("`only-totals`"), "{warnings:?}");
    }

    #[test]
    fn text_past_the_event_limit_is_cut_with_a_warning_and_a_longer_tag_is_refused() {
        let limits = ParseLimits {
            max_event_bytes: 4096,
            max_output_bytes: 100_000,
            ..ParseLimits::default()
        };
        let document = format!(
            "<testsuite>\n<testcase name=\"a\"><failure/><system-out>{}</system-out></testcase>\n<testcase name=\"b\"/></testsuite>",
            "x".repeat(10_000)
        );
        let (cases, counts, warnings) = parse_all(document.as_bytes(), limits).unwrap();
        assert_eq!(counts.tests, 2);
        let out = cases[0]
            .failure
            .as_ref()
            .unwrap()
            .system_out
            .as_deref()
            .unwrap();
        assert_eq!(out.len(), 4096);
        let warnings = warnings.into_vec();
        assert!(
            warnings[0].starts_with("line 2: the system-out of `a` is longer than 4096 bytes"),
            "{warnings:?}"
        );

        let document = format!(
            "<testsuite>\n  <testcase name=\"a\" a=\"{v}\" b=\"{v}\" c=\"{v}\"/></testsuite>",
            v = "v".repeat(2000)
        );
        assert!(matches!(
            refusal(&document, limits),
            JunitError::TagTooLong {
                line: 2,
                column: 3,
                max: 4096
            }
        ));
    }

    #[test]
    fn warnings_are_capped_and_say_how_many_were_left_out() {
        let mut warnings = Warnings::default();
        for i in 0..MAX_WARNINGS + 7 {
            warnings.push(format!("w{i}"));
        }
        let lines = warnings.into_vec();
        assert_eq!(lines.len(), MAX_WARNINGS + 1);
        assert_eq!(lines.last().unwrap(), "7 more warnings not shown");
    }
}
