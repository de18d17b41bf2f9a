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
    let base = format!("/v2/projects/{slug}/failures/{id}");
    let (group, comments) = tokio::join!(
        state.get(&signed_in.0, &base),
        state.get(&signed_in.0, format!("{base}/comments?limit=50")),
    );
    Ok(page(groups::group(
        signed_in.viewer(),
        slug,
        &group?,
        &comments?,
    )))
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
