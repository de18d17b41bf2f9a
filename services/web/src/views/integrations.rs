//! Project settings > Integrations: connections (their secrets only as
//! "configured" and the last four characters the API shows), notification
//! rules, the latest deliveries, and the member's own Jira account.

use maud::{Markup, html};
use serde_json::Value;

use super::projects::project_nav;
use super::{Viewer, csrf_field, items, layout, text, when};

/// The kinds of connection the integration gateway keeps.
pub const KINDS: [&str; 4] = ["jira", "github", "slack", "webhook"];

/// The events a notification rule can send (the integration gateway's).
pub const EVENTS: [&str; 6] = [
    "group.created",
    "group.regressed",
    "build.completed",
    "gate.failed",
    "test.flaky_detected",
    "test.quarantined",
];

/// The labels a rule can filter on.
pub const RULE_LABELS: [&str; 5] = [
    "product_bug",
    "automation_bug",
    "infrastructure",
    "flaky",
    "to_investigate",
];

/// The cookie that remembers, while the browser is at Atlassian, which
/// project a Jira authorisation was started in.
pub const JIRA_PROJECT_COOKIE: &str = "faultline_jira_project";

/// What the last form did, shown on top of the page.
#[derive(Debug)]
pub enum Notice<'a> {
    /// A connection was made (its name).
    Connected(&'a str),
    /// The member goes on to Atlassian at this address.
    ContinueToJira(&'a str),
}

#[derive(Debug)]
pub struct IntegrationsPage<'a> {
    pub slug: &'a str,
    pub connections: &'a Value,
    pub rules: &'a Value,
    pub deliveries: &'a Value,
    /// The member's own Jira account; `None` where the server has no
    /// Atlassian app.
    pub my_jira: Option<&'a Value>,
    pub notice: Option<&'a Notice<'a>>,
}

/// A connection's public settings in a few words.
fn target(connection: &Value) -> String {
    let s = &connection["settings"];
    match connection["kind"].as_str() {
        Some("jira") => format!("{} ({})", text(&s["site_url"]), text(&s["project_key"])),
        Some("github") => format!("{}/{}", text(&s["owner"]), text(&s["repo"])),
        Some("slack") => s["channel"]
            .as_str()
            .map_or_else(|| "incoming webhook".to_owned(), |c| format!("channel {c}")),
        Some("webhook") => text(&s["url"]),
        _ => String::new(),
    }
}

/// The secrets as the API shows them: set or not, and the last four.
fn secrets(connection: &Value) -> Markup {
    let shown = connection["secrets"].as_object();
    html! {
        @for (field, status) in shown.into_iter().flatten() {
            span.secret-status {
                (field) ": "
                @if status["configured"] == true {
                    "configured"
                    @if let Some(last) = status["last_four"].as_str() { " (…" (last) ")" }
                } @else { "not set" }
            }
            " "
        }
    }
}

/// The name of the connection `id`, for the rules and deliveries.
fn connection_name<'a>(connections: &'a Value, id: &Value) -> &'a str {
    items(connections)
        .iter()
        .find(|c| &c["id"] == id)
        .and_then(|c| c["name"].as_str())
        .unwrap_or("—")
}

