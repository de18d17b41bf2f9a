//! Generated JUnit reports shaped like a real Surefire/Gradle run: suites of
//! classes of test cases, durations, a few skipped tests and exactly one
//! failure in twenty, each with a message and a Java stack trace.
//!
//! Deterministic: the same options write the same bytes, so runs compare.

use std::io::{self, Write};

/// What a report holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportSpec {
    pub testcases: u64,
    /// Bytes of `<system-out>` on every case (0 for none), to reach a given
    /// report size with a realistic number of cases.
    pub system_out_bytes: usize,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReportCounts {
    pub testcases: u64,
    pub failures: u64,
    pub skipped: u64,
}

const CASES_PER_CLASS: u64 = 20;
const CLASSES_PER_SUITE: u64 = 10;
const CASES_PER_SUITE: u64 = CASES_PER_CLASS * CLASSES_PER_SUITE;

/// One case in twenty fails, one in fifty (of the rest) is skipped.
fn outcome(case: u64) -> Outcome {
    if case % 20 == 7 {
        Outcome::Failed
    } else if case % 50 == 13 {
        Outcome::Skipped
    } else {
        Outcome::Passed
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Passed,
    Failed,
    Skipped,
}

/// A small deterministic generator for durations and message variety.
fn mix(value: u64) -> u64 {
    let mut x = value.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

const MODULES: [&str; 8] = [
    "checkout", "payments", "orders", "catalog", "search", "accounts", "shipping", "billing",
];

const FAILURE_KINDS: [(&str, &str); 4] = [
    (
        "org.opentest4j.AssertionFailedError",
        "expected: <200> but was: <500>",
    ),
    (
        "java.net.SocketTimeoutException",
        "Read timed out after 30000 ms calling http://inventory:8080/api/items",
    ),
    (
        "org.openqa.selenium.NoSuchElementException",
        "no such element: Unable to locate element: {\"method\":\"css selector\",\"selector\":\"#submit\"}",
    ),
    (
        "java.lang.NullPointerException",
        "Cannot invoke \"com.acme.Order.total()\" because \"order\" is null",
    ),
];

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            _ => out.push(c),
        }
    }
    out
}

