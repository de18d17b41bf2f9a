//! The user's projects side by side, and a project's dashboard.

use maud::{Markup, html};
use serde_json::Value;

use super::{Viewer, csrf_field, items, layout, percent, text, when};
use crate::domain::charts::{Point, line_chart};

/// One project's card: the project and its figures in the analytics
/// overview (null when the overview could not be had).
#[derive(Debug)]
pub struct ProjectCard {
    pub project: Value,
    pub figures: Value,
}

pub fn list(viewer: Viewer<'_>, cards: &[ProjectCard]) -> Markup {
    layout(
        "Projects",
        Some(viewer),
        html! {
            h1 { "Projects" }
            @if cards.is_empty() {
                p { "You are not a member of any project yet. Create one below." }
            }
            div.cards {
                @for card in cards {
                    @let slug = text(&card.project["slug"]);
                    section.card {
                        h2 { a href=(format!("/p/{slug}")) { (text(&card.project["name"])) } }
                        div.stat {
                            div { "Pass rate, 30 days" strong.pass-rate { (percent(&card.figures["pass_rate"])) } }
                            div { "Open groups" strong { (text(&card.figures["open_groups"])) } }
                            div { "Flaky tests" strong { (text(&card.figures["flaky_tests"])) } }
                        }
                    }
                }
            }
            h2 { "Create a project" }
            form.stack method="post" action="/projects" {
                (csrf_field(viewer.csrf))
                label { "Name" input type="text" name="name" required; }
                label { "Slug (lower-case letters, digits and dashes)" input type="text" name="slug" pattern="[a-z0-9-]+" required; }
                button type="submit" { "Create project" }
            }
        },
    )
}

/// What the dashboard shows of a project: builds and groups from the
/// failure service; summary, trends and rankings from analytics (null
/// when they could not be had).
#[derive(Debug)]
pub struct Dashboard<'a> {
    pub project: &'a Value,
    pub builds: &'a Value,
    pub groups: &'a Value,
    pub summary: &'a Value,
    pub trends: &'a Value,
    pub rankings: &'a Value,
    pub days: u32,
    pub branch: &'a str,
    pub job: &'a str,
}

/// The links every project page starts with.
pub fn project_nav(slug: &str) -> Markup {
    html! {
        nav.tabs aria-label="Project" {
            a href=(format!("/p/{slug}")) { "Dashboard" }
            a href=(format!("/p/{slug}/flaky")) { "Flaky tests" }
            a href=(format!("/p/{slug}/settings")) { "Settings" }
            a href=(format!("/p/{slug}/integrations")) { "Integrations" }
        }
    }
}

/// How the pass rate moved against the previous period, in words.
fn direction(summary: &Value) -> &'static str {
    match summary["direction"].as_str() {
        Some("up") => "up from the previous period",
        Some("down") => "down from the previous period",
        Some("flat") => "as in the previous period",
        _ => "",
    }
}

/// One point per day of the trends, oldest first, for days that have one.
fn daily(trends: &Value, value: impl Fn(&Value) -> Option<f64>) -> Vec<Point> {
    trends["days"]
        .as_array()
        .map_or(&[][..], Vec::as_slice)
        .iter()
        .filter_map(|day| {
            value(day).map(|value| Point {
                label: text(&day["day"]),
                value,
            })
        })
        .collect()
}

