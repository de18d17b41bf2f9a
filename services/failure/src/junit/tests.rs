//! The reader against small documents, one rule at a time.

use std::io;

use super::report::MAX_WARNINGS;
use super::*;
use crate::domain::{CaseStatus, FailureKind};
use crate::size_limit::LimitedReader;

fn parse(xml: &str) -> (Vec<ParsedCase>, Counts, Vec<String>) {
    let (cases, counts, warnings) =
        parse_all(xml.as_bytes(), ParseLimits::default()).unwrap_or_else(|error| panic!("{error}"));
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
fn surefire_attempts_keep_their_type_message_and_trace_but_not_their_output() {
    let (cases, _, _) = parse(
        r#"<testsuite name="s">
             <testcase name="flaky">
               <flakyFailure message="timed out" type="java.net.SocketTimeoutException">
                 <stackTrace>java.net.SocketTimeoutException: timed out
        at com.acme.Client.get(Client.java:88)</stackTrace>
                 <system-err>retrying</system-err>
               </flakyFailure>
               <flakyError type="java.io.IOException">at com.acme.Io.read(Io.java:3)</flakyError>
               <system-out>the case's own output</system-out>
             </testcase>
           </testsuite>"#,
    );
    let case = &cases[0];
    assert_eq!(case.status, CaseStatus::Flaky);
    assert!(case.failure.is_none());
    let attempts: Vec<_> = case
        .attempts
        .iter()
        .map(|a| {
            (
                a.kind,
                a.error_type.as_deref(),
                a.message.as_deref(),
                a.stack_trace.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        attempts,
        [
            (
                FailureKind::Failure,
                Some("java.net.SocketTimeoutException"),
                Some("timed out"),
                Some(
                    "java.net.SocketTimeoutException: timed out\n        at com.acme.Client.get(Client.java:88)"
                ),
            ),
            (
                FailureKind::Error,
                Some("java.io.IOException"),
                None,
                Some("at com.acme.Io.read(Io.java:3)"),
            ),
        ]
    );
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
