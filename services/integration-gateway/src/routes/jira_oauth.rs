//! `/v1/projects/{project}/integrations/jira/oauth/...` and `.../jira/me`:
//! a member connects their own Jira account (OAuth 2.0 3LO with PKCE),
//! sees it (or an explicit "not connected"), syncs the issues assigned to
//! them through it, and disconnects it. Only ever the caller's own
//! connection: another member's is never read.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Duration, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use tenant_core::json::Object;
use tenant_core::{Db, Role, TenantContext};
use utoipa::ToSchema;
use uuid::Uuid;

use super::openapi as doc;
use super::project_scope;
use crate::IntegrationState;
use crate::domain::oauth::{self, STATE_TTL_SECS};
use crate::error::IntegrationError;
use crate::jira_oauth::AtlassianClient;
use crate::repository::jira_users::{self, SyncedIssue};
use crate::sealing::secret_aad;
use crate::user_jira::{fresh_access_token, seal_tokens};

/// The signed-in member in the project, and that OAuth is configured.
fn member_scope(
    ctx: &TenantContext,
    project: &str,
    state: &IntegrationState,
) -> Result<(Uuid, Uuid), IntegrationError> {
    let project_id = project_scope(ctx, project, Role::Member)?;
    let user_id = ctx.require_user()?;
    if state.settings.jira_oauth_client_id.is_empty() {
        return Err(IntegrationError::OAuthNotConfigured);
    }
    Ok((project_id, user_id))
}

/// Where to send the member's browser.
#[derive(Debug, Serialize, ToSchema)]
pub struct Authorization {
    authorize_url: String,
    state: String,
    expires_at: DateTime<Utc>,
}

/// `POST /v1/projects/{project}/integrations/jira/oauth/start`.
/// Starts connecting the caller's Jira account: a single-use `state`,
/// valid 10 minutes, bound to the caller, the project and a PKCE verifier.
#[utoipa::path(
    post,
    path = "/v1/projects/{project}/integrations/jira/oauth/start",
    tag = "integrations",
    params(("project" = String, Path, description = "Project id or slug")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The authorisation URL", body = Authorization),
        (status = 400, description = "The path names another project (`project.context_mismatch`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid context token, or not a signed-in user (`context.*`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller's role in the project is below member (`context.role_too_low`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 409, description = "No Jira OAuth app is configured (`jira_oauth.not_configured`)", body = doc::Problem, content_type = "application/problem+json"),
    ),
)]
#[tracing::instrument(skip_all, fields(project_id = tracing::field::Empty), err(level = "info"))]
pub async fn start(
    ctx: TenantContext,
    db: web::Data<Db>,
    state: web::Data<IntegrationState>,
    path: web::Path<String>,
) -> Result<HttpResponse, IntegrationError> {
    let (project_id, user_id) = member_scope(&ctx, &path, &state)?;
    let random = |_| IntegrationError::Sealing(crate::sealing::SealingError::Random);
    let flow_state = oauth::new_state().map_err(random)?;
    let verifier = oauth::new_verifier().map_err(random)?;
    let expires_at = Utc::now() + Duration::seconds(STATE_TTL_SECS);
    let tx = db.tenant_tx(&ctx).await?;
    let key = state.secrets.data_key(&tx, project_id).await?;
    let sealed = key.seal(
        &SecretString::from(verifier.clone()),
        &secret_aad(project_id, user_id, "oauth_verifier"),
    )?;
    jira_users::insert_state(
        &tx,
        project_id,
        &oauth::state_hash(&flow_state),
        user_id,
        &sealed,
        expires_at,
    )
    .await?;
    tx.commit().await?;
    let settings = &state.settings;
    let authorize_url = oauth::authorize_url(
        &settings.jira_oauth_authorize_url,
        &settings.jira_oauth_client_id,
        &settings.jira_oauth_redirect_uri,
        &flow_state,
        &oauth::challenge(&verifier),
    )
    .map_err(|e| IntegrationError::invalid("jira_oauth_authorize_url", e))?;
    Ok(HttpResponse::Ok().json(Authorization {
        authorize_url,
        state: flow_state,
        expires_at,
    }))
}

/// What Atlassian sent the browser back with.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Callback {
    code: String,
    state: String,
}

/// The caller's own Jira connection, or `not_connected`.
#[derive(Debug, Serialize, ToSchema)]
pub struct MyJira {
    /// `not_connected`, `connected` or `needs_reauth`.
    status: String,
    site_url: Option<String>,
    connected_at: Option<DateTime<Utc>>,
}

async fn my_jira(
    db: &Db,
    ctx: &TenantContext,
    project_id: Uuid,
    user_id: Uuid,
) -> Result<MyJira, IntegrationError> {
    let tx = db.tenant_tx(ctx).await?;
    let connection = jira_users::find_connection(&tx, project_id, user_id, false).await?;
    tx.commit().await?;
    Ok(match connection {
        None => MyJira {
            status: "not_connected".to_owned(),
            site_url: None,
            connected_at: None,
        },
        Some(c) => MyJira {
            status: if c.status == "active" {
                "connected".to_owned()
            } else {
                c.status
            },
            site_url: Some(c.site_url),
            connected_at: Some(c.created_at),
        },
    })
}

