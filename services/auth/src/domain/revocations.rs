//! What other services learn from the auth service outside a user's
//! request: the revocation feed the gateway polls, and the project
//! service's reports of members whose role changed.

use serde::{Deserialize, Serialize};
use tenant_core::Role;
use uuid::Uuid;

/// What a feed entry revoked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RevokedKind {
    Session,
    ApiKey,
}

/// One entry of the revocation feed.
#[derive(Debug, Clone, Serialize)]
pub struct Revocation {
    pub seq: i64,
    pub kind: RevokedKind,
    /// The session's or the API key's id.
    pub id: Uuid,
}

/// A slice of the revocation feed and where the feed stands.
#[derive(Debug)]
pub struct RevocationSlice {
    pub latest: i64,
    /// The caller's position could not be continued from (pruned past, or
    /// ahead of the feed as after a restore); the slice starts over.
    pub reset: bool,
    pub revocations: Vec<Revocation>,
}

impl RevocationSlice {
    /// A full slice that stops short of the feed's end: the caller asks
    /// for the next one at once.
    pub fn has_more(&self, limit: i64) -> bool {
        usize::try_from(limit).is_ok_and(|limit| self.revocations.len() == limit)
            && self
                .revocations
                .last()
                .is_some_and(|last| last.seq < self.latest)
    }
}

/// A member's access to a project as the project service saw it after its
/// change `as_of_seq`: the role, or none (removed, or the project is gone).
#[derive(Debug, Clone, Deserialize)]
pub struct MemberAccess {
    pub project_id: Uuid,
    pub user_id: Uuid,
    pub role: Option<Role>,
    pub as_of_seq: i64,
}

impl MemberAccess {
    /// Only admins and owners create API keys, and keep those they created.
    pub fn may_create_keys(&self) -> bool {
        self.role.is_some_and(|role| role >= Role::Admin)
    }

    /// Why the member's keys are revoked, for the audit trail.
    pub fn revocation_reason(&self) -> &'static str {
        if self.role.is_some() {
            "creator_demoted"
        } else {
            "creator_removed"
        }
    }
}

/// What applying a batch of member reports did.
#[derive(Debug, Default, Serialize)]
pub struct MemberAccessApplied {
    pub api_keys_revoked: usize,
}
