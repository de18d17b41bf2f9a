//! Project settings: what they show, and adding members and API keys.

use actix_web::{HttpResponse, web};
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{SignedIn, page, see_other, segment};
use crate::WebState;
use crate::error::WebError;
use crate::views::settings::{self, SettingsPage};

#[derive(Deserialize)]
pub struct ApiKeyForm {
    csrf: String,
    name: String,
    role: String,
    days: u32,
}

#[derive(Deserialize)]
pub struct ClassificationRuleForm {
    csrf: String,
    name: String,
    field: String,
    pattern: String,
    label: String,
}

#[derive(Deserialize)]
pub struct GateRuleForm {
    csrf: String,
    name: String,
    kind: String,
    branch_pattern: String,
    threshold: Option<String>,
}

#[derive(Deserialize)]
pub struct RoleForm {
    csrf: String,
    role: String,
}

#[derive(Deserialize)]
pub struct CsrfOnly {
    csrf: String,
}

#[derive(Deserialize)]
pub struct GroupingForm {
    csrf: String,
    /// One prefix a line.
    in_app_prefixes: String,
    /// A ticked box sends `on`; an unticked one nothing.
    keep_numbers: Option<String>,
}

#[derive(Deserialize)]
pub struct MemberForm {
    csrf: String,
    email: String,
    role: String,
}

/// The settings page, with the secret of a key just created.
async fn render(
    signed_in: &SignedIn,
    state: &WebState,
    slug: &str,
    new_key: Option<&str>,
) -> Result<HttpResponse, WebError> {
    let base = format!("/v1/projects/{slug}");
    let (members, api_keys, grouping, rules, gate_rules) = tokio::join!(
        state.get(&signed_in.0, format!("{base}/members?limit=200")),
        state.get(&signed_in.0, format!("{base}/api-keys")),
        state.get(&signed_in.0, format!("{base}/settings/grouping")),
        state.get(&signed_in.0, format!("{base}/classification-rules")),
        state.get(&signed_in.0, format!("{base}/quality-gate-rules")),
    );
    let members = members?;
    // Admin-only lists are empty for other members.
    let or_empty = |reply: Result<Value, WebError>| reply.unwrap_or(Value::Null);
    let view = SettingsPage {
        slug,
        members: &members,
        api_keys: &or_empty(api_keys),
        grouping: &or_empty(grouping),
        rules: &or_empty(rules),
        gate_rules: &or_empty(gate_rules),
        new_key,
    };
    Ok(page(settings::settings(signed_in.viewer(), &view)))
}

pub async fn settings(
    signed_in: SignedIn,
    state: web::Data<WebState>,
    project: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    let slug = segment(&project)?;
    Box::pin(render(&signed_in, &state, slug, None)).await
}

/// Creates a key and shows its secret on the answer itself (never
/// stored, never in a URL).
pub async fn create_api_key(
    signed_in: SignedIn,
    state: web::Data<WebState>,
    project: web::Path<String>,
    form: web::Form<ApiKeyForm>,
) -> Result<HttpResponse, WebError> {
    signed_in.check_csrf(&form.csrf)?;
    let slug = segment(&project)?;
    let expires_at =
        chrono::Utc::now() + chrono::Duration::days(i64::from(form.days.clamp(1, 365)));
    let created = state
        .expect(
            &signed_in.0,
            Method::POST,
            &format!("/v1/projects/{slug}/api-keys"),
            Some(&json!({ "name": form.name.trim(), "role": form.role, "expires_at": expires_at })),
            StatusCode::CREATED,
        )
        .await?;
    let secret = created["key"].as_str().unwrap_or_default().to_owned();
    Box::pin(render(&signed_in, &state, slug, Some(&secret))).await
}

pub async fn add_member(
    signed_in: SignedIn,
    state: web::Data<WebState>,
    project: web::Path<String>,
    form: web::Form<MemberForm>,
) -> Result<HttpResponse, WebError> {
    signed_in.check_csrf(&form.csrf)?;
    let slug = segment(&project)?;
    state
        .expect(
            &signed_in.0,
            Method::POST,
            &format!("/v1/projects/{slug}/members"),
            Some(&json!({ "email": form.email.trim(), "role": form.role })),
            StatusCode::OK,
        )
        .await?;
    Ok(see_other(&format!("/p/{slug}/settings")))
}

/// Creates a rule (`what`: `classification-rules` or
/// `quality-gate-rules`) and goes back to the settings.
async fn create_rule(
    signed_in: &SignedIn,
    state: &WebState,
    slug: &str,
    what: &str,
    body: Value,
) -> Result<HttpResponse, WebError> {
    state
        .expect(
            &signed_in.0,
            Method::POST,
            &format!("/v1/projects/{slug}/{what}"),
            Some(&body),
            StatusCode::CREATED,
        )
        .await?;
    Ok(see_other(&format!("/p/{slug}/settings")))
}