/// `POST /v1/projects/{project}/integrations/jira/oauth/callback`.
/// Completes the caller's authorisation: the `state` must be one the
/// caller started in this project, unused and unexpired; the code is
/// exchanged with its PKCE verifier, and the tokens are stored sealed.
#[utoipa::path(
    post,
    path = "/v1/projects/{project}/integrations/jira/oauth/callback",
    tag = "integrations",
    params(("project" = String, Path, description = "Project id or slug")),
    request_body = Callback,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Connected", body = MyJira),
        (status = 400, description = "An unknown, used, expired or another member's state (`oauth.invalid_state`), a code Atlassian refused (`oauth.exchange_failed`), malformed JSON, or the path names another project", body = doc::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid context token, or not a signed-in user (`context.*`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller's role in the project is below member (`context.role_too_low`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 409, description = "No Jira OAuth app is configured (`jira_oauth.not_configured`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is too large (`request.body_too_large`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not JSON (`request.unsupported_media_type`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is missing (`request.invalid_body`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 502, description = "Atlassian did not answer as expected (`jira.failed`)", body = doc::Problem, content_type = "application/problem+json"),
    ),
)]
#[tracing::instrument(skip_all, fields(project_id = tracing::field::Empty), err(level = "info"))]
pub async fn callback(
    ctx: TenantContext,
    db: web::Data<Db>,
    state: web::Data<IntegrationState>,
    path: web::Path<String>,
    body: web::Json<Object<Callback>>,
) -> Result<HttpResponse, IntegrationError> {
    let (project_id, user_id) = member_scope(&ctx, &path, &state)?;
    let body = body.into_inner().into_inner();
    let hash = oauth::state_hash(&body.state);
    // The state is spent in its own transaction, whatever happens next.
    let tx = db.tenant_tx(&ctx).await?;
    let stored = jira_users::lock_state(&tx, project_id, &hash)
        .await?
        .ok_or(IntegrationError::InvalidState("unknown"))?;
    if stored.used {
        return Err(IntegrationError::InvalidState("already used"));
    }
    // Another member's state is refused without spending it: it stays
    // its owner's to complete.
    if stored.user_id != user_id {
        return Err(IntegrationError::InvalidState("another member's"));
    }
    jira_users::mark_state_used(&tx, project_id, &hash).await?;
    let key = state.secrets.data_key(&tx, project_id).await?;
    tx.commit().await?;
    if stored.expires_at <= Utc::now() {
        return Err(IntegrationError::InvalidState("expired"));
    }
    let verifier = key
        .open(
            &stored.verifier_sealed,
            &secret_aad(project_id, user_id, "oauth_verifier"),
        )
        .map_err(|_| IntegrationError::InvalidState("not bound to this flow"))?;
    let client = AtlassianClient::new(&state.outbound, &state.settings);
    let tokens = client
        .exchange_code(&body.code, verifier.expose_secret())
        .await
        .map_err(IntegrationError::OAuth)?;
    let site = client
        .first_site(&tokens.access_token)
        .await
        .map_err(IntegrationError::OAuth)?;
    state
        .outbound
        .check(&site.url)
        .await
        .map_err(|reason| IntegrationError::UrlRefused {
            field: "site_url",
            reason,
        })?;
    let sealed = seal_tokens(&key, project_id, user_id, &tokens)?;
    let tx = db.tenant_tx(&ctx).await?;
    jira_users::upsert_connection(&tx, project_id, user_id, &site.cloud_id, &site.url, &sealed)
        .await?;
    tx.commit().await?;
    tracing::info!(%project_id, "member connected a Jira account");
    Ok(HttpResponse::Ok().json(my_jira(&db, &ctx, project_id, user_id).await?))
}

/// `GET /v1/projects/{project}/integrations/jira/me`.
#[utoipa::path(
    get,
    path = "/v1/projects/{project}/integrations/jira/me",
    tag = "integrations",
    params(("project" = String, Path, description = "Project id or slug")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller's own Jira connection, or `not_connected`", body = MyJira),
        (status = 400, description = "The path names another project (`project.context_mismatch`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid context token, or not a signed-in user (`context.*`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller's role in the project is below member (`context.role_too_low`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 409, description = "No Jira OAuth app is configured (`jira_oauth.not_configured`)", body = doc::Problem, content_type = "application/problem+json"),
    ),
)]
#[tracing::instrument(skip_all, fields(project_id = tracing::field::Empty), err(level = "info"))]
pub async fn show(
    ctx: TenantContext,
    db: web::Data<Db>,
    state: web::Data<IntegrationState>,
    path: web::Path<String>,
) -> Result<HttpResponse, IntegrationError> {
    let (project_id, user_id) = member_scope(&ctx, &path, &state)?;
    Ok(HttpResponse::Ok().json(my_jira(&db, &ctx, project_id, user_id).await?))
}

