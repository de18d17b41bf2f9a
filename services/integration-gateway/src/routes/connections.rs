//! `/v1/projects/{project}/integrations/connections`: a project's
//! connections to Slack, webhook receivers, GitHub and Jira. Admins
//! manage them; every member reads them, secrets only as
//! `{configured, last_four}`.

use actix_web::{HttpResponse, web};
use serde::Serialize;
use tenant_core::json::Object;
use tenant_core::{Db, Role, TenantContext};
use utoipa::ToSchema;
use uuid::Uuid;

use super::openapi as doc;
use super::project_scope;
use crate::IntegrationState;
use crate::domain::connections::{ConnectionView, NewConnection};
use crate::error::IntegrationError;
use crate::repository::connections::{self as repository, NewConnectionRow};
use crate::secrets::SecretStore;

/// The most connections one project may have.
pub const MAX_CONNECTIONS_PER_PROJECT: i64 = 100;

/// A project's connections, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConnectionList {
    items: Vec<ConnectionView>,
}

/// `GET /v1/projects/{project}/integrations/connections`.
/// The project's connections; secrets show only whether they are set.
#[utoipa::path(
    get,
    path = "/v1/projects/{project}/integrations/connections",
    tag = "integrations",
    params(("project" = String, Path, description = "Project id or slug")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Every connection of the project (at most 100)", body = ConnectionList),
        (status = 400, description = "The path names another project (`project.context_mismatch`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid context token (`context.*`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller has no role in the project (`context.role_too_low`)", body = doc::Problem, content_type = "application/problem+json"),
    ),
)]
#[tracing::instrument(skip_all, fields(project_id = tracing::field::Empty), err(level = "info"))]
pub async fn list(
    ctx: TenantContext,
    db: web::Data<Db>,
    path: web::Path<String>,
) -> Result<HttpResponse, IntegrationError> {
    let project_id = project_scope(&ctx, &path, Role::Viewer)?;
    let tx = db.tenant_tx(&ctx).await?;
    let items = repository::list(&tx, project_id).await?;
    tx.commit().await?;
    Ok(HttpResponse::Ok().json(ConnectionList { items }))
}

/// `POST /v1/projects/{project}/integrations/connections`.
/// Creates a connection; its secrets are sealed and never shown again.
#[utoipa::path(
    post,
    path = "/v1/projects/{project}/integrations/connections",
    tag = "integrations",
    params(("project" = String, Path, description = "Project id or slug")),
    request_body = NewConnection,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The new connection", body = ConnectionView,
         headers(("location" = String, description = "`connections/{id}`"))),
        (status = 400, description = "Malformed JSON (`request.malformed_json`), or the path names another project (`project.context_mismatch`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid context token (`context.*`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller's role in the project is below admin (`context.role_too_low`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 409, description = "A connection with this name exists (`connection.name_taken`), or the project has 100 (`connection.too_many`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is too large (`request.body_too_large`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not JSON (`request.unsupported_media_type`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 422, description = "A URL that is not https or reaches a private address (`connection.url_refused`), or another invalid field (`request.invalid_body`)", body = doc::Problem, content_type = "application/problem+json"),
    ),
)]
#[tracing::instrument(skip_all, fields(project_id = tracing::field::Empty), err(level = "info"))]
pub async fn create(
    ctx: TenantContext,
    db: web::Data<Db>,
    state: web::Data<IntegrationState>,
    path: web::Path<String>,
    body: web::Json<Object<NewConnection>>,
) -> Result<HttpResponse, IntegrationError> {
    let project_id = project_scope(&ctx, &path, Role::Admin)?;
    let draft = body.into_inner().into_inner().parse()?;
    for url in &draft.urls {
        let field = match draft.kind {
            crate::domain::connections::ConnectionKind::Slack => "webhook_url",
            crate::domain::connections::ConnectionKind::Jira => "site_url",
            _ => "url",
        };
        state
            .outbound
            .check(url)
            .await
            .map_err(|reason| IntegrationError::UrlRefused { field, reason })?;
    }
    let id = Uuid::now_v7();
    let tx = db.tenant_tx(&ctx).await?;
    if repository::count(&tx, project_id).await? >= MAX_CONNECTIONS_PER_PROJECT {
        return Err(IntegrationError::TooManyConnections {
            max: MAX_CONNECTIONS_PER_PROJECT,
        });
    }
    let key = state.secrets.data_key(&tx, project_id).await?;
    let secrets = SecretStore::seal(&key, project_id, id, &draft.secrets)?;
    let row = NewConnectionRow {
        id,
        kind: draft.kind,
        name: &draft.name,
        settings: &draft.settings,
        created_by: Some(ctx.principal().id),
        secrets: &secrets,
    };
    repository::insert(&tx, project_id, &row).await?;
    let connection = repository::find(&tx, project_id, id)
        .await?
        .ok_or(IntegrationError::ConnectionNotFound)?;
    tx.commit().await?;
    tracing::info!(connection_id = %id, kind = %draft.kind, "connection created");
    Ok(HttpResponse::Created()
        .insert_header(("location", format!("connections/{id}")))
        .json(connection))
}