/// Writes the report and says what it holds.
pub fn write_report(spec: ReportSpec, out: &mut impl Write) -> io::Result<ReportCounts> {
    let mut counts = ReportCounts::default();
    let total_failures = (0..spec.testcases)
        .filter(|&case| outcome(case) == Outcome::Failed)
        .count();
    let total_skipped = (0..spec.testcases)
        .filter(|&case| outcome(case) == Outcome::Skipped)
        .count();
    writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#)?;
    writeln!(
        out,
        r#"<testsuites name="bench" tests="{}" failures="{total_failures}" errors="0" skipped="{total_skipped}">"#,
        spec.testcases
    )?;
    let padding = "x".repeat(spec.system_out_bytes);
    let suites = spec.testcases.div_ceil(CASES_PER_SUITE);
    for suite in 0..suites {
        let first = suite * CASES_PER_SUITE;
        let last = (first + CASES_PER_SUITE).min(spec.testcases);
        let module = MODULES[(suite % MODULES.len() as u64) as usize];
        let suite_name = format!("com.acme.{module}.Suite{suite}");
        let failures = (first..last)
            .filter(|&c| outcome(c) == Outcome::Failed)
            .count();
        let skipped = (first..last)
            .filter(|&c| outcome(c) == Outcome::Skipped)
            .count();
        writeln!(
            out,
            r#"  <testsuite name="{suite_name}" tests="{}" failures="{failures}" errors="0" skipped="{skipped}" time="{:.3}" timestamp="2025-01-01T00:00:00" hostname="ci-runner-3">"#,
            last - first,
            (last - first) as f64 * 0.05
        )?;
        for case in first..last {
            let class = format!(
                "com.acme.{module}.Feature{}Test",
                (case - first) / CASES_PER_CLASS + suite * CLASSES_PER_SUITE
            );
            let name = format!("should_handle_case_{case}");
            let millis = mix(case) % 900 + 5;
            write!(
                out,
                r#"    <testcase name="{name}" classname="{class}" time="{}.{:03}">"#,
                millis / 1000,
                millis % 1000
            )?;
            counts.testcases += 1;
            match outcome(case) {
                Outcome::Passed => {}
                Outcome::Skipped => {
                    counts.skipped += 1;
                    write!(out, r#"<skipped message="disabled on CI"/>"#)?;
                }
                Outcome::Failed => {
                    counts.failures += 1;
                    let (error_type, message) =
                        FAILURE_KINDS[(mix(case) % FAILURE_KINDS.len() as u64) as usize];
                    write!(
                        out,
                        "\n      <failure message=\"{}\" type=\"{error_type}\">{}: {}\n",
                        escape(message),
                        error_type,
                        escape(message)
                    )?;
                    let method = format!("should_handle_case_{case}");
                    for frame in [
                        format!("{class}.{method}({}Test.java:{})", module, 40 + case % 200),
                        format!("com.acme.{module}.client.ApiClient.send(ApiClient.java:118)"),
                        format!("com.acme.{module}.service.Service.call(Service.java:77)"),
                        "org.junit.platform.commons.util.ReflectionUtils.invokeMethod(ReflectionUtils.java:725)".to_owned(),
                        "org.junit.jupiter.engine.execution.MethodInvocation.proceed(MethodInvocation.java:60)".to_owned(),
                        "org.junit.jupiter.engine.execution.InvocationInterceptorChain$ValidatingInvocation.proceed(InvocationInterceptorChain.java:131)".to_owned(),
                        "org.junit.jupiter.engine.extension.TimeoutExtension.intercept(TimeoutExtension.java:156)".to_owned(),
                        "org.junit.jupiter.engine.descriptor.TestMethodTestDescriptor.invokeTestMethod(TestMethodTestDescriptor.java:218)".to_owned(),
                        "org.junit.platform.engine.support.hierarchical.NodeTestTask.executeRecursively(NodeTestTask.java:151)".to_owned(),
                        "org.apache.maven.surefire.booter.ForkedBooter.main(ForkedBooter.java:495)".to_owned(),
                    ] {
                        writeln!(out, "\tat {}", escape(&frame))?;
                    }
                    write!(out, "      </failure>\n    ")?;
                }
            }
            if spec.system_out_bytes > 0 {
                write!(out, "<system-out>{padding}</system-out>")?;
            }
            writeln!(out, "</testcase>")?;
        }
        writeln!(out, "  </testsuite>")?;
    }
    writeln!(out, "</testsuites>")?;
    Ok(counts)
}

/// How many cases with `system_out_bytes` each make a report of about
/// `target_bytes` (measured on a sample, so it tracks the format).
pub fn cases_for_size(target_bytes: u64, system_out_bytes: usize) -> io::Result<u64> {
    let sample = 1_000;
    let mut buffer = Vec::new();
    write_report(
        ReportSpec {
            testcases: sample,
            system_out_bytes,
        },
        &mut buffer,
    )?;
    let per_case = (buffer.len() as u64).div_ceil(sample).max(1);
    Ok(target_bytes / per_case)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(testcases: u64) -> (String, ReportCounts) {
        let mut buffer = Vec::new();
        let counts = write_report(
            ReportSpec {
                testcases,
                system_out_bytes: 0,
            },
            &mut buffer,
        )
        .expect("writing to memory");
        (String::from_utf8(buffer).expect("utf-8"), counts)
    }

    #[test]
    fn one_case_in_twenty_fails_with_a_stack_trace() {
        let (xml, counts) = render(10_000);
        assert_eq!(counts.testcases, 10_000);
        assert_eq!(counts.failures, 500);
        assert_eq!(xml.matches("<testcase ").count(), 10_000);
        assert_eq!(xml.matches("<failure ").count(), 500);
        assert_eq!(xml.matches("\tat ").count(), 500 * 10);
        assert!(xml.contains(r#"tests="10000" failures="500""#));
    }

    #[test]
    fn suite_headers_count_their_own_cases() {
        let (xml, counts) = render(450);
        assert_eq!(xml.matches("<testsuite ").count(), 3);
        assert!(xml.contains(r#"<testsuite name="com.acme.orders.Suite2" tests="50""#));
        let listed_failures: u64 = xml
            .lines()
            .filter(|line| line.contains("<testsuite "))
            .filter_map(|line| line.split("failures=\"").nth(1))
            .filter_map(|rest| rest.split('"').next())
            .filter_map(|n| n.parse::<u64>().ok())
            .sum();
        assert_eq!(listed_failures, counts.failures);
    }

    #[test]
    fn messages_are_escaped() {
        let (xml, _) = render(200);
        assert!(!xml.contains("<200>"));
        assert!(xml.contains("expected: &lt;200&gt;"));
    }

    #[test]
    fn the_same_spec_writes_the_same_bytes() {
        assert_eq!(render(300).0, render(300).0);
    }

    #[test]
    fn padding_reaches_the_target_size() {
        let cases = cases_for_size(2_000_000, 1_000).expect("sizing");
        let mut buffer = Vec::new();
        write_report(
            ReportSpec {
                testcases: cases,
                system_out_bytes: 1_000,
            },
            &mut buffer,
        )
        .expect("writing");
        let size = buffer.len() as f64;
        assert!((1_800_000.0..=2_100_000.0).contains(&size), "{size}");
    }
}
