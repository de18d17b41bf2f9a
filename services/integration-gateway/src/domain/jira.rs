//! What a Jira issue filed for a failure group says, in Atlassian Document
//! Format (Jira Cloud REST v3 takes descriptions and comments only as ADF),
//! built from the failure service's view of the group.

use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

/// Lines of the stack trace an issue keeps: the top of the stack, where
/// the problem is; the rest stays in Faultline behind the link.
pub const TRACE_LINES: usize = 30;
/// Affected tests listed in an issue.
pub const LISTED_TESTS: usize = 10;

/// The failure service's v2 group, as much of it as an issue needs.
#[derive(Debug, Clone, Deserialize)]
pub struct GroupForIssue {
    pub id: Uuid,
    pub template: Option<String>,
    pub exception_type: Option<String>,
    pub message: Option<String>,
    pub stack_trace: Option<String>,
    pub occurrences: i64,
    pub affected_tests: i64,
    #[serde(default)]
    pub recent_occurrences: Vec<Value>,
}

fn text(content: &str) -> Value {
    json!({"type": "text", "text": content})
}

fn paragraph(parts: Vec<Value>) -> Value {
    json!({"type": "paragraph", "content": parts})
}

fn heading(content: &str) -> Value {
    json!({"type": "heading", "attrs": {"level": 3}, "content": [text(content)]})
}

/// A test's display name from a failure summary (`suite › class › name`).
fn test_name(occurrence: &Value) -> Option<String> {
    let test = occurrence.get("test")?;
    let parts: Vec<&str> = ["suite", "classname", "name"]
        .iter()
        .filter_map(|key| test.get(*key).and_then(Value::as_str))
        .filter(|part| !part.is_empty())
        .collect();
    (!parts.is_empty()).then(|| parts.join(" › "))
}

impl GroupForIssue {
    /// The normalised message when the group has one, else the first
    /// failure's message.
    fn headline(&self) -> String {
        let message = self
            .template
            .as_deref()
            .or(self.message.as_deref())
            .unwrap_or("no message");
        message.lines().next().unwrap_or(message).to_owned()
    }

    /// One line, at most 255 characters (Jira's limit for a summary).
    pub fn summary(&self) -> String {
        let line = match &self.exception_type {
            Some(kind) => format!("{kind}: {}", self.headline()),
            None => self.headline(),
        };
        let line = format!("[Faultline] {line}");
        if line.chars().count() <= 255 {
            line
        } else {
            let cut: String = line.chars().take(254).collect();
            format!("{cut}…")
        }
    }

    /// The distinct tests among the recent occurrences, first ones first.
    fn tests(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for name in self.recent_occurrences.iter().filter_map(test_name) {
            if !names.contains(&name) {
                names.push(name);
            }
        }
        names.truncate(LISTED_TESTS);
        names
    }

    /// The description: message, trimmed trace, figures, tests, link back.
    pub fn description(&self, link: &str) -> Value {
        let mut content = vec![heading("Failure"), paragraph(vec![text(&self.headline())])];
        if let Some(trace) = &self.stack_trace {
            let lines: Vec<&str> = trace.lines().collect();
            let mut kept = lines[..lines.len().min(TRACE_LINES)].join("\n");
            if lines.len() > TRACE_LINES {
                kept.push_str(&format!("\n… {} more lines", lines.len() - TRACE_LINES));
            }
            if !kept.is_empty() {
                content.push(json!({"type": "codeBlock", "content": [text(&kept)]}));
            }
        }
        content.push(paragraph(vec![text(&format!(
            "{} occurrences in {} tests.",
            self.occurrences, self.affected_tests
        ))]));
        let tests = self.tests();
        if !tests.is_empty() {
            content.push(heading("Affected tests"));
            let items: Vec<Value> = tests
                .iter()
                .map(|name| json!({"type": "listItem", "content": [paragraph(vec![text(name)])]}))
                .collect();
            content.push(json!({"type": "bulletList", "content": items}));
        }
        content.push(paragraph(vec![json!({
            "type": "text",
            "text": "Open the failure group in Faultline",
            "marks": [{"type": "link", "attrs": {"href": link}}],
        })]));
        json!({"type": "doc", "version": 1, "content": content})
    }
}

/// The comment added to a group's issue when the group regresses.
pub fn regression_comment(build_id: Option<&str>, link: &str) -> Value {
    let what = match build_id {
        Some(build) => format!("The failure came back (regressed) in build {build}. "),
        None => "The failure came back (regressed). ".to_owned(),
    };
    json!({
        "type": "doc",
        "version": 1,
        "content": [paragraph(vec![
            text(&what),
            json!({"type": "text", "text": "Open it in Faultline", "marks": [{"type": "link", "attrs": {"href": link}}]}),
        ])],
    })
}

/// Whether a Jira issue's status counts as done: its status category's key
/// (`new`, `indeterminate`, `done`), whatever the workflow names it.
pub fn is_done(issue: &Value) -> bool {
    issue
        .pointer("/fields/status/statusCategory/key")
        .and_then(Value::as_str)
        == Some("done")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(trace_lines: usize) -> GroupForIssue {
        GroupForIssue {
            id: Uuid::now_v7(),
            template: Some("expected <n> but was <n>".into()),
            exception_type: Some("AssertionError".into()),
            message: Some("expected 3 but was 4".into()),
            stack_trace: Some(
                (0..trace_lines)
                    .map(|i| format!("at frame{i}"))
                    .collect::<Vec<_>>()
                    .join("\n"),
            ),
            occurrences: 7,
            affected_tests: 2,
            recent_occurrences: vec![
                json!({"test": {"suite": "s", "classname": "c", "name": "a"}}),
                json!({"test": {"suite": "s", "classname": "c", "name": "a"}}),
                json!({"test": {"suite": "s", "classname": "c", "name": "b"}}),
            ],
        }
    }

    #[test]
    fn the_description_has_the_normalised_message_a_trimmed_trace_the_tests_and_a_link() {
        let description = group(100).description("https://faultline.example.com/g");
        let text = description.to_string();
        assert_eq!(description["type"], "doc");
        assert!(text.contains("expected <n> but was <n>"));
        assert!(text.contains("at frame29") && !text.contains("at frame30"));
        assert!(text.contains("70 more lines"));
        assert!(text.contains("7 occurrences in 2 tests."));
        assert!(text.contains("s › c › a") && text.contains("s › c › b"));
        assert_eq!(text.matches("s › c › a").count(), 1);
        assert!(text.contains("https://faultline.example.com/g"));
    }

    #[test]
    fn summaries_fit_jira() {
        assert_eq!(
            group(1).summary(),
            "[Faultline] AssertionError: expected <n> but was <n>"
        );
        let mut long = group(1);
        long.template = Some("x".repeat(400));
        assert_eq!(long.summary().chars().count(), 255);
    }

    #[test]
    fn done_is_the_status_category_not_its_name() {
        assert!(is_done(
            &json!({"fields": {"status": {"name": "Closed", "statusCategory": {"key": "done"}}}})
        ));
        assert!(!is_done(
            &json!({"fields": {"status": {"name": "Done?", "statusCategory": {"key": "indeterminate"}}}})
        ));
    }
}
