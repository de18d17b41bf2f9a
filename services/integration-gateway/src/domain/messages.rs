//! What an event says to a person (a Slack message) and to a machine (a
//! webhook body).

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

/// A payload's text field, escaped for Slack's markup.
fn text_of(payload: &Value, key: &str) -> String {
    escape(payload.get(key).and_then(Value::as_str).unwrap_or("?"))
}

fn number_of(payload: &Value, pointer: &str) -> i64 {
    payload
        .pointer(pointer)
        .and_then(Value::as_i64)
        .unwrap_or(0)
}

/// A link in Slack's markup, when the payload has a URL.
fn link(payload: &Value) -> String {
    match payload.get("url").and_then(Value::as_str) {
        Some(url) if url.starts_with("https://") || url.starts_with("http://") => {
            format!(" <{}|open>", escape(&url.replace(['<', '>', '|'], "")))
        }
        _ => String::new(),
    }
}

/// Slack's three markup characters, escaped as its documentation asks.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// One line (or a few) for a Slack channel.
pub fn slack_text(kind: &str, payload: &Value) -> String {
    match kind {
        "group.created" => format!(
            "New failure group {}: {}: {}",
            text_of(payload, "group_id"),
            text_of(payload, "exception_type"),
            text_of(payload, "message")
                .chars()
                .take(300)
                .collect::<String>(),
        ),
        "group.regressed" => format!(
            "Failure group {} regressed in build {}",
            text_of(payload, "group_id"),
            text_of(payload, "build_id"),
        ),
        "build.completed" => format!(
            "Build {} #{} on {} {}: {} tests, {} failures, {} errors, {} flaky{}",
            text_of(payload, "job_name"),
            payload.get("number").and_then(Value::as_i64).unwrap_or(0),
            text_of(payload, "branch"),
            text_of(payload, "status"),
            number_of(payload, "/counts/tests"),
            number_of(payload, "/counts/failures"),
            number_of(payload, "/counts/errors"),
            number_of(payload, "/counts/flaky"),
            link(payload),
        ),
        "gate.failed" => {
            let rules: Vec<String> = payload
                .get("failed_rules")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|rule| format!("• {}", text_of(rule, "summary")))
                .collect();
            format!(
                "Quality gate failed for {} on {} ({}){}\n{}",
                text_of(payload, "job_name"),
                text_of(payload, "branch"),
                text_of(payload, "commit_sha")
                    .chars()
                    .take(12)
                    .collect::<String>(),
                link(payload),
                rules.join("\n"),
            )
        }
        "test.flaky_detected" => format!(
            "Test {} is now {}",
            text_of(payload, "test_id"),
            text_of(payload, "state"),
        ),
        "test.quarantined" => format!(
            "Test {} was quarantined{}",
            text_of(payload, "test_id"),
            if payload.get("automatic").and_then(Value::as_bool) == Some(true) {
                " automatically"
            } else {
                ""
            },
        ),
        other => escape(other),
    }
}

/// A webhook's body, in the Standard Webhooks shape: `type`, `timestamp`
/// (when the event happened) and `data` (the event's payload as published),
/// with the event id for receivers that log it.
pub fn webhook_body(
    event_id: Uuid,
    kind: &str,
    occurred_at: DateTime<Utc>,
    payload: &Value,
) -> Value {
    json!({
        "type": kind,
        "timestamp": occurred_at,
        "event_id": event_id,
        "data": payload,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_gate_lists_its_rules_and_links_the_build() {
        let text = slack_text(
            "gate.failed",
            &json!({
                "job_name": "ci", "branch": "main", "commit_sha": "0123456789abcdef",
                "url": "https://ci.example.com/1",
                "failed_rules": [{"kind": "max_failures", "summary": "3 failures, at most 0 allowed"}],
            }),
        );
        assert!(
            text.starts_with(
                "Quality gate failed for ci on main (0123456789ab) <https://ci.example.com/1|open>"
            ),
            "{text}"
        );
        assert!(text.contains("• 3 failures, at most 0 allowed"));
    }

    #[test]
    fn markup_in_payloads_is_escaped() {
        let text = slack_text(
            "group.created",
            &json!({"group_id": "g", "exception_type": "E", "message": "<!channel> & co"}),
        );
        assert!(text.contains("&lt;!channel&gt; &amp; co"), "{text}");
    }
}
