//! The reader's walk through a report: one XML event at a time, suites
//! opening and closing around their cases, and what a document that cannot
//! be trusted is refused with.

use std::borrow::Cow;
use std::io::{self, BufRead};

use quick_xml::XmlVersion;
use quick_xml::errors::{Error as XmlError, IllFormedError, SyntaxError};
use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::{BytesStart, Event};

use super::report::{Counts, JunitError, ParseLimits, ParsedCase, Report, Warnings};
use super::testcase::{Capture, CaseBuilder};
use super::xml_input::{self, XmlInput};
use crate::size_limit::size_limit;

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
pub(super) struct SuiteFrame {
    pub(super) depth: usize,
    pub(super) name: String,
    pub(super) file: Option<String>,
    /// The suite's own totals, when it states any.
    pub(super) declared: Option<Counts>,
    /// A `<testcase>` or `<testsuite>` was seen inside it.
    pub(super) has_children: bool,
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

pub(super) struct Parser {
    pub(super) limits: ParseLimits,
    pub(super) counts: Counts,
    /// Declared by suites that list no test cases (also in `counts`).
    pub(super) unlisted: Counts,
    pub(super) warnings: Warnings,
    pub(super) depth: usize,
    pub(super) saw_root: bool,
    /// Enclosing `<testsuite>` elements: their depth, name and file.
    pub(super) suites: Vec<SuiteFrame>,
    pub(super) case: Option<CaseBuilder>,
    pub(super) capture: Capture,
    /// Depth of the element whose text is being captured.
    pub(super) capture_depth: usize,
    pub(super) truncated: bool,
}

/// The value of the attribute `key`, if the element has it.
pub(super) fn attribute(attributes: &[(String, String)], key: &str) -> Option<String> {
    attributes
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.clone())
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
            Capture::AttemptTrace => Some("rerun failure text"),
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

    pub(super) fn attributes(
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
        match (name.as_str(), self.case.is_some()) {
            ("testsuite", false) => self.start_suite(start, here)?,
            ("testcase", false) => self.start_case(start, here)?,
            (_, true) => self.start_in_case(&name, start, here)?,
            _ => {}
        }
        Ok(())
    }

    /// A `<testsuite>` opens: the name and file its cases inherit, and the
    /// totals it states.
    fn start_suite(&mut self, start: &BytesStart<'_>, here: (u64, u64)) -> Result<(), JunitError> {
        let attributes = self.attributes(start, here)?;
        let suite_name = attribute(&attributes, "name").unwrap_or_default();
        let file = attribute(&attributes, "file").filter(|f| !f.is_empty());
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
        Ok(())
    }

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
                for attempt in &mut case.attempts {
                    attempt.stack_trace = trim(attempt.stack_trace.take());
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
