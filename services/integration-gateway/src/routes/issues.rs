//! What filing an issue for a failure group does the same way for every
//! tracker (Jira, GitHub): the group's row lock, the answer "already filed"
//! unless `force`, the connection of the right kind with its secret, the
//! group read from the failure service, and recording the link here and on
//! the group.

use actix_web::HttpResponse;
use actix_web::http::header;
use secrecy::SecretString;
use serde::Deserialize;
use tenant_core::TenantTx;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::IntegrationState;
use crate::domain::connections::ConnectionKind;
use crate::domain::jira::GroupForIssue;
use crate::error::IntegrationError;
use crate::repository::connections::{self, ConnectionForSending};
use crate::repository::issue_links::{self, IssueLink};
use crate::secrets::SecretStore;

/// The group to file an issue for, and through which connection.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateIssue {
    pub group_id: Uuid,
    pub connection_id: Uuid,
    /// File a new issue even when the group has one (default false).
    pub force: Option<bool>,
}

/// An issue tracker as the filing routes name it.
pub struct Tracker {
    pub kind: ConnectionKind,
    /// The link's kind, stored with it and sent to the failure service.
    pub link_kind: &'static str,
    /// The sealed secret the tracker's API is called with.
    pub secret_field: &'static str,
    /// What a connection of another kind is told it must be.
    pub wrong_kind: &'static str,
}

/// What a filing route goes on with once the group is locked.
pub enum Filing {
    /// The group has an issue of this tracker and `force` was not asked.
    AlreadyFiled(IssueLink),
    /// Everything the tracker's client needs.
    New {
        connection: ConnectionForSending,
        group: GroupForIssue,
        secret: SecretString,
    },
}

impl ConnectionForSending {
    /// A text setting of the connection, empty when it is missing.
    pub fn setting(&self, name: &str) -> String {
        self.settings
            .get(name)
            .and_then(|value| value.as_str())
            .unwrap_or_default()
            .to_owned()
    }
}

/// Locks the group (one filing per group at a time), answers an earlier
/// link unless `force`, and loads the connection, the group and the secret.
/// The transaction stays open until [`record`] so two requests for one
/// group never file twice.
pub async fn prepare(
    tx: &TenantTx,
    state: &IntegrationState,
    project_id: Uuid,
    body: &CreateIssue,
    tracker: &Tracker,
) -> Result<Filing, IntegrationError> {
    issue_links::lock_group(tx, project_id, body.group_id).await?;
    if let Some(existing) =
        issue_links::find(tx, project_id, body.group_id, tracker.link_kind).await?
        && !body.force.unwrap_or(false)
    {
        return Ok(Filing::AlreadyFiled(existing));
    }
    let connection = connections::for_sending(tx, project_id, body.connection_id)
        .await?
        .ok_or(IntegrationError::ConnectionNotFound)?;
    if connection.kind != tracker.kind {
        return Err(IntegrationError::invalid(
            "connection_id",
            tracker.wrong_kind,
        ));
    }
    let group = state
        .failure
        .group(project_id, body.group_id)
        .await
        .map_err(IntegrationError::Failure)?
        .ok_or(IntegrationError::GroupNotFound)?;
    let key = state.secrets.data_key(tx, project_id).await?;
    let secret = SecretStore::open(
        &key,
        project_id,
        connection.id,
        &connection.secrets,
        tracker.secret_field,
    )?
    .ok_or(IntegrationError::ConnectionNotFound)?;
    Ok(Filing::New {
        connection,
        group,
        secret,
    })
}

/// Stores the new link, commits, and records it on the group in the
/// failure service (a miss there is logged: the status sync records the
/// link again).
pub async fn record(
    tx: TenantTx,
    state: &IntegrationState,
    project_id: Uuid,
    tracker: &Tracker,
    issue: IssueLink,
) -> Result<HttpResponse, IntegrationError> {
    issue_links::upsert(&tx, project_id, tracker.link_kind, &issue).await?;
    tx.commit().await?;
    if let Err(error) = state
        .failure
        .record_link(
            project_id,
            issue.group_id,
            tracker.link_kind,
            &issue.issue_key,
            &issue.issue_url,
            &issue.status,
        )
        .await
    {
        tracing::warn!(error = %error, "the issue link could not be recorded on the group yet");
    }
    tracing::info!(
        group_id = %issue.group_id,
        issue = %issue.issue_key,
        tracker = tracker.link_kind,
        "issue filed"
    );
    // What was created is the issue in the tracker.
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, issue.issue_url.clone()))
        .json(issue))
}
