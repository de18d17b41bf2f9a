//! Polling the two feeds that keep the caches right: the project
//! service's access changes and the auth service's revocations, each read
//! to its end on every poll.

use std::collections::HashSet;
use std::sync::atomic::Ordering;

use serde::Deserialize;
use tenant_core::client::ServiceCallError;
use uuid::Uuid;

use super::{AccessSubject, Backends, LONGEST_TOKEN_LIFE};

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum RevokedKind {
    Session,
    ApiKey,
}

#[derive(Deserialize)]
struct Revocation {
    seq: i64,
    kind: RevokedKind,
    id: Uuid,
}

#[derive(Deserialize)]
struct RevocationPage {
    revocations: Vec<Revocation>,
    latest: i64,
    has_more: bool,
    reset: bool,
}

#[derive(Deserialize)]
struct AccessChange {
    seq: i64,
    project_id: Uuid,
    user_id: Option<Uuid>,
}

#[derive(Deserialize)]
struct AccessChangePage {
    changes: Vec<AccessChange>,
    latest: i64,
    has_more: bool,
    reset: bool,
}

impl Backends {
    /// One poll of both feeds, each read to its end; errors are logged and
    /// retried next time.
    pub async fn poll_feeds(&self) {
        if let Err(error) = self.poll_access_changes().await {
            tracing::warn!(error = %tenant_core::error::error_chain(&error), "access change feed unavailable");
        }
        if let Err(error) = self.poll_revocations().await {
            tracing::warn!(error = %tenant_core::error::error_chain(&error), "revocation feed unavailable");
        }
    }

    async fn poll_access_changes(&self) -> Result<(), ServiceCallError> {
        loop {
            let after = self.access_feed.position();
            let path = if after < 0 {
                "/internal/v1/access/changes".to_owned()
            } else {
                format!("/internal/v1/access/changes?after={after}")
            };
            let page: AccessChangePage = self
                .project
                .get_json(&path, &self.context("access-feed"))
                .await?;
            if after < 0 || page.reset {
                self.access_epoch.fetch_add(1, Ordering::SeqCst);
                self.access.clear();
            } else if !page.changes.is_empty() {
                // The epoch moves before the drop (see the module docs).
                self.access_epoch.fetch_add(1, Ordering::SeqCst);
                for change in &page.changes {
                    self.access.remove_where(|(subject, _), access| {
                        let project_matches = access
                            .as_ref()
                            .is_some_and(|a| a.project_id == change.project_id);
                        let user_matches = match (subject, change.user_id) {
                            (AccessSubject::User(user), Some(changed)) => *user == changed,
                            (AccessSubject::ApiKey { project_id, .. }, _) => {
                                *project_id == change.project_id
                            }
                            (_, None) => true,
                        };
                        // Negative answers may turn positive (a new member): drop them for the user too.
                        (project_matches || access.is_none()) && user_matches
                    });
                }
            }
            let newest = page.changes.last().map_or(page.latest, |c| c.seq);
            self.access_feed
                .advance(if page.has_more { newest } else { page.latest });
            if !page.has_more {
                self.access_feed.mark_read();
                return Ok(());
            }
        }
    }

    async fn poll_revocations(&self) -> Result<(), ServiceCallError> {
        loop {
            let after = self.revocation_feed.position();
            let path = if after < 0 {
                "/internal/v1/revocations".to_owned()
            } else {
                format!("/internal/v1/revocations?after={after}")
            };
            let page: RevocationPage = self
                .auth
                .get_json(&path, &self.context("revocation-feed"))
                .await?;
            let mut revoked_keys = HashSet::new();
            for revocation in &page.revocations {
                match revocation.kind {
                    RevokedKind::Session => {
                        self.revoked_sessions
                            .insert(revocation.id, (), LONGEST_TOKEN_LIFE);
                    }
                    RevokedKind::ApiKey => {
                        revoked_keys.insert(revocation.id);
                    }
                }
            }
            if page.reset {
                // Revocations were missed: no cached key can be vouched for.
                self.api_key_epoch.fetch_add(1, Ordering::SeqCst);
                self.api_keys.clear();
            } else if !revoked_keys.is_empty() {
                self.api_key_epoch.fetch_add(1, Ordering::SeqCst);
                self.api_keys.remove_where(|_, principal| {
                    principal
                        .as_ref()
                        .is_some_and(|p| revoked_keys.contains(&p.principal_id))
                });
            }
            let newest = page.revocations.last().map_or(page.latest, |r| r.seq);
            self.revocation_feed
                .advance(if page.has_more { newest } else { page.latest });
            if !page.has_more {
                self.revocation_feed.mark_read();
                return Ok(());
            }
        }
    }
}
