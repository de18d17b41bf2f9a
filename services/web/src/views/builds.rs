//! A build: totals, failures grouped, comparison and the quality gate.

use maud::{Markup, html};
use serde_json::Value;

use super::projects::{group_table, project_nav};
use super::{Viewer, items, layout, text};

/// What the build page shows; the gate and comparison are absent when
/// the analytics API could not answer.
#[derive(Debug)]
pub struct BuildPage<'a> {
    pub slug: &'a str,
    pub build: &'a Value,
    pub groups: &'a [Value],
    pub gate: Option<&'a Value>,
    pub comparison: Option<&'a Value>,
}

pub fn build(viewer: Viewer<'_>, page: &BuildPage<'_>) -> Markup {
    let b = page.build;
    let totals = &b["totals"];
    layout(
        &format!("Build {}", text(&b["external_id"])),
        Some(viewer),
        html! {
            h1 { "Build " (text(&b["external_id"])) " of " (text(&b["job_name"])) }
            (project_nav(page.slug))
            p { "Branch " (text(&b["branch"])) ", status " span class=(format!("status-{}", text(&b["status"]))) { (text(&b["status"])) } }
            div.stat #totals {
                @for name in ["tests", "passed", "failures", "errors", "skipped", "flaky"] {
                    div { (name) strong data-total=(name) { (text(&totals[name])) } }
                }
            }
            h2 { "Quality gate" }
            @match page.gate {
                Some(gate) => {
                    p { "Verdict: " strong #gate-verdict class=(format!("verdict-{}", text(&gate["status"]))) { (text(&gate["status"])) }
                        @if let Some(reason) = gate["reason"].as_str() { " (" (reason) ")" } }
                    ul {
                        @for rule in gate["rules"].as_array().map_or(&[][..], Vec::as_slice) {
                            li { span class=(format!("verdict-{}", text(&rule["status"]))) { (text(&rule["status"])) } ": " (text(&rule["kind"])) " — " (text(&rule["summary"])) }
                        }
                    }
                }
                None => p { "The quality gate is not available right now." }
            }
            h2 { "Failures by group" }
            @if page.groups.is_empty() { p { "No failures in this build." } }
            @else { (group_table(page.slug, page.groups)) }
            h2 { "Compared with the previous good build" }
            @match page.comparison {
                Some(c) => {
                    div.stat {
                        div { "Newly failing" strong { (text(&c["counts"]["newly_failing"])) } }
                        div { "Fixed" strong { (text(&c["counts"]["fixed"])) } }
                        div { "Still failing" strong { (text(&c["counts"]["still_failing"])) } }
                    }
                    @for (title, key) in [("Newly failing", "newly_failing"), ("Fixed", "fixed"), ("Still failing", "still_failing")] {
                        @let tests = c[key].as_array().map_or(&[][..], Vec::as_slice);
                        @if !tests.is_empty() {
                            h3 { (title) }
                            ul { @for t in tests { li { (text(&t["test"])) } } }
                        }
                    }
                }
                None => p { "No comparison is available for this build." }
            }
        },
    )
}

/// The groups of a build's failures (v1 failures carry their group), each
/// once, with the group's label and confidence.
pub fn groups_of_failures(failures: &Value) -> Vec<Value> {
    let mut seen: Vec<Value> = Vec::new();
    for f in items(failures) {
        let id = &f["group_id"];
        if id.is_null() || seen.iter().any(|g| &g["id"] == id) {
            continue;
        }
        seen.push(serde_json::json!({
            "id": id,
            "template": f["message"].as_str().or_else(|| f["test"]["name"].as_str()).unwrap_or("failure"),
            "label": f["label"],
            "confidence": f["confidence"],
            "status": f["group_status"],
            "occurrences": items(failures).iter().filter(|o| &o["group_id"] == id).count(),
        }));
    }
    seen
}
