//! The pages' HTML (maud): the layout every page shares, and one module
//! per area. Views take the API's JSON as it comes and show what is there.

pub mod account;
pub mod assets;
pub mod builds;
pub mod groups;
pub mod integrations;
pub mod projects;
pub mod settings;

use maud::{DOCTYPE, Markup, html};
use serde_json::Value;

/// Who is signed in, for the header, and the token every form carries.
#[derive(Debug, Clone, Copy)]
pub struct Viewer<'a> {
    pub email: &'a str,
    pub csrf: &'a str,
}

/// The page around `content`.
pub fn layout(title: &str, viewer: Option<Viewer<'_>>, content: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Faultline" }
                link rel="stylesheet" href=(format!("/static/{}", assets::STYLESHEET.name));
                script src=(format!("/static/{}", assets::SCRIPT.name)) defer {}
            }
            body {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    a.brand href="/" { "Faultline" }
                    @if let Some(viewer) = viewer {
                        span { (viewer.email) }
                        form method="post" action="/sign-out" {
                            (csrf_field(viewer.csrf))
                            button.secondary type="submit" { "Sign out" }
                        }
                    } @else {
                        a href="/sign-in" { "Sign in" }
                        a href="/sign-up" { "Sign up" }
                    }
                }
                main #main {
                    (content)
                }
            }
        }
    }
}

/// The hidden CSRF field of every form.
pub fn csrf_field(token: &str) -> Markup {
    html! { input type="hidden" name="csrf" value=(token); }
}

/// A page that says what happened and what to do.
pub fn error_page(title: &str, what: &str, todo: &str, viewer: Option<Viewer<'_>>) -> Markup {
    layout(
        title,
        viewer,
        html! {
            h1 { (title) }
            div.error role="alert" {
                p { (what) }
                p { (todo) }
            }
            p { a href="/" { "Back to your projects" } }
        },
    )
}

/// A JSON value as text: strings bare, null as a dash.
pub fn text(value: &Value) -> String {
    match value {
        Value::Null => "—".to_owned(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A rate from 0 to 1 as a percentage.
pub fn percent(value: &Value) -> String {
    value
        .as_f64()
        .map_or_else(|| "—".to_owned(), |v| format!("{:.1}%", v * 100.0))
}

/// The items of a list answer.
pub fn items(list: &Value) -> &[Value] {
    list["items"].as_array().map_or(&[], Vec::as_slice)
}

/// A timestamp shortened to the minute.
pub fn when(value: &Value) -> String {
    value.as_str().map_or_else(
        || "—".to_owned(),
        |s| s.chars().take(16).collect::<String>().replace('T', " "),
    )
}