/// `DELETE /v1/projects/{project}/integrations/jira/me`.
/// Disconnects the caller's Jira account: its tokens and everything synced
/// through it are deleted; other members' connections stay.
#[utoipa::path(
    delete,
    path = "/v1/projects/{project}/integrations/jira/me",
    tag = "integrations",
    params(("project" = String, Path, description = "Project id or slug")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Disconnected (or was not connected)"),
        (status = 400, description = "The path names another project (`project.context_mismatch`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid context token, or not a signed-in user (`context.*`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller's role in the project is below member (`context.role_too_low`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 409, description = "No Jira OAuth app is configured (`jira_oauth.not_configured`)", body = doc::Problem, content_type = "application/problem+json"),
    ),
)]
#[tracing::instrument(skip_all, fields(project_id = tracing::field::Empty), err(level = "info"))]
pub async fn disconnect(
    ctx: TenantContext,
    db: web::Data<Db>,
    state: web::Data<IntegrationState>,
    path: web::Path<String>,
) -> Result<HttpResponse, IntegrationError> {
    let (project_id, user_id) = member_scope(&ctx, &path, &state)?;
    let tx = db.tenant_tx(&ctx).await?;
    jira_users::delete_connection(&tx, project_id, user_id).await?;
    tx.commit().await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The caller's synced Jira issues.
#[derive(Debug, Serialize, ToSchema)]
pub struct MyIssues {
    /// `not_connected`, `connected` or `needs_reauth`.
    status: String,
    items: Vec<SyncedIssue>,
}

/// `GET /v1/projects/{project}/integrations/jira/me/issues`.
/// The issues last synced through the caller's own connection.
#[utoipa::path(
    get,
    path = "/v1/projects/{project}/integrations/jira/me/issues",
    tag = "integrations",
    params(("project" = String, Path, description = "Project id or slug")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller's synced issues (none when not connected)", body = MyIssues),
        (status = 400, description = "The path names another project (`project.context_mismatch`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid context token, or not a signed-in user (`context.*`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller's role in the project is below member (`context.role_too_low`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 409, description = "No Jira OAuth app is configured (`jira_oauth.not_configured`)", body = doc::Problem, content_type = "application/problem+json"),
    ),
)]
#[tracing::instrument(skip_all, fields(project_id = tracing::field::Empty), err(level = "info"))]
pub async fn issues(
    ctx: TenantContext,
    db: web::Data<Db>,
    state: web::Data<IntegrationState>,
    path: web::Path<String>,
) -> Result<HttpResponse, IntegrationError> {
    let (project_id, user_id) = member_scope(&ctx, &path, &state)?;
    let me = my_jira(&db, &ctx, project_id, user_id).await?;
    let tx = db.tenant_tx(&ctx).await?;
    let items = jira_users::list_issues(&tx, project_id, user_id).await?;
    tx.commit().await?;
    Ok(HttpResponse::Ok().json(MyIssues {
        status: me.status,
        items,
    }))
}

/// `POST /v1/projects/{project}/integrations/jira/me/sync`.
/// Reads the issues assigned to the caller through their own connection
/// (refreshing its tokens first when needed) and keeps them.
#[utoipa::path(
    post,
    path = "/v1/projects/{project}/integrations/jira/me/sync",
    tag = "integrations",
    params(("project" = String, Path, description = "Project id or slug")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller's synced issues", body = MyIssues),
        (status = 400, description = "The path names another project (`project.context_mismatch`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid context token, or not a signed-in user (`context.*`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller's role in the project is below member (`context.role_too_low`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not connected (`jira.not_connected`), the connection must be authorised again (`jira.needs_reauth`), or no OAuth app (`jira_oauth.not_configured`)", body = doc::Problem, content_type = "application/problem+json"),
        (status = 502, description = "Atlassian did not answer as expected (`jira.failed`)", body = doc::Problem, content_type = "application/problem+json"),
    ),
)]
#[tracing::instrument(skip_all, fields(project_id = tracing::field::Empty), err(level = "info"))]
pub async fn sync(
    ctx: TenantContext,
    db: web::Data<Db>,
    state: web::Data<IntegrationState>,
    path: web::Path<String>,
) -> Result<HttpResponse, IntegrationError> {
    let (project_id, user_id) = member_scope(&ctx, &path, &state)?;
    let (connection, access) = fresh_access_token(&db, &ctx, &state, project_id, user_id).await?;
    let client = AtlassianClient::new(&state.outbound, &state.settings);
    let found = client
        .my_issues(&connection.cloud_id, &access)
        .await
        .map_err(IntegrationError::OAuth)?;
    let tx = db.tenant_tx(&ctx).await?;
    // Disconnected meanwhile: nothing is kept.
    if jira_users::find_connection(&tx, project_id, user_id, true)
        .await?
        .is_none()
    {
        return Err(IntegrationError::NotConnected);
    }
    jira_users::replace_issues(&tx, project_id, user_id, &found).await?;
    let items = jira_users::list_issues(&tx, project_id, user_id).await?;
    tx.commit().await?;
    Ok(HttpResponse::Ok().json(MyIssues {
        status: "connected".to_owned(),
        items,
    }))
}
