//! `/v1/projects/{project}/integrations/deliveries`: what went out (or
//! did not) through the project's connections, with the last error, and
//! a retry by hand for a dead-lettered delivery.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use tenant_core::{Db, Role, TenantContext};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::openapi as doc;
use super::project_scope;
use crate::error::IntegrationError;
use crate::repository::deliveries::{self as repository, DeliveryView};

/// Which deliveries to list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DeliveryQuery {
    /// `pending`, `delivered` or `dead`.
    status: Option<String>,
    /// 1 to 200, default 50.
    #[param(minimum = 1, maximum = 200)]
    limit: Option<i64>,
    /// The `next_before` of the previous page.
    before: Option<Uuid>,
}

/// A page of deliveries, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryList {
    items: Vec<DeliveryView>,
    /// Pass as `before` for the next page; null on the last.
    next_before: Option<Uuid>,
}

/// `GET /v1/projects/{project}/integrations/deliveries`.
#[utoipa::path(
    get,
    path = "/v1/projects/{project}/integrations/deliveries",
    tag = "integrations",
    params(("project" = String, Path, description = "Project id or slug"), DeliveryQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of deliveries, newest first", body = DeliveryList),
        (status = 400, description = "A query parameter that does not parse (`request.invalid_query`), or the path names another project (`project.context_mismatch`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid context token (`context.*`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller has no role in the project (`context.role_too_low`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 422, description = "An unknown status or a limit out of range (`request.invalid_body`)", body = doc::Problem, content_type = "application/problem+json"),
    ),
)]
#[tracing::instrument(skip_all, fields(project_id = tracing::field::Empty), err(level = "info"))]
pub async fn list(
    ctx: TenantContext,
    db: web::Data<Db>,
    path: web::Path<String>,
    query: web::Query<DeliveryQuery>,
) -> Result<HttpResponse, IntegrationError> {
    let project_id = project_scope(&ctx, &path, Role::Viewer)?;
    let query = query.into_inner();
    if let Some(status) = &query.status
        && !["pending", "delivered", "dead"].contains(&status.as_str())
    {
        return Err(IntegrationError::invalid(
            "status",
            "must be pending, delivered or dead",
        ));
    }
    let limit = query.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(IntegrationError::invalid("limit", "must be 1 to 200"));
    }
    let tx = db.tenant_tx(&ctx).await?;
    let items = repository::list(
        &tx,
        project_id,
        query.status.as_deref(),
        query.before,
        limit,
    )
    .await?;
    tx.commit().await?;
    let next_before = (items.len() as i64 == limit)
        .then(|| items.last().map(|d| d.id))
        .flatten();
    Ok(HttpResponse::Ok().json(DeliveryList { items, next_before }))
}

/// `GET /v1/projects/{project}/integrations/deliveries/{delivery}`.
#[utoipa::path(
    get,
    path = "/v1/projects/{project}/integrations/deliveries/{delivery}",
    tag = "integrations",
    params(
        ("project" = String, Path, description = "Project id or slug"),
        ("delivery" = Uuid, Path, description = "The delivery's id"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The delivery", body = DeliveryView),
        (status = 400, description = "An id that is not a UUID (`request.invalid_path`), or the path names another project (`project.context_mismatch`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid context token (`context.*`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller has no role in the project (`context.role_too_low`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such delivery in this project (`delivery.not_found`)", body = doc::Problem, content_type = "application/problem+json"),
    ),
)]
#[tracing::instrument(skip_all, fields(project_id = tracing::field::Empty, delivery_id = %path.1), err(level = "info"))]
pub async fn show(
    ctx: TenantContext,
    db: web::Data<Db>,
    path: web::Path<(String, Uuid)>,
) -> Result<HttpResponse, IntegrationError> {
    let (project, id) = path.into_inner();
    let project_id = project_scope(&ctx, &project, Role::Viewer)?;
    let tx = db.tenant_tx(&ctx).await?;
    let delivery = repository::find(&tx, project_id, id)
        .await?
        .ok_or(IntegrationError::DeliveryNotFound)?;
    tx.commit().await?;
    Ok(HttpResponse::Ok().json(delivery))
}

/// `POST /v1/projects/{project}/integrations/deliveries/{delivery}/retry`.
/// Makes a dead-lettered (or waiting) delivery due now, with a fresh count
/// of attempts.
#[utoipa::path(
    post,
    path = "/v1/projects/{project}/integrations/deliveries/{delivery}/retry",
    tag = "integrations",
    params(
        ("project" = String, Path, description = "Project id or slug"),
        ("delivery" = Uuid, Path, description = "The delivery's id"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 202, description = "The delivery, due now", body = DeliveryView),
        (status = 400, description = "An id that is not a UUID (`request.invalid_path`), or the path names another project (`project.context_mismatch`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid context token (`context.*`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller's role in the project is below admin (`context.role_too_low`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such delivery in this project (`delivery.not_found`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The delivery succeeded already (`delivery.already_delivered`)", body = doc::Problem, content_type = "application/problem+json"),
    ),
)]
#[tracing::instrument(skip_all, fields(project_id = tracing::field::Empty, delivery_id = %path.1), err(level = "info"))]
pub async fn retry(
    ctx: TenantContext,
    db: web::Data<Db>,
    path: web::Path<(String, Uuid)>,
) -> Result<HttpResponse, IntegrationError> {
    let (project, id) = path.into_inner();
    let project_id = project_scope(&ctx, &project, Role::Admin)?;
    let tx = db.tenant_tx(&ctx).await?;
    if !repository::retry_now(&tx, project_id, id).await? {
        return Err(match repository::find(&tx, project_id, id).await? {
            Some(_) => IntegrationError::AlreadyDelivered,
            None => IntegrationError::DeliveryNotFound,
        });
    }
    let delivery = repository::find(&tx, project_id, id)
        .await?
        .ok_or(IntegrationError::DeliveryNotFound)?;
    tx.commit().await?;
    Ok(HttpResponse::Accepted().json(delivery))
}