/// `GET /v1/projects/{project}/integrations/connections/{connection}`.
/// One connection; secrets show only whether they are set.
#[utoipa::path(
    get,
    path = "/v1/projects/{project}/integrations/connections/{connection}",
    tag = "integrations",
    params(
        ("project" = String, Path, description = "Project id or slug"),
        ("connection" = Uuid, Path, description = "The connection's id"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The connection", body = ConnectionView),
        (status = 400, description = "An id that is not a UUID (`request.invalid_path`), or the path names another project (`project.context_mismatch`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid context token (`context.*`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller has no role in the project (`context.role_too_low`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such connection in this project (`connection.not_found`)", body = doc::Problem, content_type = "application/problem+json"),
    ),
)]
#[tracing::instrument(skip_all, fields(project_id = tracing::field::Empty, connection_id = %path.1), err(level = "info"))]
pub async fn show(
    ctx: TenantContext,
    db: web::Data<Db>,
    path: web::Path<(String, Uuid)>,
) -> Result<HttpResponse, IntegrationError> {
    let (project, id) = path.into_inner();
    let project_id = project_scope(&ctx, &project, Role::Viewer)?;
    let tx = db.tenant_tx(&ctx).await?;
    let connection = repository::find(&tx, project_id, id)
        .await?
        .ok_or(IntegrationError::ConnectionNotFound)?;
    tx.commit().await?;
    Ok(HttpResponse::Ok().json(connection))
}

/// `DELETE /v1/projects/{project}/integrations/connections/{connection}`.
/// Deletes a connection with its sealed secrets, its rules and its
/// deliveries.
#[utoipa::path(
    delete,
    path = "/v1/projects/{project}/integrations/connections/{connection}",
    tag = "integrations",
    params(
        ("project" = String, Path, description = "Project id or slug"),
        ("connection" = Uuid, Path, description = "The connection's id"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "An id that is not a UUID (`request.invalid_path`), or the path names another project (`project.context_mismatch`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid context token (`context.*`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller's role in the project is below admin (`context.role_too_low`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such connection in this project (`connection.not_found`)", body = doc::Problem, content_type = "application/problem+json"),
    ),
)]
#[tracing::instrument(skip_all, fields(project_id = tracing::field::Empty, connection_id = %path.1), err(level = "info"))]
pub async fn delete(
    ctx: TenantContext,
    db: web::Data<Db>,
    path: web::Path<(String, Uuid)>,
) -> Result<HttpResponse, IntegrationError> {
    let (project, id) = path.into_inner();
    let project_id = project_scope(&ctx, &project, Role::Admin)?;
    let tx = db.tenant_tx(&ctx).await?;
    if !repository::delete(&tx, project_id, id).await? {
        return Err(IntegrationError::ConnectionNotFound);
    }
    tx.commit().await?;
    Ok(HttpResponse::NoContent().finish())
}
