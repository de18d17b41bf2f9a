//! What GitHub is told, in Markdown: an issue filed for a failure group,
//! and the one comment kept up to date on a pull request.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::jira::{GroupForIssue, LISTED_TESTS, TRACE_LINES};

/// How the pull-request comment is recognised among a pull request's
/// comments (kept in it, invisible when rendered).
pub const PR_COMMENT_MARKER: &str = "<!-- faultline:pull-request-comment -->";

/// Text from a payload or a failure, made inert in Markdown tables and
/// code: no pipes, backticks or line breaks.
fn inert(text: &str) -> String {
    text.replace(['|', '`', '\r', '\n'], " ")
}

/// The issue's title and body for a failure group.
pub fn issue_for_group(group: &GroupForIssue, link: &str) -> (String, String) {
    let title = group.summary();
    let mut body = String::new();
    body.push_str("### Failure\n\n");
    let headline = group
        .template
        .as_deref()
        .or(group.message.as_deref())
        .unwrap_or("no message");
    body.push_str(&format!("{}\n\n", inert(headline)));
    if let Some(trace) = &group.stack_trace {
        let lines: Vec<&str> = trace.lines().take(TRACE_LINES).collect();
        body.push_str("```\n");
        body.push_str(&lines.join("\n").replace("```", "'''"));
        body.push_str("\n```\n\n");
    }
    body.push_str(&format!(
        "{} occurrences in {} tests.\n\n",
        group.occurrences, group.affected_tests
    ));
    let mut tests: Vec<String> = Vec::new();
    for occurrence in &group.recent_occurrences {
        let Some(test) = occurrence.get("test") else {
            continue;
        };
        let name: Vec<&str> = ["suite", "classname", "name"]
            .iter()
            .filter_map(|k| test.get(*k).and_then(Value::as_str))
            .collect();
        let name = name.join(" › ");
        if !name.is_empty() && !tests.contains(&name) && tests.len() < LISTED_TESTS {
            tests.push(name);
        }
    }
    if !tests.is_empty() {
        body.push_str("### Affected tests\n\n");
        for test in &tests {
            body.push_str(&format!("- {}\n", inert(test)));
        }
        body.push('\n');
    }
    body.push_str(&format!("[Open the failure group in Faultline]({link})\n"));
    (title, body)
}

/// One job's line in the pull-request comment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobLine {
    pub status: Option<String>,
    pub failures: Option<i64>,
    pub new_groups: Option<i64>,
    pub flaky: Option<i64>,
    pub url: Option<String>,
    /// The failed quality gate's rule summaries; empty when the gate did
    /// not fail (or has not spoken).
    pub gate_failures: Vec<String>,
    pub commit_sha: Option<String>,
}

/// What the pull-request comment says, per job.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullRequestComment {
    pub jobs: BTreeMap<String, JobLine>,
}

impl PullRequestComment {
    /// Takes in a `build.completed` or `gate.failed` event; false for any
    /// other event (nothing to say).
    pub fn apply(&mut self, kind: &str, payload: &Value) -> bool {
        if kind != "build.completed" && kind != "gate.failed" {
            return false;
        }
        let text = |key: &str| payload.get(key).and_then(Value::as_str).map(str::to_owned);
        let job = text("job_name").unwrap_or_else(|| "build".to_owned());
        let commit = text("commit_sha");
        let line = self.jobs.entry(job).or_default();
        if line.commit_sha != commit {
            // A new commit: what the gate said of the old one, and its
            // build's link, no longer hold.
            line.gate_failures.clear();
            line.url = None;
            line.commit_sha = commit;
        }
        match kind {
            "build.completed" => {
                let count = |pointer: &str| payload.pointer(pointer).and_then(Value::as_i64);
                line.status = text("status");
                line.failures = Some(
                    count("/counts/failures").unwrap_or(0) + count("/counts/errors").unwrap_or(0),
                );
                line.new_groups = count("/new_groups");
                line.flaky = count("/counts/flaky");
                line.url = text("url").or(line.url.take());
                true
            }
            "gate.failed" => {
                line.gate_failures = payload
                    .get("failed_rules")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|rule| rule.get("summary").and_then(Value::as_str))
                    .map(str::to_owned)
                    .collect();
                if line.gate_failures.is_empty() {
                    line.gate_failures.push("failed".to_owned());
                }
                line.url = text("url").or(line.url.take());
                true
            }
            _ => false,
        }
    }

    /// The whole comment, marker first.
    pub fn render(&self) -> String {
        let mut body = format!("{PR_COMMENT_MARKER}\n### Faultline\n\n");
        body.push_str("| job | build | failures | new failure groups | flaky | quality gate |\n");
        body.push_str("|---|---|---|---|---|---|\n");
        let number = |n: Option<i64>| n.map_or("–".to_owned(), |n| n.to_string());
        for (job, line) in &self.jobs {
            let build = match (&line.status, &line.url) {
                (Some(status), Some(url))
                    if url.starts_with("https://") || url.starts_with("http://") =>
                {
                    format!("[{}]({})", inert(status), inert(url))
                }
                (Some(status), _) => inert(status),
                (None, _) => "–".to_owned(),
            };
            let gate = if line.gate_failures.is_empty() {
                "–".to_owned()
            } else {
                format!("❌ {}", inert(&line.gate_failures.join("; ")))
            };
            body.push_str(&format!(
                "| {} | {build} | {} | {} | {} | {gate} |\n",
                inert(job),
                number(line.failures),
                number(line.new_groups),
                number(line.flaky),
            ));
        }
        body
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_comment_keeps_each_jobs_latest_build_and_gate() {
        let mut comment = PullRequestComment::default();
        assert!(comment.apply(
            "build.completed",
            &json!({"job_name": "ci", "status": "failed", "commit_sha": "abc", "url": "https://ci/1",
                    "counts": {"failures": 2, "errors": 1, "flaky": 1}, "new_groups": 1}),
        ));
        assert!(comment.apply(
            "gate.failed",
            &json!({"job_name": "ci", "commit_sha": "abc", "failed_rules": [{"kind": "max_failures", "summary": "3 failures, at most 0 allowed"}]}),
        ));
        assert!(!comment.apply("test.quarantined", &json!({})));
        let text = comment.render();
        assert!(text.starts_with(PR_COMMENT_MARKER));
        assert!(
            text.contains(
                "| ci | [failed](https://ci/1) | 3 | 1 | 1 | ❌ 3 failures, at most 0 allowed |"
            ),
            "{text}"
        );

        // A new commit passes: the old gate verdict is gone.
        comment.apply(
            "build.completed",
            &json!({"job_name": "ci", "status": "passed", "commit_sha": "def", "counts": {"failures": 0, "flaky": 0}, "new_groups": 0}),
        );
        assert!(
            comment.render().contains("| ci | passed | 0 | 0 | 0 | – |"),
            "{}",
            comment.render()
        );
    }

    #[test]
    fn payload_text_cannot_break_the_table() {
        let mut comment = PullRequestComment::default();
        comment.apply(
            "build.completed",
            &json!({"job_name": "a|b\n| x", "status": "failed`"}),
        );
        let text = comment.render();
        assert!(text.contains("| a b   x | failed  |"), "{text}");
    }
}
