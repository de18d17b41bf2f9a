//! Triage of failure groups: status, assignee, comments and the activity
//! log, and the regressions uploads detect.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// Longest comment body, in characters (the table checks it too).
pub const MAX_COMMENT_CHARS: usize = 10_000;

/// Where a group stands in triage. `resolved` groups reopen as `open`
/// when they occur again (a regression); `muted` ones stay muted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum GroupStatus {
    Open,
    Triaged,
    Resolved,
    Muted,
}

impl GroupStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Triaged => "triaged",
            Self::Resolved => "resolved",
            Self::Muted => "muted",
        }
    }
}

impl FromStr for GroupStatus {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value {
            "open" => Ok(Self::Open),
            "triaged" => Ok(Self::Triaged),
            "resolved" => Ok(Self::Resolved),
            "muted" => Ok(Self::Muted),
            other => Err(format!("`{other}` is not a group status")),
        }
    }
}

impl fmt::Display for GroupStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A group's triage state, as the triage endpoints answer it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct GroupTriage {
    pub id: Uuid,
    pub status: GroupStatus,
    /// The member looking after the group; absent when unassigned.
    pub assignee_id: Option<Uuid>,
    /// When the group last reopened because a resolved group occurred again.
    pub regressed_at: Option<DateTime<Utc>>,
    /// How often it did.
    pub regression_count: i32,
}

/// A change a member asks for: each field absent is left as it is; an
/// assignee of `Some(None)` unassigns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TriageChange {
    pub status: Option<GroupStatus>,
    pub assignee: Option<Option<Uuid>>,
}

/// One entry of a group's audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActivityKind {
    Status,
    Assignee,
    Regressed,
}

impl ActivityKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Status => "status",
            Self::Assignee => "assignee",
            Self::Regressed => "regressed",
        }
    }
}

/// A triage change to record: what changed, from what to what, by whom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivityEntry {
    pub kind: ActivityKind,
    pub old_value: Option<String>,
    pub new_value: Option<String>,
}

impl TriageChange {
    /// The audit entries this change makes to `before`: only what differs.
    pub fn activity(&self, before: &GroupTriage) -> Vec<ActivityEntry> {
        let mut entries = Vec::new();
        if let Some(status) = self.status
            && status != before.status
        {
            entries.push(ActivityEntry {
                kind: ActivityKind::Status,
                old_value: Some(before.status.as_str().to_owned()),
                new_value: Some(status.as_str().to_owned()),
            });
        }
        if let Some(assignee) = self.assignee
            && assignee != before.assignee_id
        {
            entries.push(ActivityEntry {
                kind: ActivityKind::Assignee,
                old_value: before.assignee_id.map(|id| id.to_string()),
                new_value: assignee.map(|id| id.to_string()),
            });
        }
        entries
    }
}

/// One stored entry of a group's audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Activity {
    /// `status`, `assignee` or `regressed`.
    pub kind: String,
    /// The member who made the change; absent for a regression.
    pub actor_id: Option<Uuid>,
    pub old_value: Option<String>,
    pub new_value: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// A comment on a group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Comment {
    pub id: Uuid,
    pub group_id: Uuid,
    pub author_id: Uuid,
    pub body: String,
    pub created_at: DateTime<Utc>,
}

/// A comment body: 1 to [`MAX_COMMENT_CHARS`] characters, not blank.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommentBody(String);

impl CommentBody {
    pub fn parse(body: String) -> Result<Self, String> {
        if body.trim().is_empty() {
            return Err("must not be blank".to_owned());
        }
        if body.chars().count() > MAX_COMMENT_CHARS {
            return Err(format!("is longer than {MAX_COMMENT_CHARS} characters"));
        }
        if body.contains('\0') {
            return Err("must not contain NUL".to_owned());
        }
        Ok(Self(body))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_differs_is_logged() {
        let member = Uuid::now_v7();
        let before = GroupTriage {
            id: Uuid::now_v7(),
            status: GroupStatus::Open,
            assignee_id: Some(member),
            regressed_at: None,
            regression_count: 0,
        };
        let same = TriageChange {
            status: Some(GroupStatus::Open),
            assignee: Some(Some(member)),
        };
        assert!(same.activity(&before).is_empty());
        let change = TriageChange {
            status: Some(GroupStatus::Resolved),
            assignee: Some(None),
        };
        let entries = change.activity(&before);
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].new_value.as_deref(), Some("resolved"));
        assert_eq!(entries[1].old_value, Some(member.to_string()));
        assert_eq!(entries[1].new_value, None);
    }

    #[test]
    fn comment_bodies_are_bounded() {
        assert!(CommentBody::parse("looks like the DNS".into()).is_ok());
        assert!(CommentBody::parse("   ".into()).is_err());
        assert!(CommentBody::parse("x".repeat(MAX_COMMENT_CHARS + 1)).is_err());
    }
}
