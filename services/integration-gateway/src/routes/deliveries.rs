//! `/v1/projects/{project}/integrations/deliveries`: what went out (or
//! did not) through the project's connections, with the last error, and
//! a retry by hand for a dead-lettered delivery.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use tenant_core::pagination::{Page, PageParams, PageRequest};
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
    /// Only deliveries in this state.
    status: Option<DeliveryStatus>,
    /// Page size (default 50); above 500 counts as 500.
    #[param(value_type = Option<u64>, minimum = 1, maximum = 4_294_967_295_u64)]
    limit: Option<u32>,
    /// `next_cursor` of the previous page, as it was given.
    #[param(pattern = r"^[A-Za-z0-9_-]+$")]
    cursor: Option<String>,
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    Pending,
    Delivered,
    /// Dead-lettered: no attempt is left; retried only by hand.
    Dead,
}

impl DeliveryStatus {
    fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Dead => "dead",
        }
    }
}

/// A page of deliveries, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryPage {
    items: Vec<DeliveryView>,
    /// Pass as `cursor` for the next page; null on the last.
    next_cursor: Option<String>,
}

/// `GET /v1/projects/{project}/integrations/deliveries`.
/// The project's deliveries, newest first, with each one's last error.
#[utoipa::path(
    get,
    path = "/v1/projects/{project}/integrations/deliveries",
    tag = "integrations",
    params(("project" = String, Path, description = "Project id or slug"), DeliveryQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of deliveries, newest first", body = DeliveryPage),
        (status = 400, description = "Invalid query (`request.invalid_query`, `pagination.*`), or the path names another project (`project.context_mismatch`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid context token (`context.*`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller has no role in the project (`context.role_too_low`)", body = doc::Problem, content_type = "application/problem+json"),
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
    let page = PageRequest::<Uuid>::from_params(&PageParams {
        limit: query.limit,
        cursor: query.cursor,
    })?;
    let status = query.status.map(DeliveryStatus::as_str);
    let tx = db.tenant_tx(&ctx).await?;
    let rows = repository::list(&tx, project_id, status, page.after, page.fetch_limit()).await?;
    tx.commit().await?;
    let Page { items, next_cursor } = Page::from_rows(rows, page.limit, |d| d.id);
    Ok(HttpResponse::Ok().json(DeliveryPage { items, next_cursor }))
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
