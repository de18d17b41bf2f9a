//! Polling the two feeds that keep the caches right: the project
//! service's access changes and the auth service's revocations, each read
//! to its end on every poll.

use std::collections::HashSet;
use std::sync::atomic::Ordering;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use tenant_core::client::{ServiceCallError, ServiceClient};
use uuid::Uuid;

use super::sessions::LONGEST_TOKEN_LIFE;
use super::{AccessSubject, FeedState, Lookups};

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

/// A page of a feed: where it ends and whether more follows.
trait FeedPage: DeserializeOwned {
    /// The sequence of the last entry on the page.
    fn last_seq(&self) -> Option<i64>;
    /// The newest sequence the feed has handed out.
    fn latest(&self) -> i64;
    fn has_more(&self) -> bool;
}

impl FeedPage for RevocationPage {
    fn last_seq(&self) -> Option<i64> {
        self.revocations.last().map(|r| r.seq)
    }

    fn latest(&self) -> i64 {
        self.latest
    }

    fn has_more(&self) -> bool {
        self.has_more
    }
}

impl FeedPage for AccessChangePage {
    fn last_seq(&self) -> Option<i64> {
        self.changes.last().map(|c| c.seq)
    }

    fn latest(&self) -> i64 {
        self.latest
    }

    fn has_more(&self) -> bool {
        self.has_more
    }
}

impl Lookups {
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

    /// Reads the feed at `path` of `client` from where `feed` stands to
    /// its end (as the request `request_id`), handing each page to `apply`
    /// with the position it was read after (-1 for the first read), then
    /// advancing `feed` past it.
    async fn read_to_end<P: FeedPage>(
        &self,
        feed: &FeedState,
        client: &ServiceClient,
        path: &str,
        request_id: &str,
        mut apply: impl FnMut(&P, i64),
    ) -> Result<(), ServiceCallError> {
        let context = self.context(request_id);
        loop {
            let after = feed.position();
            let page: P = if after < 0 {
                client.get_json(path, &context).await?
            } else {
                client
                    .get_json(&format!("{path}?after={after}"), &context)
                    .await?
            };
            apply(&page, after);
            let newest = page.last_seq().unwrap_or(page.latest());
            feed.advance(if page.has_more() {
                newest
            } else {
                page.latest()
            });
            if !page.has_more() {
                feed.mark_read();
                return Ok(());
            }
        }
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn poll_access_changes(&self) -> Result<(), ServiceCallError> {
        self.read_to_end(
            &self.access_feed,
            &self.project,
            "/internal/v1/access/changes",
            "access-feed",
            |page: &AccessChangePage, after| {
                if after < 0 || page.reset {
                    self.access_epoch.fetch_add(1, Ordering::SeqCst);
                    self.access.clear();
                } else if !page.changes.is_empty() {
                    // The epoch moves before the drop (see the module docs).
                    self.access_epoch.fetch_add(1, Ordering::SeqCst);
                    for change in &page.changes {
                        self.access.remove_where(|key, access| {
                            let project_matches = access
                                .as_ref()
                                .is_some_and(|a| a.project_id == change.project_id);
                            let user_matches = match (&key.subject, change.user_id) {
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
            },
        )
        .await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn poll_revocations(&self) -> Result<(), ServiceCallError> {
        self.read_to_end(
            &self.revocation_feed,
            &self.auth,
            "/internal/v1/revocations",
            "revocation-feed",
            |page: &RevocationPage, _| {
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
            },
        )
        .await
    }
}