pub async fn add_classification_rule(
    signed_in: SignedIn,
    state: web::Data<WebState>,
    project: web::Path<String>,
    form: web::Form<ClassificationRuleForm>,
) -> Result<HttpResponse, WebError> {
    signed_in.check_csrf(&form.csrf)?;
    let slug = segment(&project)?;
    let body = json!({
        "name": form.name.trim(),
        "field": form.field,
        "pattern": form.pattern,
        "label": form.label,
    });
    create_rule(&signed_in, &state, slug, "classification-rules", body).await
}

pub async fn add_gate_rule(
    signed_in: SignedIn,
    state: web::Data<WebState>,
    project: web::Path<String>,
    form: web::Form<GateRuleForm>,
) -> Result<HttpResponse, WebError> {
    signed_in.check_csrf(&form.csrf)?;
    let slug = segment(&project)?;
    // Whole counts go as integers, percentages as they were typed; an
    // empty threshold is none (the kinds that take none).
    let threshold = match form.threshold.as_deref().map(str::trim) {
        None | Some("") => Value::Null,
        Some(text) => text
            .parse::<i64>()
            .map(Value::from)
            .or_else(|_| text.parse::<f64>().map(Value::from))
            .map_err(|_| WebError::Refused {
                status: actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
                detail: "The threshold must be a number.".to_owned(),
            })?,
    };
    let body = json!({
        "name": form.name.trim(),
        "kind": form.kind,
        "branch_pattern": form.branch_pattern.trim(),
        "threshold": threshold,
    });
    create_rule(&signed_in, &state, slug, "quality-gate-rules", body).await
}

/// Sends a change to a membership. The API's refusals (the last owner
/// cannot be demoted or removed, only owners change owners) are pages that
/// say so: a 403 here comes from a member of the project (the gateway
/// answers 404 to anyone else), so it reveals nothing.
async fn change_member(
    signed_in: &SignedIn,
    state: &WebState,
    slug: &str,
    user: &str,
    (method, body): (Method, Option<Value>),
) -> Result<HttpResponse, WebError> {
    let reply = state
        .call(
            &signed_in.0,
            method,
            &format!("/v1/projects/{slug}/members/{user}"),
            body.as_ref(),
        )
        .await?;
    if reply.status.is_success() {
        return Ok(see_other(&format!("/p/{slug}/settings")));
    }
    if reply.status == StatusCode::FORBIDDEN {
        return Err(WebError::Refused {
            status: actix_web::http::StatusCode::FORBIDDEN,
            detail: reply.detail(),
        });
    }
    Err(WebError::from_reply(reply))
}

pub async fn change_role(
    signed_in: SignedIn,
    state: web::Data<WebState>,
    path: web::Path<(String, String)>,
    form: web::Form<RoleForm>,
) -> Result<HttpResponse, WebError> {
    signed_in.check_csrf(&form.csrf)?;
    let slug = segment(&path.0)?;
    let user = segment(&path.1)?;
    let body = json!({ "role": form.role });
    change_member(&signed_in, &state, slug, user, (Method::PATCH, Some(body))).await
}

pub async fn remove_member(
    signed_in: SignedIn,
    state: web::Data<WebState>,
    path: web::Path<(String, String)>,
    form: web::Form<CsrfOnly>,
) -> Result<HttpResponse, WebError> {
    signed_in.check_csrf(&form.csrf)?;
    let slug = segment(&path.0)?;
    let user = segment(&path.1)?;
    change_member(&signed_in, &state, slug, user, (Method::DELETE, None)).await
}

/// Replaces the project's grouping settings: the in-app prefixes, one a
/// line, and whether long numbers are kept in messages.
pub async fn update_grouping(
    signed_in: SignedIn,
    state: web::Data<WebState>,
    project: web::Path<String>,
    form: web::Form<GroupingForm>,
) -> Result<HttpResponse, WebError> {
    signed_in.check_csrf(&form.csrf)?;
    let slug = segment(&project)?;
    let prefixes: Vec<&str> = form
        .in_app_prefixes
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect();
    let body = json!({
        "in_app_prefixes": prefixes,
        "keep_numbers": form.keep_numbers.is_some(),
    });
    state
        .expect(
            &signed_in.0,
            Method::PUT,
            &format!("/v1/projects/{slug}/settings/grouping"),
            Some(&body),
            StatusCode::OK,
        )
        .await?;
    Ok(see_other(&format!("/p/{slug}/settings")))
}
