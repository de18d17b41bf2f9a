//! Project settings > Integrations: connections to Jira, GitHub, Slack
//! and webhook receivers (secrets write-only), notification rules, the
//! latest deliveries, and the member's own Jira account (OAuth 2.0 3LO).

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{SignedIn, cookie, page, see_other, segment, set_cookie};
use crate::WebState;
use crate::error::WebError;
use crate::views::integrations::{self, IntegrationsPage, JIRA_PROJECT_COOKIE, KINDS};

/// How long the browser may take at Atlassian before coming back.
const JIRA_PROJECT_COOKIE_SECS: u64 = 600;

/// A new connection: `kind` says which of the other fields apply.
#[derive(Deserialize)]
pub struct ConnectionForm {
    csrf: String,
    kind: String,
    name: String,
    #[serde(flatten)]
    fields: std::collections::BTreeMap<String, String>,
}

#[derive(Deserialize)]
pub struct CsrfOnly {
    csrf: String,
}

/// What Atlassian sends the browser back with.
#[derive(Deserialize)]
pub struct JiraCallback {
    code: String,
    state: String,
}

/// The fields each kind of connection takes, as the API names them.
fn fields_of(kind: &str) -> &'static [&'static str] {
    match kind {
        "jira" => &["site_url", "email", "api_token", "project_key"],
        "github" => &["token", "owner", "repo"],
        "slack" => &["webhook_url", "bot_token", "channel"],
        "webhook" => &["url", "signing_secret"],
        _ => &[],
    }
}

fn refused(detail: &str) -> WebError {
    WebError::Refused {
        status: actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
        detail: detail.to_owned(),
    }
}

fn base(slug: &str) -> String {
    format!("/v1/projects/{slug}/integrations")
}

/// The page, with what the last form produced (`notice`) on top.
async fn render(
    signed_in: &SignedIn,
    state: &WebState,
    slug: &str,
    notice: Option<&integrations::Notice<'_>>,
) -> Result<HttpResponse, WebError> {
    let base = base(slug);
    let my_jira_path = format!("{base}/jira/me");
    let (connections, rules, deliveries, my_jira) = tokio::join!(
        state.get(&signed_in.0, format!("{base}/connections")),
        state.get(&signed_in.0, format!("{base}/rules")),
        state.get(&signed_in.0, format!("{base}/deliveries?limit=20")),
        state.call(&signed_in.0, Method::GET, &my_jira_path, None),
    );
    // A per-member Jira account exists only where the server has an
    // Atlassian app (409 `jira_oauth.not_configured` otherwise).
    let my_jira = match my_jira? {
        reply if reply.status == StatusCode::OK => Some(reply.body),
        _ => None,
    };
    let view = IntegrationsPage {
        slug,
        connections: &connections?,
        rules: &rules?,
        deliveries: &deliveries?,
        my_jira: my_jira.as_ref(),
        notice,
    };
    Ok(page(integrations::integrations(signed_in.viewer(), &view)))
}

pub async fn integrations_page(
    signed_in: SignedIn,
    state: web::Data<WebState>,
    project: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    let slug = segment(&project)?;
    render(&signed_in, &state, slug, None).await
}

/// Creates a connection from the fields its kind takes; empty fields are
/// left out, so the API says which one is missing.
pub async fn create_connection(
    signed_in: SignedIn,
    state: web::Data<WebState>,
    project: web::Path<String>,
    form: web::Form<ConnectionForm>,
) -> Result<HttpResponse, WebError> {
    signed_in.check_csrf(&form.csrf)?;
    let slug = segment(&project)?;
    if !KINDS.contains(&form.kind.as_str()) {
        return Err(refused("That is not a kind of connection."));
    }
    let mut body = Map::new();
    body.insert("kind".into(), json!(form.kind));
    body.insert("name".into(), json!(form.name.trim()));
    for field in fields_of(&form.kind) {
        if let Some(value) = form.fields.get(*field).map(|v| v.trim())
            && !value.is_empty()
        {
            body.insert((*field).to_owned(), json!(value));
        }
    }
    let created = state
        .expect(
            &signed_in.0,
            Method::POST,
            &format!("{}/connections", base(slug)),
            Some(&Value::Object(body)),
            StatusCode::CREATED,
        )
        .await?;
    let name = created["name"].as_str().unwrap_or_default();
    let notice = integrations::Notice::Connected(name);
    render(&signed_in, &state, slug, Some(&notice)).await
}

/// Deletes a connection (its secrets, rules and deliveries with it).
pub async fn delete_connection(
    signed_in: SignedIn,
    state: web::Data<WebState>,
    path: web::Path<(String, String)>,
    form: web::Form<CsrfOnly>,
) -> Result<HttpResponse, WebError> {
    signed_in.check_csrf(&form.csrf)?;
    let slug = segment(&path.0)?;
    let id = segment(&path.1)?;
    state
        .expect(
            &signed_in.0,
            Method::DELETE,
            &format!("{}/connections/{id}", base(slug)),
            None,
            StatusCode::NO_CONTENT,
        )
        .await?;
    Ok(see_other(&format!("/p/{slug}/integrations")))
}

