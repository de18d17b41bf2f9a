//! A failure group with its triage forms, and the flaky tests page.

use maud::{Markup, html};
use serde_json::Value;

use super::projects::project_nav;
use super::{Viewer, csrf_field, items, layout, percent, text, when};
use crate::domain::charts::{Point, line_chart};

/// The labels a member can give a group (the failure service's).
pub const LABELS: [&str; 6] = [
    "product_bug",
    "automation_bug",
    "infrastructure",
    "flaky",
    "no_defect",
    "to_investigate",
];

/// A group's triage statuses.
pub const STATUSES: [&str; 4] = ["open", "triaged", "resolved", "muted"];

/// Occurrences counted per day, oldest first.
fn per_day(occurrences: &[Value]) -> Vec<Point> {
    let mut days: Vec<Point> = Vec::new();
    for o in occurrences.iter().rev() {
        let day: String = o["created_at"]
            .as_str()
            .unwrap_or_default()
            .chars()
            .take(10)
            .collect();
        match days.last_mut() {
            Some(last) if last.label == day => last.value += 1.0,
            _ => days.push(Point {
                label: day,
                value: 1.0,
            }),
        }
    }
    days
}

/// Whether a trace line is one of the group's in-app frames.
fn in_app(line: &str, frames: &[Value]) -> bool {
    frames
        .iter()
        .filter_map(Value::as_str)
        .any(|frame| !frame.is_empty() && line.contains(frame))
}

/// What a failure group's page shows; `filed` is the issue a form just
/// filed (or found already filed) for it.
#[derive(Debug)]
pub struct GroupPage<'a> {
    pub slug: &'a str,
    pub group: &'a Value,
    pub comments: &'a Value,
    pub members: &'a Value,
    pub connections: &'a Value,
    pub filed: Option<&'a Value>,
}

/// A member as the assignee list names them.
pub fn member_name(member: &Value) -> String {
    let who = member["email"]
        .as_str()
        .or_else(|| member["display_name"].as_str())
        .map_or_else(|| text(&member["user_id"]), str::to_owned);
    format!("{who} ({})", text(&member["role"]))
}

/// An issue's address, when it is a web address (never a `javascript:`
/// one, whatever a third party answered).
fn web_address(value: &Value) -> Option<&str> {
    value
        .as_str()
        .filter(|url| url.starts_with("https://") || url.starts_with("http://"))
}

/// The group's issues in Jira and GitHub, and the form that files one
/// through a connection of the project.
fn issues(page: &GroupPage<'_>, csrf: &str, action: &str) -> Markup {
    let links = page.group["issue_links"]
        .as_array()
        .map_or(&[][..], Vec::as_slice);
    let connections: Vec<&Value> = items(page.connections)
        .iter()
        .filter(|c| c["kind"] == "jira" || c["kind"] == "github")
        .collect();
    html! {
        h2 { "Linked issues" }
        @if let Some(filed) = page.filed {
            div.notice role="status" #filed-issue {
                p {
                    @if filed["new"] == true { "Filed " } @else { "This group already has " }
                    @match web_address(&filed["issue_url"]) {
                        Some(url) => { a href=(url) rel="noreferrer" { (text(&filed["issue_key"])) } }
                        None => { (text(&filed["issue_key"])) }
                    }
                    "."
                }
            }
        }
        @if links.is_empty() { p { "No issue is linked to this group." } }
        ul #issue-links { @for link in links {
            li {
                (text(&link["provider"])) ": "
                @match web_address(&link["url"]) {
                    Some(url) => { a href=(url) rel="noreferrer" { (text(&link["key"])) } }
                    None => { (text(&link["key"])) }
                }
                " (" (text(&link["status"])) ")"
            }
        } }
        @if connections.is_empty() {
            p { "Connect Jira or GitHub on the project's " a href=(format!("/p/{}/integrations", page.slug)) { "Integrations" } " page to file issues from here." }
        } @else {
            form.inline method="post" action=(action) {
                (csrf_field(csrf))
                label { "Connection"
                    select name="connection" {
                        @for c in &connections {
                            option value=(format!("{}:{}", text(&c["kind"]), text(&c["id"]))) { (text(&c["name"])) " (" (text(&c["kind"])) ")" }
                        }
                    }
                }
                button type="submit" { "Create issue" }
            }
        }
    }
}