pub fn dashboard(viewer: Viewer<'_>, d: &Dashboard<'_>) -> Markup {
    let slug = text(&d.project["slug"]);
    let builds = items(d.builds);
    let period = &d.summary["period"];
    let pass_rate = daily(d.trends, |day| day["pass_rate"].as_f64());
    let failures = daily(d.trends, |day| {
        (day["builds"].as_i64().unwrap_or(0) > 0).then(|| day["failed"].as_f64().unwrap_or(0.0))
    });
    let groups = items(d.groups);
    let ranked: Vec<Value> = d.rankings["top_groups"]
        .as_array()
        .map_or(&[][..], Vec::as_slice)
        .iter()
        .map(|ranked| {
            let group = groups.iter().find(|g| g["id"] == ranked["group_id"]);
            serde_json::json!({
                "id": ranked["group_id"],
                "template": group.map_or(&Value::Null, |g| &g["template"]),
                "label": ranked["label"],
                "confidence": group.map_or(&Value::Null, |g| &g["confidence"]),
                "status": ranked["status"],
                "occurrences": ranked["failures"],
            })
        })
        .collect();
    let top_groups: &[Value] = if ranked.is_empty() {
        &groups[..groups.len().min(10)]
    } else {
        &ranked
    };
    layout(
        &text(&d.project["name"]),
        Some(viewer),
        html! {
            h1 { (text(&d.project["name"])) }
            (project_nav(&slug))
            form.inline method="get" data-autosubmit {
                label { "Period"
                    select name="days" {
                        @for days in [7u32, 30, 90] {
                            option value=(days) selected[days == d.days] { "Last " (days) " days" }
                        }
                    }
                }
                label { "Branch" input type="text" name="branch" value=(d.branch); }
                label { "Job" input type="text" name="job" value=(d.job); }
                button type="submit" { "Apply" }
            }
            div.stat {
                div { "Builds" strong #build-count { (builds.len()) } }
                div { "Pass rate" strong #period-pass-rate { (percent(&period["pass_rate"])) }
                    small { (direction(d.summary)) } }
                div { "Failed tests" strong #period-failed { (text(&period["failed"])) } }
                div { "Open groups" strong #open-groups { (text(&d.summary["open_groups"])) } }
                div { "Flaky tests" strong #flaky-count { (text(&d.summary["flaky_tests"])) } }
                div { "Quarantined" strong { (text(&d.summary["quarantined_tests"])) } }
            }
            @if d.summary.is_null() {
                p.notice role="status" { "The figures of the period are not available right now; the builds and groups below are." }
            }
            h2 { "Trends" }
            (line_chart("Pass rate per day", &pass_rate, 1.0, true))
            (line_chart("Failed tests per day", &failures, 1.0, false))
            h2 { "Latest builds" }
            div.table-wrap { table {
                thead { tr { th { "Build" } th { "Job" } th { "Branch" } th { "Status" } th { "Tests" } th { "Failed" } th { "Started" } } }
                tbody {
                    @for b in builds {
                        tr {
                            td { a href=(format!("/p/{slug}/builds/{}", text(&b["id"]))) { (text(&b["external_id"])) } }
                            td { (text(&b["job_name"])) }
                            td { (text(&b["branch"])) }
                            td class=(format!("status-{}", text(&b["status"]))) { (text(&b["status"])) }
                            td { (text(&b["totals"]["tests"])) }
                            td { (text(&b["totals"]["failures"])) }
                            td { (when(&b["created_at"])) }
                        }
                    }
                }
            } }
            h2 { "Top failure groups" }
            (group_table(&slug, top_groups))
            h2 { "Flakiest tests" }
            ul #flakiest {
                @for t in d.rankings["flakiest_tests"].as_array().map_or(&[][..], Vec::as_slice) {
                    li { (text(&t["classname"])) " › " (text(&t["name"])) ": " (text(&t["value"])) " flaky passes" }
                }
            }
        },
    )
}

/// Failure groups with their labels and confidence, linked to their pages.
pub fn group_table(slug: &str, groups: &[Value]) -> Markup {
    html! {
        div.table-wrap { table {
            thead { tr { th { "Group" } th { "Label" } th { "Confidence" } th { "Status" } th { "Occurrences" } } }
            tbody {
                @for g in groups {
                    tr {
                        td { a href=(format!("/p/{slug}/groups/{}", text(&g["id"]))) { (text(&g["template"]).chars().take(120).collect::<String>()) } }
                        td.label { (text(&g["label"])) }
                        td { (percent(&g["confidence"])) }
                        td { (text(&g["status"])) }
                        td { (text(&g["occurrences"])) }
                    }
                }
            }
        } }
    }
}
