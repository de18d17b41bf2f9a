//! A streaming JUnit XML reader.
//!
//! Reports are read event by event: memory holds one test case (with its
//! capped excerpts) at a time, never the document, and each case is handed
//! to a sink as soon as its element closes. Real reports bend the format in
//! many ways (Surefire reruns, pytest's xunit flavour, jest, nested suites,
//! a bare `<testcase>` root, missing attributes, `time="3,000.5"`); those
//! are accepted ([`testcase`]), and anything that had to be repaired
//! becomes a warning. What cannot be trusted is refused ([`parser`]): any
//! DTD (no external entities, no entity expansion, so XXE and
//! billion-laughs documents never get anywhere), documents nested deeper
//! than a limit, oversized attributes and tags, a document that ends before
//! its root element closes (a report cut off while it was written), and
//! anything that is not well-formed XML, with the line and column. No
//! single XML event is held past `max_event_bytes` ([`xml_input`]): longer
//! text is cut.

mod parser;
mod report;
mod testcase;
mod xml_input;

pub use parser::{parse_all, parse_report};
pub use report::{Counts, FailureDetail, JunitError, ParseLimits, ParsedCase, Report, Warnings};
pub use testcase::parse_duration_ms;

#[cfg(test)]
mod tests;
