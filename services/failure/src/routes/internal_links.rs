//! `PUT /internal/v1/projects/{project}/failure-groups/{group}/issue-links/{provider}`:
//! the integration gateway records the issue it filed for a group (and
//! later its status), shown on the v2 group. Services only.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use tenant_core::json::Object;
use tenant_core::{Db, TenantContext};
use uuid::Uuid;

use crate::error::FailureError;
use crate::repository::issue_links;

/// The issue as the tracker shows it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkBody {
    key: String,
    url: String,
    status: String,
}

fn bounded(field: &str, value: &str, max: usize) -> Result<(), FailureError> {
    if value.is_empty() || value.chars().count() > max || value.chars().any(char::is_control) {
        return Err(FailureError::invalid(
            field,
            format!("must be 1 to {max} characters"),
        ));
    }
    Ok(())
}

#[tracing::instrument(skip_all, fields(project_id = tracing::field::Empty, group_id = %path.1), err(level = "info"))]
pub async fn put(
    ctx: TenantContext,
    db: web::Data<Db>,
    path: web::Path<(Uuid, Uuid, String)>,
    body: web::Json<Object<LinkBody>>,
) -> Result<HttpResponse, FailureError> {
    ctx.require_service()?;
    let (project, group_id, provider) = path.into_inner();
    let project_id = ctx.require_project()?.project_id;
    if project != project_id {
        return Err(FailureError::ContextMismatch);
    }
    tracing::Span::current().record("project_id", tracing::field::display(project_id));
    if !["jira", "github"].contains(&provider.as_str()) {
        return Err(FailureError::invalid("provider", "must be jira or github"));
    }
    let body = body.into_inner().into_inner();
    bounded("key", &body.key, 100)?;
    bounded("status", &body.status, 100)?;
    bounded("url", &body.url, 2000)?;
    if !body.url.starts_with("https://") && !body.url.starts_with("http://") {
        return Err(FailureError::invalid("url", "must be an http(s) URL"));
    }
    let tx = db.tenant_tx(&ctx).await?;
    let link = issue_links::upsert(
        &tx,
        project_id,
        group_id,
        &provider,
        &body.key,
        &body.url,
        &body.status,
    )
    .await?
    .ok_or(FailureError::GroupNotFound)?;
    tx.commit().await?;
    Ok(HttpResponse::Ok().json(link))
}