/// Creates a notification rule. The form repeats `events` and `labels`
/// once per box ticked, so it is read as pairs.
pub async fn create_rule(
    signed_in: SignedIn,
    state: web::Data<WebState>,
    project: web::Path<String>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, WebError> {
    let field = |name: &str| {
        form.iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.trim())
    };
    let all = |name: &str| -> Vec<&str> {
        form.iter()
            .filter(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
            .collect()
    };
    signed_in.check_csrf(field("csrf").unwrap_or_default())?;
    let slug = segment(&project)?;
    let events = all("events");
    if events.is_empty() {
        return Err(refused("Tick at least one event."));
    }
    let mut body = json!({
        "connection_id": field("connection_id").unwrap_or_default(),
        "events": events,
    });
    if let Some(branch) = field("branch_filter").filter(|b| !b.is_empty()) {
        body["branch_filter"] = json!(branch);
    }
    let labels = all("labels");
    if !labels.is_empty() {
        body["labels"] = json!(labels);
    }
    state
        .expect(
            &signed_in.0,
            Method::POST,
            &format!("{}/rules", base(slug)),
            Some(&body),
            StatusCode::CREATED,
        )
        .await?;
    Ok(see_other(&format!("/p/{slug}/integrations")))
}

pub async fn delete_rule(
    signed_in: SignedIn,
    state: web::Data<WebState>,
    path: web::Path<(String, String)>,
    form: web::Form<CsrfOnly>,
) -> Result<HttpResponse, WebError> {
    signed_in.check_csrf(&form.csrf)?;
    let slug = segment(&path.0)?;
    let id = segment(&path.1)?;
    state
        .expect(
            &signed_in.0,
            Method::DELETE,
            &format!("{}/rules/{id}", base(slug)),
            None,
            StatusCode::NO_CONTENT,
        )
        .await?;
    Ok(see_other(&format!("/p/{slug}/integrations")))
}

/// Makes a dead (or waiting) delivery due now.
pub async fn retry_delivery(
    signed_in: SignedIn,
    state: web::Data<WebState>,
    path: web::Path<(String, String)>,
    form: web::Form<CsrfOnly>,
) -> Result<HttpResponse, WebError> {
    signed_in.check_csrf(&form.csrf)?;
    let slug = segment(&path.0)?;
    let id = segment(&path.1)?;
    state
        .expect(
            &signed_in.0,
            Method::POST,
            &format!("{}/deliveries/{id}/retry", base(slug)),
            None,
            StatusCode::ACCEPTED,
        )
        .await?;
    Ok(see_other(&format!("/p/{slug}/integrations")))
}

/// Starts connecting the member's own Jira account: the answer links to
/// Atlassian (a link, not a redirect: the pages' CSP lets forms post only
/// here), and a short-lived cookie remembers the project for the way back.
pub async fn connect_my_jira(
    signed_in: SignedIn,
    state: web::Data<WebState>,
    project: web::Path<String>,
    form: web::Form<CsrfOnly>,
) -> Result<HttpResponse, WebError> {
    signed_in.check_csrf(&form.csrf)?;
    let slug = segment(&project)?;
    let started = state
        .expect(
            &signed_in.0,
            Method::POST,
            &format!("{}/jira/oauth/start", base(slug)),
            None,
            StatusCode::OK,
        )
        .await?;
    let url = started["authorize_url"].as_str().unwrap_or_default();
    if !url.starts_with("https://") && !url.starts_with("http://") {
        return Err(WebError::Refused {
            status: actix_web::http::StatusCode::BAD_GATEWAY,
            detail: "The API gave no address to continue at.".to_owned(),
        });
    }
    let notice = integrations::Notice::ContinueToJira(url);
    let mut response = render(&signed_in, &state, slug, Some(&notice)).await?;
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(
            JIRA_PROJECT_COOKIE,
            slug,
            state.settings.secure_cookies,
            Some(JIRA_PROJECT_COOKIE_SECS),
        ),
    );
    Ok(response)
}

/// Where Atlassian sends the browser back: the code and state go to the
/// API as this member (the state is bound to them and works once).
pub async fn jira_callback(
    req: HttpRequest,
    signed_in: SignedIn,
    state: web::Data<WebState>,
    query: web::Query<JiraCallback>,
) -> Result<HttpResponse, WebError> {
    let project = cookie(&req, JIRA_PROJECT_COOKIE).ok_or_else(|| WebError::Refused {
        status: actix_web::http::StatusCode::BAD_REQUEST,
        detail: "This Jira authorisation was not started here, or took more than ten minutes."
            .to_owned(),
    })?;
    let slug = segment(&project)?;
    state
        .expect(
            &signed_in.0,
            Method::POST,
            &format!("{}/jira/oauth/callback", base(slug)),
            Some(&json!({ "code": query.code, "state": query.state })),
            StatusCode::OK,
        )
        .await?;
    let mut response = see_other(&format!("/p/{slug}/integrations"));
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(
            JIRA_PROJECT_COOKIE,
            "",
            state.settings.secure_cookies,
            Some(0),
        ),
    );
    Ok(response)
}

/// Disconnects the member's own Jira account.
pub async fn disconnect_my_jira(
    signed_in: SignedIn,
    state: web::Data<WebState>,
    project: web::Path<String>,
    form: web::Form<CsrfOnly>,
) -> Result<HttpResponse, WebError> {
    signed_in.check_csrf(&form.csrf)?;
    let slug = segment(&project)?;
    state
        .expect(
            &signed_in.0,
            Method::DELETE,
            &format!("{}/jira/me", base(slug)),
            None,
            StatusCode::NO_CONTENT,
        )
        .await?;
    Ok(see_other(&format!("/p/{slug}/integrations")))
}
