//! A failure group and its triage forms; flaky tests and quarantine.

use actix_web::{HttpResponse, web};
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{SignedIn, page, see_other, segment};
use crate::WebState;
use crate::error::WebError;
use crate::views::groups::{self, LABELS, STATUSES};

#[derive(Deserialize)]
pub struct LabelForm {
    csrf: String,
    label: String,
}

#[derive(Deserialize)]
pub struct TriageForm {
    csrf: String,
    status: String,
    assignee_id: Option<String>,
}

#[derive(Deserialize)]
pub struct CommentForm {
    csrf: String,
    body: String,
}

#[derive(Deserialize)]
pub struct IssueForm {
    csrf: String,
    /// `jira:<connection id>` or `github:<connection id>`.
    connection: String,
}

#[derive(Deserialize)]
pub struct QuarantineForm {
    csrf: String,
    quarantined: String,
}

pub async fn group(
    signed_in: SignedIn,
    state: web::Data<WebState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, WebError> {
    let slug = segment(&path.0)?;
    let id = segment(&path.1)?;
    render(&signed_in, &state, slug, id, None).await
}

/// The group's page, with the issue just filed for it (`filed`) on top.
async fn render(
    signed_in: &SignedIn,
    state: &WebState,
    slug: &str,
    id: &str,
    filed: Option<&Value>,
) -> Result<HttpResponse, WebError> {
    let base = format!("/v2/projects/{slug}/failures/{id}");
    let (group, comments, members, connections) = tokio::join!(
        state.get(&signed_in.0, &base),
        state.get(&signed_in.0, format!("{base}/comments?limit=50")),
        state.get(
            &signed_in.0,
            format!("/v1/projects/{slug}/members?limit=200")
        ),
        state.get(
            &signed_in.0,
            format!("/v1/projects/{slug}/integrations/connections")
        ),
    );
    // Without the integration gateway the page still shows the group,
    // only without the buttons that file issues.
    let connections = connections.unwrap_or(Value::Null);
    let group = group?;
    let view = groups::GroupPage {
        slug,
        group: &group,
        comments: &comments?,
        members: &members?,
        connections: &connections,
        filed,
    };
    Ok(page(groups::group(signed_in.viewer(), &view)))
}

/// Sends a triage change and goes back to the group's page.
async fn change_group(
    signed_in: &SignedIn,
    state: &WebState,
    path: &(String, String),
    (method, what, body): (Method, &str, Value),
    ok: StatusCode,
) -> Result<HttpResponse, WebError> {
    let slug = segment(&path.0)?;
    let id = segment(&path.1)?;
    state
        .expect(
            &signed_in.0,
            method,
            &format!("/v2/projects/{slug}/failures/{id}{what}"),
            Some(&body),
            ok,
        )
        .await?;
    Ok(see_other(&format!("/p/{slug}/groups/{id}")))
}

fn refused(detail: &str) -> WebError {
    WebError::Refused {
        status: actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
        detail: detail.to_owned(),
    }
}

pub async fn label(
    signed_in: SignedIn,
    state: web::Data<WebState>,
    path: web::Path<(String, String)>,
    form: web::Form<LabelForm>,
) -> Result<HttpResponse, WebError> {
    signed_in.check_csrf(&form.csrf)?;
    if !LABELS.contains(&form.label.as_str()) {
        return Err(refused("That is not one of the labels."));
    }
    let request = (Method::PUT, "/label", json!({ "label": form.label }));
    change_group(&signed_in, &state, &path, request, StatusCode::OK).await
}

pub async fn triage(
    signed_in: SignedIn,
    state: web::Data<WebState>,
    path: web::Path<(String, String)>,
    form: web::Form<TriageForm>,
) -> Result<HttpResponse, WebError> {
    signed_in.check_csrf(&form.csrf)?;
    if !STATUSES.contains(&form.status.as_str()) {
        return Err(refused("That is not one of the statuses."));
    }
    let assignee = form
        .assignee_id
        .as_deref()
        .map(str::trim)
        .filter(|a| !a.is_empty());
    let request = (
        Method::PATCH,
        "",
        json!({ "status": form.status, "assignee_id": assignee }),
    );
    change_group(&signed_in, &state, &path, request, StatusCode::OK).await
}

pub async fn comment(
    signed_in: SignedIn,
    state: web::Data<WebState>,
    path: web::Path<(String, String)>,
    form: web::Form<CommentForm>,
) -> Result<HttpResponse, WebError> {
    signed_in.check_csrf(&form.csrf)?;
    let request = (Method::POST, "/comments", json!({ "body": form.body }));
    change_group(&signed_in, &state, &path, request, StatusCode::CREATED).await
}

/// Files a Jira issue or opens a GitHub issue for the group through the
/// chosen connection, and answers with its link (the issue filed before,
/// when the group has one already).
pub async fn file_issue(
    signed_in: SignedIn,
    state: web::Data<WebState>,
    path: web::Path<(String, String)>,
    form: web::Form<IssueForm>,
) -> Result<HttpResponse, WebError> {
    signed_in.check_csrf(&form.csrf)?;
    let slug = segment(&path.0)?;
    let id = segment(&path.1)?;
    let (provider, connection) = form
        .connection
        .split_once(':')
        .filter(|(provider, _)| ["jira", "github"].contains(provider))
        .ok_or_else(|| refused("Choose a Jira or GitHub connection."))?;
    let connection = segment(connection)?;
    let reply = state
        .call(
            &signed_in.0,
            Method::POST,
            &format!("/v1/projects/{slug}/integrations/{provider}/issues"),
            Some(&json!({ "group_id": id, "connection_id": connection })),
        )
        .await?;
    if !matches!(reply.status, StatusCode::CREATED | StatusCode::OK) {
        return Err(WebError::from_reply(reply));
    }
    let mut filed = reply.body;
    filed["provider"] = json!(provider);
    filed["new"] = json!(reply.status == StatusCode::CREATED);
    render(&signed_in, &state, slug, id, Some(&filed)).await
}

pub async fn flaky(
    signed_in: SignedIn,
    state: web::Data<WebState>,
    project: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    let slug = segment(&project)?;
    let (flaky, quarantine) = tokio::join!(
        state.get(
            &signed_in.0,
            format!("/v1/projects/{slug}/flaky-tests?limit=100")
        ),
        state.get(&signed_in.0, format!("/v1/projects/{slug}/quarantine")),
    );
    Ok(page(groups::flaky(
        signed_in.viewer(),
        slug,
        &flaky?,
        &quarantine?,
    )))
}

pub async fn quarantine(
    signed_in: SignedIn,
    state: web::Data<WebState>,
    path: web::Path<(String, String)>,
    form: web::Form<QuarantineForm>,
) -> Result<HttpResponse, WebError> {
    signed_in.check_csrf(&form.csrf)?;
    let slug = segment(&path.0)?;
    let test = segment(&path.1)?;
    let url = format!("/v1/projects/{slug}/quarantine/{test}");
    if form.quarantined == "true" {
        let body = json!({ "reason": "quarantined from the dashboard" });
        state
            .expect(&signed_in.0, Method::PUT, &url, Some(&body), StatusCode::OK)
            .await?;
    } else {
        state
            .expect(
                &signed_in.0,
                Method::DELETE,
                &url,
                None,
                StatusCode::NO_CONTENT,
            )
            .await?;
    }
    Ok(see_other(&format!("/p/{slug}/flaky")))
}
