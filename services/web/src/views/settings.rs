//! Project settings: members and roles, API keys (the secret shown once),
//! in-app prefixes, classification rules and quality-gate rules.

use maud::{Markup, html};
use serde_json::Value;

use super::groups::{LABELS, member_name};
use super::projects::project_nav;
use super::{Viewer, csrf_field, items, layout, text, when};

/// The roles of a project, lowest first.
pub const ROLES: [&str; 4] = ["viewer", "member", "admin", "owner"];

/// The quality-gate rule kinds (the analytics service's).
pub const GATE_KINDS: [&str; 6] = [
    "max_failures",
    "min_pass_rate",
    "no_new_groups",
    "no_product_bugs",
    "max_newly_failing",
    "min_tests",
];

/// What the settings page shows; `new_key` is the secret of a key just
/// created, which is never shown again.
#[derive(Debug)]
pub struct SettingsPage<'a> {
    pub slug: &'a str,
    pub members: &'a Value,
    pub api_keys: &'a Value,
    pub grouping: &'a Value,
    pub rules: &'a Value,
    pub gate_rules: &'a Value,
    pub new_key: Option<&'a str>,
}

pub fn settings(viewer: Viewer<'_>, page: &SettingsPage<'_>) -> Markup {
    let slug = page.slug;
    layout(
        "Project settings",
        Some(viewer),
        html! {
            h1 { "Project settings" }
            (project_nav(slug))
            h2 { "Members" }
            div.table-wrap { table {
                thead { tr { th { "User" } th { "Role" } th { "Since" } th { span.visually-hidden { "Actions" } } } }
                tbody { @for m in items(page.members) {
                    @let user = text(&m["user_id"]);
                    @let who = member_name(m);
                    tr data-member=(user) {
                        td { (who) }
                        td { (text(&m["role"])) }
                        td { (when(&m["created_at"])) }
                        td {
                            form.inline method="post" action=(format!("/p/{slug}/settings/members/{user}/role")) {
                                (csrf_field(viewer.csrf))
                                label { span.visually-hidden { "New role of " (who) }
                                    select name="role" { @for role in ROLES { option value=(role) selected[m["role"] == role] { (role) } } }
                                }
                                button.secondary type="submit" aria-label=(format!("Change role of {who}")) { "Change role" }
                            }
                            form method="post" action=(format!("/p/{slug}/settings/members/{user}/remove")) {
                                (csrf_field(viewer.csrf))
                                button.secondary type="submit" aria-label=(format!("Remove {who}")) { "Remove" }
                            }
                        }
                    }
                } }
            } }
            form.inline method="post" action=(format!("/p/{slug}/settings/members")) {
                (csrf_field(viewer.csrf))
                label { "Email" input type="email" name="email" required; }
                label { "Role" select name="role" { @for role in ["viewer", "member", "admin"] { option value=(role) { (role) } } } }
                button type="submit" { "Add member" }
            }
            h2 { "API keys" }
            @if let Some(secret) = page.new_key {
                div.notice role="status" {
                    p { "Your new API key. Copy it now: it is not shown again." }
                    code.secret #new-api-key { (secret) }
                }
            }
            div.table-wrap { table {
                thead { tr { th { "Name" } th { "Role" } th { "Expires" } } }
                tbody { @for k in items(page.api_keys) {
                    tr { td { (text(&k["name"])) } td { (text(&k["role"])) } td { (when(&k["expires_at"])) } }
                } }
            } }
            form.inline method="post" action=(format!("/p/{slug}/settings/api-keys")) {
                (csrf_field(viewer.csrf))
                label { "Name" input type="text" name="name" required; }
                label { "Role" select name="role" { option value="member" { "member (uploads)" } option value="viewer" { "viewer (reads)" } } }
                label { "Valid for (days)" input type="number" name="days" min="1" max="365" value="90" required; }
                button type="submit" { "Create API key" }
            }
            h2 { "In-app package prefixes" }
            @let prefixes = page.grouping["in_app_prefixes"].as_array().map_or(&[][..], Vec::as_slice);
            p #in-app-prefixes {
                @if prefixes.is_empty() { "None: every frame outside known frameworks counts as in-app." }
                @else { @for p in prefixes { code { (text(p)) } " " } } }
            form.stack method="post" action=(format!("/p/{slug}/settings/grouping")) {
                (csrf_field(viewer.csrf))
                label { "Prefixes of your code, one a line (com.shop., shop::, src/)"
                    textarea name="in_app_prefixes" rows="4" {
                        @for p in prefixes { (text(p)) "\n" }
                    }
                }
                label.check { input type="checkbox" name="keep_numbers" checked[page.grouping["keep_numbers"] == true]; "Keep long numbers in messages" }
                p { "Applies to failures uploaded from now on." }
                button type="submit" { "Save grouping settings" }
            }
            h2 { "Classification rules" }
            ul { @for r in items(page.rules) { li { (text(&r["name"])) ": " (text(&r["field"])) " ~ " code { (text(&r["pattern"])) } " → " (text(&r["label"])) } } }
            @if items(page.rules).is_empty() { p { "No rules: the built-in classification applies." } }
            form.inline method="post" action=(format!("/p/{slug}/settings/classification-rules")) {
                (csrf_field(viewer.csrf))
                label { "Name" input type="text" name="name" required; }
                label { "Field" select name="field" { @for field in ["message", "exception_type", "frames"] { option value=(field) { (field) } } } }
                label { "Pattern (regular expression)" input type="text" name="pattern" required; }
                label { "Label" select name="label" { @for label in LABELS { option value=(label) { (label) } } } }
                button type="submit" { "Add rule" }
            }
            h2 { "Quality-gate rules" }
            ul { @for r in items(page.gate_rules) { li { (text(&r["name"])) ": " (text(&r["kind"])) " at most " (text(&r["threshold"])) " on " code { (text(&r["branch_pattern"])) } } } }
            @if items(page.gate_rules).is_empty() { p { "No rules: every build passes the gate." } }
            form.inline method="post" action=(format!("/p/{slug}/settings/quality-gate-rules")) {
                (csrf_field(viewer.csrf))
                label { "Name" input type="text" name="name" required; }
                label { "Kind" select name="kind" { @for kind in GATE_KINDS { option value=(kind) { (kind) } } } }
                label { "Branches (glob)" input type="text" name="branch_pattern" value="*" required; }
                label { "Threshold" input type="number" name="threshold" min="0" step="any"; }
                button type="submit" { "Add gate rule" }
            }
            p { "Jira, GitHub, Slack and webhook connections and notification rules are on the " a href=(format!("/p/{slug}/integrations")) { "Integrations" } " page." }
        },
    )
}
