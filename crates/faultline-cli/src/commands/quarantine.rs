//! `faultline quarantine`: the project's quarantined tests in a form a
//! pipeline can feed its test runner: one test id a line, the server's
//! JSON, or a JUnit report with each of them skipped (uploaded or merged
//! into a run's results, it records them as skipped under the same test
//! ids).

use std::collections::BTreeMap;

use reqwest::Method;
use serde::Deserialize;

use crate::cli::{QuarantineArgs, QuarantineFormat};
use crate::client::Body;
use crate::commands::Context;
use crate::error::{CliError, Exit};

#[derive(Debug, Deserialize)]
struct QuarantineList {
    items: Vec<QuarantineEntry>,
}

#[derive(Debug, Deserialize)]
struct QuarantineEntry {
    test: TestIdentity,
    #[serde(default)]
    reason: Option<String>,
}

#[derive(Debug, Deserialize)]
struct TestIdentity {
    #[serde(default)]
    suite: String,
    #[serde(default)]
    classname: String,
    name: String,
    #[serde(default)]
    file: Option<String>,
}

pub async fn run(ctx: &mut Context, args: &QuarantineArgs) -> Result<Exit, CliError> {
    let what = "reading the quarantine list";
    let url = ctx.client.project_url(1, "/quarantine");
    match args.format {
        QuarantineFormat::Text => {
            let response = ctx
                .client
                .call(
                    Method::GET,
                    &format!("{url}?format=text"),
                    &Body::Empty,
                    &[],
                    what,
                )
                .await?;
            let text = response.text();
            for line in text.lines().filter(|line| !line.trim().is_empty()) {
                ctx.out.line(line.trim());
            }
        }
        QuarantineFormat::Json => {
            let response = ctx
                .client
                .call(Method::GET, &url, &Body::Empty, &[], what)
                .await?;
            let value: serde_json::Value = response.json(what)?;
            ctx.out
                .line(&serde_json::to_string_pretty(&value).unwrap_or_default());
        }
        QuarantineFormat::JunitSkip => {
            let response = ctx
                .client
                .call(Method::GET, &url, &Body::Empty, &[], what)
                .await?;
            let list: QuarantineList = response.json(what)?;
            ctx.out.line(&junit_skip(&list.items));
        }
    }
    Ok(Exit::Success)
}

/// A JUnit report of the tests, skipped, grouped by suite. A test without
/// a suite is identified by its file, which its test case carries.
fn junit_skip(entries: &[QuarantineEntry]) -> String {
    let mut suites: BTreeMap<&str, Vec<&QuarantineEntry>> = BTreeMap::new();
    for entry in entries {
        suites.entry(&entry.test.suite).or_default().push(entry);
    }
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    xml.push_str(&format!(
        "<testsuites name=\"quarantined\" tests=\"{0}\" skipped=\"{0}\">\n",
        entries.len()
    ));
    for (suite, tests) in suites {
        let name = if suite.is_empty() {
            String::new()
        } else {
            format!(" name=\"{}\"", escape(suite))
        };
        xml.push_str(&format!(
            "  <testsuite{name} tests=\"{0}\" skipped=\"{0}\">\n",
            tests.len()
        ));
        for entry in tests {
            let test = &entry.test;
            let file = test
                .file
                .as_deref()
                .map(|file| format!(" file=\"{}\"", escape(file)))
                .unwrap_or_default();
            let message = match &entry.reason {
                Some(reason) => format!("quarantined: {reason}"),
                None => "quarantined".to_owned(),
            };
            xml.push_str(&format!(
                "    <testcase classname=\"{}\" name=\"{}\"{file}><skipped message=\"{}\"/></testcase>\n",
                escape(&test.classname),
                escape(&test.name),
                escape(&message)
            ));
        }
        xml.push_str("  </testsuite>\n");
    }
    xml.push_str("</testsuites>");
    xml
}

/// Text as an XML attribute value.
fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\n' => escaped.push_str("&#10;"),
            '\t' => escaped.push_str("&#9;"),
            '\r' => escaped.push_str("&#13;"),
            c if c.is_control() => {}
            c => escaped.push(c),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_skip_report_escapes_names_and_groups_by_suite() {
        let entry = |suite: &str, name: &str| QuarantineEntry {
            test: TestIdentity {
                suite: suite.to_owned(),
                classname: "C".to_owned(),
                name: name.to_owned(),
                file: None,
            },
            reason: Some("flaky <3".to_owned()),
        };
        let xml = junit_skip(&[entry("b", "x"), entry("a", "y\"&z")]);
        assert!(xml.contains("<testsuite name=\"a\" tests=\"1\" skipped=\"1\">"));
        assert!(xml.contains("name=\"y&quot;&amp;z\""));
        assert!(xml.contains("message=\"quarantined: flaky &lt;3\""));
        assert!(xml.find("name=\"a\"") < xml.find("name=\"b\""));
    }
}
