//! Every report of the real-world corpus in `tests/fixtures/junit` either
//! ingests with the counts the file itself states, or is refused with a
//! 422 problem. Never a 500.

use std::path::{Path, PathBuf};

use quick_xml::events::Event;
use reqwest::StatusCode;
use test_support::Reply;
use uuid::Uuid;

use crate::helpers::{self, Body, FailureApp};

/// Files refused with 422, and why.
const REFUSED: &[(&str, &str)] = &[
    (
        "corrupt-junit__e2e-tests__corrupt__target__sf-reports__TEST-test.CorruptTest.xml",
        "truncated inside a CDATA section",
    ),
    ("dotnet-nunit.xml", "NUnit 3 schema (<test-run>), not JUnit"),
    (
        "external_nunit-sample.xml",
        "NUnit 3 schema (<test-run>), not JUnit",
    ),
];

/// Files whose stated totals disagree with the test cases they contain;
/// they must ingest, with the counts of the cases, and why they differ.
/// For these, `tests` must still equal the number of `<testcase>` elements.
const STATED_COUNTS_WRONG: &[(&str, &str)] = &[
    (
        "container-structure__test.xml",
        "totals describe the whole run, the file holds part of it",
    ),
    (
        "multiple__test_10.xml",
        "totals describe the whole run, the file holds part of it",
    ),
    (
        "multiple__test_11.xml",
        "totals describe the whole run, the file holds part of it",
    ),
    (
        "multiple__test_12.xml",
        "totals describe the whole run, the file holds part of it",
    ),
    (
        "nested__multi-level.xml",
        "totals describe the whole run, the file holds part of it",
    ),
    (
        "mocha__mocha.xml",
        "totals describe the whole run, the file holds one case",
    ),
    (
        "python-xunit-pytest.xml",
        "totals include cases the file does not list",
    ),
    (
        "test-errors_jest_jest-test-results.xml",
        "states 0 tests around two failing cases",
    ),
    (
        "nested__junit.xml",
        "outer suites' totals ignore the inner suites' cases",
    ),
    (
        "flaky_retries__flaky_with_classname_file.xml",
        "counts every <error> element, not every test",
    ),
    (
        "multiple_failures__test_multiple_errors.xml",
        "counts every <error> element, not every test",
    ),
    (
        "multiple_failures__test_multiple_failures.xml",
        "counts every <failure> element, not every test",
    ),
    (
        "junit-server-test__report.xml",
        "totals leave out a repeated (retried) case",
    ),
    (
        "python__report_flaky.xml",
        "totals leave out a repeated (retried) case",
    ),
    (
        "junit-web-test__expectedRetries.xml",
        "totals leave out retried cases and call a failure an error",
    ),
    (
        "junit-web-test__expected.xml",
        "calls a <failure> an error in its totals",
    ),
    (
        "nette-tester_tester-v1.7-report.xml",
        "calls a <failure> an error in its totals",
    ),
];

fn corpus() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/junit");
    let mut files = Vec::new();
    for folder in std::fs::read_dir(&root).unwrap() {
        let folder = folder.unwrap().path();
        if !folder.is_dir() {
            continue;
        }
        for file in std::fs::read_dir(&folder).unwrap() {
            let file = file.unwrap().path();
            if file.extension().is_some_and(|e| e == "xml") {
                files.push(file);
            }
        }
    }
    files.sort();
    files
}