fn connection_forms(slug: &str, csrf: &str) -> Markup {
    let action = format!("/p/{slug}/integrations/connections");
    html! {
        details {
            summary { "Connect Jira (API token)" }
            form.stack method="post" action=(action) {
                (csrf_field(csrf))
                input type="hidden" name="kind" value="jira";
                label { "Name" input type="text" name="name" required maxlength="100"; }
                label { "Site URL" input type="url" name="site_url" placeholder="https://acme.atlassian.net" required; }
                label { "Account email" input type="email" name="email" required; }
                label { "API token" input type="password" name="api_token" autocomplete="off" required; }
                label { "Jira project key" input type="text" name="project_key" placeholder="WEB" required; }
                button type="submit" { "Connect Jira" }
            }
        }
        details {
            summary { "Connect GitHub" }
            form.stack method="post" action=(action) {
                (csrf_field(csrf))
                input type="hidden" name="kind" value="github";
                label { "Name" input type="text" name="name" required maxlength="100"; }
                label { "Fine-grained token" input type="password" name="token" autocomplete="off" required; }
                label { "Owner" input type="text" name="owner" required; }
                label { "Repository" input type="text" name="repo" required; }
                button type="submit" { "Connect GitHub" }
            }
        }
        details {
            summary { "Connect Slack" }
            form.stack method="post" action=(action) {
                (csrf_field(csrf))
                input type="hidden" name="kind" value="slack";
                label { "Name" input type="text" name="name" required maxlength="100"; }
                p { "Either an incoming webhook URL, or a bot token and a channel id." }
                label { "Incoming webhook URL" input type="password" name="webhook_url" autocomplete="off"; }
                label { "Bot token" input type="password" name="bot_token" autocomplete="off"; }
                label { "Channel id" input type="text" name="channel" placeholder="C0123456"; }
                button type="submit" { "Connect Slack" }
            }
        }
        details {
            summary { "Add a webhook receiver" }
            form.stack method="post" action=(action) {
                (csrf_field(csrf))
                input type="hidden" name="kind" value="webhook";
                label { "Name" input type="text" name="name" required maxlength="100"; }
                label { "URL" input type="url" name="url" required; }
                label { "Signing secret (whsec_…)" input type="password" name="signing_secret" autocomplete="off" required; }
                button type="submit" { "Add webhook" }
            }
        }
    }
}

fn rule_form(page: &IntegrationsPage<'_>, csrf: &str) -> Markup {
    let notifying: Vec<&Value> = items(page.connections)
        .iter()
        .filter(|c| c["kind"] != "jira")
        .collect();
    html! {
        @if notifying.is_empty() {
            p { "Add a Slack, webhook or GitHub connection to send notifications." }
        } @else {
            h3 { "Add a notification rule" }
            form.stack method="post" action=(format!("/p/{}/integrations/rules", page.slug)) {
                (csrf_field(csrf))
                label { "Connection"
                    select name="connection_id" {
                        @for c in &notifying { option value=(text(&c["id"])) { (text(&c["name"])) " (" (text(&c["kind"])) ")" } }
                    }
                }
                fieldset {
                    legend { "Events" }
                    @for event in EVENTS {
                        label.check { input type="checkbox" name="events" value=(event); (event) }
                    }
                }
                label { "Branches (optional, * matches anything)" input type="text" name="branch_filter" placeholder="release/*"; }
                fieldset {
                    legend { "Only these labels (optional)" }
                    @for label in RULE_LABELS {
                        label.check { input type="checkbox" name="labels" value=(label); (label) }
                    }
                }
                button type="submit" { "Add notification rule" }
            }
        }
    }
}

fn my_jira(slug: &str, csrf: &str, account: &Value) -> Markup {
    html! {
        h2 { "Your Jira account" }
        p #my-jira-status {
            @match account["status"].as_str() {
                Some("connected") => { "Connected to " (text(&account["site_url"])) " since " (when(&account["connected_at"])) "." }
                Some("needs_reauth") => { "Jira no longer accepts this connection: connect again." }
                _ => { "Not connected." }
            }
        }
        @if account["status"] == "not_connected" || account["status"] == "needs_reauth" {
            form.inline method="post" action=(format!("/p/{slug}/integrations/jira/connect")) {
                (csrf_field(csrf))
                button type="submit" { "Connect my Jira account" }
            }
        } @else {
            form.inline method="post" action=(format!("/p/{slug}/integrations/jira/disconnect")) {
                (csrf_field(csrf))
                button.secondary type="submit" { "Disconnect my Jira account" }
            }
        }
    }
}