pub fn group(viewer: Viewer<'_>, page: &GroupPage<'_>) -> Markup {
    let slug = page.slug;
    let g = page.group;
    let comments = page.comments;
    let id = text(&g["id"]);
    let frames = g["frames"].as_array().map_or(&[][..], Vec::as_slice);
    let trace = g["stack_trace"].as_str().unwrap_or_default();
    let action = |what: &str| format!("/p/{slug}/groups/{id}/{what}");
    let occurrences = g["recent_occurrences"]
        .as_array()
        .map_or(&[][..], Vec::as_slice);
    layout(
        "Failure group",
        Some(viewer),
        html! {
            h1 { (g["exception_type"].as_str().unwrap_or("Failure group")) }
            (project_nav(slug))
            div.stat {
                div { "Label" strong #group-label { (text(&g["label"])) } }
                div { "Confidence" strong { (percent(&g["confidence"])) } }
                div { "Status" strong #group-status { (text(&g["status"])) } }
                div { "Occurrences" strong { (text(&g["occurrences"])) } }
                div { "Affected tests" strong { (text(&g["affected_tests"])) } }
            }
            h2 { "Why this label" }
            p { "Decided by " (text(&g["explanation"]["decided_by"])) " (" (text(&g["label_source"])) ")." }
            h2 { "Message" }
            pre { (text(&g["message"])) }
            h2 { "Stack trace" }
            pre {
                @for line in trace.lines() {
                    @if in_app(line, frames) { span.in-app { (line) } "\n" } @else { (line) "\n" }
                }
            }
            h2 { "Triage" }
            form.inline method="post" action=(action("label") ) {
                (csrf_field(viewer.csrf))
                label { "Label"
                    select name="label" {
                        @for label in LABELS { option value=(label) selected[g["label"] == label] { (label) } }
                    }
                }
                button type="submit" { "Set label" }
            }
            form.inline method="post" action=(action("triage")) {
                (csrf_field(viewer.csrf))
                label { "Status"
                    select name="status" {
                        @for status in STATUSES { option value=(status) selected[g["status"] == status] { (status) } }
                    }
                }
                label { "Assignee"
                    select name="assignee_id" {
                        option value="" selected[g["assignee_id"].is_null()] { "Nobody" }
                        @for m in items(page.members) {
                            option value=(text(&m["user_id"])) selected[g["assignee_id"] == m["user_id"]] { (member_name(m)) }
                        }
                    }
                }
                button type="submit" { "Save triage" }
            }
            form.stack method="post" action=(action("comments")) {
                (csrf_field(viewer.csrf))
                label { "Comment" textarea name="body" rows="3" required {} }
                button type="submit" { "Add comment" }
            }
            ul { @for c in items(comments) { li { (when(&c["created_at"])) ": " (text(&c["body"])) } } }
            (issues(page, viewer.csrf, &action("issues")))
            h2 { "Recent occurrences" }
            (line_chart("Occurrences per day (latest 20)", &per_day(occurrences), 1.0, false))
            div.table-wrap { table {
                thead { tr { th { "When" } th { "Test" } th { "Build" } } }
                tbody {
                    @for o in occurrences {
                        tr {
                            td { (when(&o["created_at"])) }
                            td { (text(&o["test"]["name"])) }
                            td { a href=(format!("/p/{slug}/builds/{}", text(&o["build"]["id"]))) { (text(&o["build"]["external_id"])) } }
                        }
                    }
                }
            } }
        },
    )
}

pub fn flaky(viewer: Viewer<'_>, slug: &str, flaky: &Value, quarantine: &Value) -> Markup {
    layout(
        "Flaky tests",
        Some(viewer),
        html! {
            h1 { "Flaky tests" }
            (project_nav(slug))
            @if items(flaky).is_empty() { p { "No flaky or broken tests right now." } }
            div.table-wrap { table {
                thead { tr { th { "Test" } th { "State" } th { "Failure rate" } th { "Flips" } th { "Passed on retry" } th { "Quarantine" } } }
                tbody {
                    @for t in items(flaky) {
                        @let test_id = text(&t["test"]["id"]);
                        @let quarantined = t["quarantined"].as_bool().unwrap_or(false);
                        tr {
                            td { (text(&t["test"]["classname"])) " › " (text(&t["test"]["name"])) }
                            td { (text(&t["state"])) }
                            td { (percent(&t["evidence"]["failure_rate"])) }
                            td { (text(&t["evidence"]["transitions"])) }
                            td { (text(&t["evidence"]["retries_passed"])) }
                            td {
                                form method="post" action=(format!("/p/{slug}/flaky/{test_id}/quarantine")) {
                                    (csrf_field(viewer.csrf))
                                    input type="hidden" name="quarantined" value=(if quarantined { "false" } else { "true" });
                                    button type="submit" data-test=(test_id)
                                        aria-label=(format!("{} {}", if quarantined { "Lift the quarantine of" } else { "Quarantine" }, text(&t["test"]["name"]))) {
                                        @if quarantined { "Lift quarantine" } @else { "Quarantine" }
                                    }
                                }
                            }
                        }
                    }
                }
            } }
            h2 { "Quarantine list for CI" }
            p { "CI reads it with " code { "GET /api/v1/projects/" (slug) "/quarantine?format=text" } "." }
            ul #quarantine-list {
                @for q in items(quarantine) { li { (text(&q["test"]["name"])) @if let Some(reason) = q["reason"].as_str() { " — " (reason) } } }
            }
        },
    )
}
