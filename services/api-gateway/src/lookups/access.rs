//! A caller's access to one project (its role and the project's plan
//! limits), asked of the project service and cached.

use std::borrow::Borrow;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use reqwest::StatusCode;
use serde::Deserialize;
use tenant_core::Role;
use tenant_core::client::ServiceCallError;
use uuid::Uuid;

use super::Lookups;

#[derive(Debug, Clone, Copy, Deserialize)]
pub struct PlanLimits {
    pub requests_per_minute: u32,
    pub request_burst: u32,
    pub uploads_per_minute: u32,
    pub upload_burst: u32,
}

/// A principal's access to one project.
#[derive(Debug, Clone, Deserialize)]
pub struct Access {
    pub project_id: Uuid,
    pub slug: String,
    pub status: String,
    pub role: Role,
    pub limits: PlanLimits,
    pub as_of_seq: i64,
}

/// Whose access: a user, or an API key bound to a project with a role.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AccessSubject {
    User(Uuid),
    ApiKey { project_id: Uuid, role: Role },
}

/// The access cache's key: whose access, to the project as the request
/// named it (id or slug).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct AccessKey {
    pub(super) subject: AccessSubject,
    project: String,
}

/// An access key or one borrowed from a request, so a cached answer is
/// found without building an owned key.
trait AccessKeyParts {
    fn subject(&self) -> &AccessSubject;
    fn project(&self) -> &str;
}

impl AccessKeyParts for AccessKey {
    fn subject(&self) -> &AccessSubject {
        &self.subject
    }

    fn project(&self) -> &str {
        &self.project
    }
}

impl AccessKeyParts for (&AccessSubject, &str) {
    fn subject(&self) -> &AccessSubject {
        self.0
    }

    fn project(&self) -> &str {
        self.1
    }
}

impl<'a> Borrow<dyn AccessKeyParts + 'a> for AccessKey {
    fn borrow(&self) -> &(dyn AccessKeyParts + 'a) {
        self
    }
}

// Owned and borrowed keys hash and compare alike, as `Borrow` requires.
impl Hash for dyn AccessKeyParts + '_ {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.subject().hash(state);
        self.project().hash(state);
    }
}

impl PartialEq for dyn AccessKeyParts + '_ {
    fn eq(&self, other: &Self) -> bool {
        self.subject() == other.subject() && self.project() == other.project()
    }
}

impl Eq for dyn AccessKeyParts + '_ {}

impl Hash for AccessKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        (self as &dyn AccessKeyParts).hash(state);
    }
}

/// The state of the access cache before a lookup; see the module docs.
#[derive(Debug, Clone, Copy)]
pub struct AccessTicket {
    epoch: u64,
    position: i64,
}

impl Lookups {
    /// The subject's access to `project` (id or slug); `None` when there is
    /// none (not a member, no such project, wrong project for the key).
    /// Shared: a cached answer is handed out without a copy.
    pub async fn access(
        &self,
        subject: &AccessSubject,
        project: &str,
        request_id: &str,
    ) -> Result<Option<Arc<Access>>, ServiceCallError> {
        if let Some(cached) = self.cached_access(subject, project) {
            self.access_hits.inc();
            return Ok(cached);
        }
        self.access_misses.inc();
        let ticket = self.access_ticket();
        let answer = self.ask_access(subject, project, request_id).await?;
        self.cache_access(subject, project, answer.clone(), ticket);
        Ok(answer)
    }

    /// A cached answer, while the change feed that would drop it is current.
    pub fn cached_access(
        &self,
        subject: &AccessSubject,
        project: &str,
    ) -> Option<Option<Arc<Access>>> {
        if !self.access_feed.is_current(self.feed_trusted_for) {
            return None;
        }
        self.access.get(&(subject, project) as &dyn AccessKeyParts)
    }

    /// Take this before [`Lookups::ask_access`] and hand it to
    /// [`Lookups::cache_access`] with the answer.
    pub fn access_ticket(&self) -> AccessTicket {
        AccessTicket {
            epoch: self.access_epoch.load(Ordering::SeqCst),
            position: self.access_feed.position(),
        }
    }

    /// Asks the project service, bypassing the cache.
    #[tracing::instrument(skip_all, fields(project = %project, subject = ?subject), err(level = "warn"))]
    pub async fn ask_access(
        &self,
        subject: &AccessSubject,
        project: &str,
        request_id: &str,
    ) -> Result<Option<Arc<Access>>, ServiceCallError> {
        let project_param = urlencode(project);
        let path = match subject {
            AccessSubject::User(user) => {
                format!("/internal/v1/access?user={user}&project={project_param}")
            }
            AccessSubject::ApiKey { project_id, role } => {
                format!(
                    "/internal/v1/access?api_key_project={project_id}&role={role}&project={project_param}"
                )
            }
        };
        match self
            .project
            .get_json::<Access>(&path, &self.context(request_id))
            .await
        {
            Ok(access) => Ok(Some(Arc::new(access))),
            Err(error)
                if matches!(
                    error.status(),
                    Some(StatusCode::NOT_FOUND | StatusCode::BAD_REQUEST)
                ) =>
            {
                Ok(None)
            }
            Err(error) => Err(error),
        }
    }

    /// Caches an answer obtained after `ticket` was taken, unless a change
    /// applied since may have made it stale (see the module docs).
    pub fn cache_access(
        &self,
        subject: &AccessSubject,
        project: &str,
        answer: Option<Arc<Access>>,
        ticket: AccessTicket,
    ) {
        // Computed before a change the feed had already applied.
        if answer
            .as_ref()
            .is_some_and(|access| access.as_of_seq < ticket.position)
        {
            return;
        }
        let key = AccessKey {
            subject: subject.clone(),
            project: project.to_owned(),
        };
        self.access.insert(key.clone(), answer, self.access_ttl);
        if self.access_epoch.load(Ordering::SeqCst) != ticket.epoch {
            self.access.remove(&key);
        }
    }

    /// Drops every cached access answer for `user`, so a change they just
    /// made (a project created, a member added) holds for their next
    /// request rather than after the change feed's next poll.
    pub fn forget_user(&self, user: Uuid) {
        self.access_epoch.fetch_add(1, Ordering::SeqCst);
        self.access
            .remove_where(|key, _| key.subject == AccessSubject::User(user));
    }
}

/// Percent-encodes a query value.
fn urlencode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}