pub fn integrations(viewer: Viewer<'_>, page: &IntegrationsPage<'_>) -> Markup {
    let slug = page.slug;
    let csrf = viewer.csrf;
    layout(
        "Integrations",
        Some(viewer),
        html! {
            h1 { "Integrations" }
            (project_nav(slug))
            @match page.notice {
                Some(Notice::Connected(name)) => {
                    div.notice role="status" #integration-notice { p { "Connected “" (name) "”. Its secrets are stored sealed and are never shown again." } }
                }
                Some(Notice::ContinueToJira(url)) => {
                    div.notice role="status" #integration-notice {
                        p { "Authorise Faultline at Atlassian; you come back here afterwards." }
                        p { a #continue-to-jira href=(url) rel="noreferrer" { "Continue to Jira" } }
                    }
                }
                None => {}
            }
            h2 { "Connections" }
            @if items(page.connections).is_empty() { p { "No connections yet." } }
            div.table-wrap { table #connections {
                thead { tr { th { "Name" } th { "Kind" } th { "Where" } th { "Secrets" } th { "Status" } th { span.visually-hidden { "Actions" } } } }
                tbody { @for c in items(page.connections) {
                    @let id = text(&c["id"]);
                    tr data-connection=(text(&c["name"])) {
                        td { (text(&c["name"])) }
                        td { (text(&c["kind"])) }
                        td { (target(c)) }
                        td { (secrets(c)) }
                        td { (text(&c["status"])) @if !c["circuit_open_until"].is_null() { " (paused until " (when(&c["circuit_open_until"])) ")" } }
                        td {
                            form method="post" action=(format!("/p/{slug}/integrations/connections/{id}/delete")) {
                                (csrf_field(csrf))
                                button.secondary type="submit" aria-label=(format!("Delete the connection {}", text(&c["name"]))) { "Delete" }
                            }
                        }
                    }
                } }
            } }
            (connection_forms(slug, csrf))
            h2 { "Notification rules" }
            @if items(page.rules).is_empty() { p { "No rules: nothing is sent." } }
            div.table-wrap { table #rules {
                thead { tr { th { "Through" } th { "Events" } th { "Branches" } th { "Labels" } th { span.visually-hidden { "Actions" } } } }
                tbody { @for r in items(page.rules) {
                    @let id = text(&r["id"]);
                    tr {
                        td { (connection_name(page.connections, &r["connection_id"])) }
                        td { @for e in r["events"].as_array().into_iter().flatten() { code { (text(e)) } " " } }
                        td { (r["branch_filter"].as_str().unwrap_or("any")) }
                        td { @match r["labels"].as_array() {
                            Some(labels) => { @for l in labels { (text(l)) " " } }
                            None => { "any" }
                        } }
                        td {
                            form method="post" action=(format!("/p/{slug}/integrations/rules/{id}/delete")) {
                                (csrf_field(csrf))
                                button.secondary type="submit" aria-label="Delete this rule" { "Delete" }
                            }
                        }
                    }
                } }
            } }
            (rule_form(page, csrf))
            h2 { "Latest deliveries" }
            @if items(page.deliveries).is_empty() { p { "Nothing sent yet." } }
            @else {
                div.table-wrap { table #deliveries {
                    thead { tr { th { "When" } th { "Event" } th { "Through" } th { "Status" } th { "Attempts" } th { "Last error" } th { span.visually-hidden { "Actions" } } } }
                    tbody { @for d in items(page.deliveries) {
                        tr {
                            td { (when(&d["created_at"])) }
                            td { (text(&d["event_kind"])) }
                            td { (connection_name(page.connections, &d["connection_id"])) }
                            td { (text(&d["status"])) }
                            td { (text(&d["attempts"])) }
                            td {
                                @if let Some(status) = d["last_status"].as_i64() { "HTTP " (status) " " }
                                (d["last_error"].as_str().unwrap_or(""))
                            }
                            td { @if d["status"] == "dead" {
                                form method="post" action=(format!("/p/{slug}/integrations/deliveries/{}/retry", text(&d["id"]))) {
                                    (csrf_field(csrf))
                                    button.secondary type="submit" aria-label="Retry this delivery" { "Retry" }
                                }
                            } }
                        }
                    } }
                } }
            }
            @if let Some(account) = page.my_jira { (my_jira(slug, csrf, account)) }
        },
    )
}