/// `[tests, failures, errors, skipped]` as the document's own totals say,
/// each `None` when the document does not say.
fn stated_counts(xml: &[u8]) -> [Option<u64>; 4] {
    let mut reader = quick_xml::Reader::from_reader(xml);
    let mut buf = Vec::new();
    let mut depth = 0;
    let mut root_totals: Option<[Option<u64>; 4]> = None;
    let mut suite_sum: [Option<u64>; 4] = [None; 4];
    loop {
        let event = match reader.read_event_into(&mut buf) {
            Ok(event) => event,
            Err(_) => return [None; 4],
        };
        let (start, empty) = match &event {
            Event::Start(start) => (Some(start.clone()), false),
            Event::Empty(start) => (Some(start.clone()), true),
            Event::End(_) => {
                depth -= 1;
                (None, false)
            }
            Event::Eof => break,
            _ => (None, false),
        };
        if let Some(start) = start {
            depth += 1;
            let name = String::from_utf8_lossy(start.local_name().as_ref()).into_owned();
            let attribute =
                |keys: &[&str]| {
                    keys.iter().find_map(|key| {
                        start.try_get_attribute(*key).ok().flatten().and_then(|a| {
                            String::from_utf8_lossy(&a.value).trim().parse::<u64>().ok()
                        })
                    })
                };
            let totals = [
                attribute(&["tests"]),
                attribute(&["failures"]),
                attribute(&["errors"]),
                attribute(&["skipped", "skips"]),
            ];
            if depth == 1 && name == "testsuites" && totals[0].is_some() {
                root_totals = Some(totals);
            }
            let top_suite = name == "testsuite" && (depth == 1 || depth == 2);
            if top_suite {
                for (sum, value) in suite_sum.iter_mut().zip(totals) {
                    if let Some(value) = value {
                        *sum = Some(sum.unwrap_or(0) + value);
                    }
                }
            }
            if empty {
                depth -= 1;
            }
        }
        buf.clear();
    }
    root_totals.unwrap_or(suite_sum)
}

fn count_testcases(xml: &[u8]) -> u64 {
    let mut reader = quick_xml::Reader::from_reader(xml);
    let mut buf = Vec::new();
    let mut count = 0;
    loop {
        match reader.read_event_into(&mut buf) {
            Ok(Event::Start(start) | Event::Empty(start))
                if start.local_name().as_ref() == b"testcase" =>
            {
                count += 1;
            }
            Ok(Event::Eof) | Err(_) => return count,
            Ok(_) => {}
        }
        buf.clear();
    }
}

#[tokio::test]
async fn every_corpus_report_ingests_with_its_stated_counts_or_is_refused_with_422() {
    let app = helpers::spawn().await;
    let project = Uuid::now_v7();
    let ctx = helpers::uploader(project);
    let files = corpus();
    assert!(files.len() > 60, "the corpus is missing: {}", files.len());
    let mut mismatches = Vec::new();
    for (index, path) in files.iter().enumerate() {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let xml = std::fs::read(path).unwrap();
        let build = app.create_build(&ctx, &format!("corpus-{index}")).await;
        let Reply { status, body, .. } =
            app.upload(&ctx, build, Body::xml(xml.clone()), None).await;
        if let Some((_, why)) = REFUSED.iter().find(|(file, _)| *file == name) {
            let refused = status == StatusCode::UNPROCESSABLE_ENTITY
                && body["code"]
                    .as_str()
                    .is_some_and(|code| code.starts_with("junit."));
            if !refused {
                mismatches.push(format!("{name} ({why}) was not refused: {status} {body}"));
            }
            continue;
        }
        if status != StatusCode::CREATED {
            mismatches.push(format!("{name}: {status} {body}"));
            continue;
        }
        let got = helpers::counts(&body);
        let [tests, passed, failures, errors, skipped, flaky] = got;
        assert_eq!(
            tests,
            passed + failures + errors + skipped + flaky,
            "{name}: {body}"
        );
        let testcases = count_testcases(&xml);
        if tests != testcases {
            mismatches.push(format!("{name}: {testcases} testcases, ingested {tests}"));
        }
        if STATED_COUNTS_WRONG.iter().any(|(file, _)| *file == name) {
            continue;
        }
        let stated = stated_counts(&xml);
        let ours = [tests, failures, errors, skipped];
        for (label, (stated, ours)) in ["tests", "failures", "errors", "skipped"]
            .iter()
            .zip(stated.iter().zip(ours))
        {
            if let Some(stated) = stated
                && *stated != ours
            {
                mismatches.push(format!("{name}: {label} stated {stated}, ingested {ours}"));
            }
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}
