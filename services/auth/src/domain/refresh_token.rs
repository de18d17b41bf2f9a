//! What presenting a refresh token leads to: rotation, refusal, or, for a
//! token already rotated, either the same successor (a client racing its
//! own rotation) or the end of its family (reuse).

use std::str::FromStr;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::user::User;
use crate::crypto::Sealed;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshTokenStatus {
    /// The family's current token.
    Active,
    /// Replaced by its successor.
    Rotated,
    Revoked,
}

#[derive(Debug, thiserror::Error)]
#[error("`{0}` is not a refresh token status")]
pub struct UnknownRefreshTokenStatus(String);

impl FromStr for RefreshTokenStatus {
    type Err = UnknownRefreshTokenStatus;

    fn from_str(status: &str) -> Result<Self, Self::Err> {
        match status {
            "active" => Ok(Self::Active),
            "rotated" => Ok(Self::Rotated),
            "revoked" => Ok(Self::Revoked),
            other => Err(UnknownRefreshTokenStatus(other.to_owned())),
        }
    }
}

/// A stored refresh token with what the rotation decision needs.
#[derive(Debug)]
pub struct RefreshToken {
    pub id: Uuid,
    pub family_id: Uuid,
    pub session_id: Uuid,
    pub status: RefreshTokenStatus,
    /// Rotated within the grace window.
    pub rotated_recently: bool,
    pub expired: bool,
    pub family_expires_at: DateTime<Utc>,
    /// The successor, sealed, kept for a client racing the rotation.
    pub successor: Option<Sealed>,
    pub session_live: bool,
    pub user: User,
}

/// What a presented refresh token leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presented {
    /// Revoked, expired, its session ended or its user disabled.
    Refused,
    /// Already rotated: a racing client or a replay.
    Replayed,
    /// The current token: it rotates.
    Rotates,
}

impl RefreshToken {
    pub fn presented(&self) -> Presented {
        if !self.session_live || self.user.disabled || self.status == RefreshTokenStatus::Revoked {
            Presented::Refused
        } else if self.status == RefreshTokenStatus::Rotated {
            Presented::Replayed
        } else if self.expired {
            Presented::Refused
        } else {
            Presented::Rotates
        }
    }

    /// A replay that is a concurrent client racing this token's rotation:
    /// the family's current token (whose parent is `current_parent`)
    /// replaced this one within the grace window.
    pub fn raced_its_rotation(&self, current_parent: Option<Uuid>) -> bool {
        current_parent == Some(self.id) && self.rotated_recently && !self.expired
    }
}
