//! The user's projects side by side, and a project's dashboard.

use maud::{Markup, html};
use serde_json::Value;

use super::{Viewer, csrf_field, items, layout, percent, text, when};
use crate::domain::charts::{Point, line_chart};

/// One project's card: its name and what its dashboard leads with.
#[derive(Debug)]
pub struct ProjectCard {
    pub project: Value,
    pub pass_rate: Value,
    pub open_groups: usize,
    pub flaky: usize,
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
                            div { "Pass rate" strong { (percent(&card.pass_rate)) } }
                            div { "Open groups" strong { (card.open_groups) } }
                            div { "Flaky tests" strong { (card.flaky) } }
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

/// What the dashboard shows of a project.
#[derive(Debug)]
pub struct Dashboard<'a> {
    pub project: &'a Value,
    pub builds: &'a Value,
    pub groups: &'a Value,
    pub flaky: &'a Value,
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
        }
    }
}

/// A build's pass rate: passed over tests run (skipped left out).
pub fn pass_rate(build: &Value) -> Option<f64> {
    let totals = &build["totals"];
    let tests = totals["tests"].as_f64()? - totals["skipped"].as_f64().unwrap_or(0.0);
    (tests > 0.0).then(|| {
        (totals["passed"].as_f64().unwrap_or(0.0) + totals["flaky"].as_f64().unwrap_or(0.0)) / tests
    })
}

pub fn dashboard(viewer: Viewer<'_>, d: &Dashboard<'_>) -> Markup {
    let slug = text(&d.project["slug"]);
    let builds = items(d.builds);
    let oldest_first: Vec<&Value> = builds.iter().rev().collect();
    let rate: Vec<Point> = oldest_first
        .iter()
        .filter_map(|b| {
            pass_rate(b).map(|value| Point {
                label: text(&b["external_id"]),
                value,
            })
        })
        .collect();
    let failures: Vec<Point> = oldest_first
        .iter()
        .map(|b| Point {
            label: text(&b["external_id"]),
            value: b["totals"]["failures"].as_f64().unwrap_or(0.0)
                + b["totals"]["errors"].as_f64().unwrap_or(0.0),
        })
        .collect();
    let latest_rate = builds.first().and_then(pass_rate);
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
                div { "Latest pass rate" strong { (latest_rate.map_or_else(|| "—".to_owned(), |r| format!("{:.1}%", r * 100.0))) } }
                div { "Failure groups" strong #group-count { (items(d.groups).len()) } }
                div { "Flaky tests" strong #flaky-count { (items(d.flaky).len()) } }
            }
            h2 { "Trends" }
            (line_chart("Pass rate per build", &rate, 1.0, true))
            (line_chart("Failures per build", &failures, 1.0, false))
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
            (group_table(&slug, items(d.groups)))
            h2 { "Flakiest tests" }
            ul {
                @for t in items(d.flaky) {
                    li { (text(&t["test"]["name"])) " — " (text(&t["state"])) ", failure rate " (percent(&t["evidence"]["failure_rate"])) }
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
