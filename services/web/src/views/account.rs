//! Sign-in and sign-up.

use maud::{Markup, html};

use super::{csrf_field, layout};

/// The sign-in form, with `problem` above it after a refusal.
pub fn sign_in(csrf: &str, problem: Option<&str>) -> Markup {
    layout(
        "Sign in",
        None,
        html! {
            h1 { "Sign in" }
            @if let Some(problem) = problem { p.error role="alert" { (problem) } }
            form.stack method="post" action="/sign-in" {
                (csrf_field(csrf))
                label { "Email" input type="email" name="email" autocomplete="username" required; }
                label { "Password" input type="password" name="password" autocomplete="current-password" required; }
                button type="submit" { "Sign in" }
            }
            p { "No account yet? " a href="/sign-up" { "Sign up" } }
        },
    )
}

/// The sign-up form, with `problem` above it after a refusal.
pub fn sign_up(csrf: &str, problem: Option<&str>) -> Markup {
    layout(
        "Sign up",
        None,
        html! {
            h1 { "Sign up" }
            @if let Some(problem) = problem { p.error role="alert" { (problem) } }
            form.stack method="post" action="/sign-up" {
                (csrf_field(csrf))
                label { "Name" input type="text" name="display_name" autocomplete="name" required; }
                label { "Email" input type="email" name="email" autocomplete="username" required; }
                label { "Password (12 characters or more)" input type="password" name="password" autocomplete="new-password" minlength="12" required; }
                button type="submit" { "Create account" }
            }
            p { "Have an account? " a href="/sign-in" { "Sign in" } }
        },
    )
}
