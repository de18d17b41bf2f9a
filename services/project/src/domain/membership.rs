//! Who may do what to a project's memberships. Pure functions of roles, so
//! the whole matrix is unit-tested; the handlers and the import apply them
//! to roles read (and locked) in the project's transaction.
//!
//! - Roles order viewer < member < admin < owner.
//! - Admins manage viewers, members and admins; only owners grant the
//!   owner role or change or remove an owner.
//! - A project always keeps at least one owner.

use tenant_core::Role;
use uuid::Uuid;

/// `{member}` in a member path: a user id, or `me` for the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberRef {
    Me,
    User(Uuid),
}

impl MemberRef {
    pub fn parse(value: &str) -> Option<Self> {
        if value == "me" {
            return Some(Self::Me);
        }
        Uuid::parse_str(value).ok().map(Self::User)
    }
}

/// A change the rules forbid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("this operation needs the {needed} role or higher")]
    RoleTooLow { needed: Role },
    #[error("only owners grant, change or remove the owner role")]
    OwnerRequired,
    #[error("a project needs at least one owner")]
    LastOwner,
}

pub fn require_role(actual: Role, needed: Role) -> Result<(), Refusal> {
    if actual >= needed {
        Ok(())
    } else {
        Err(Refusal::RoleTooLow { needed })
    }
}

/// May `actor` add a member with `granted`?
pub fn check_grant(actor: Role, granted: Role) -> Result<(), Refusal> {
    require_role(actor, Role::Admin)?;
    if granted == Role::Owner && actor != Role::Owner {
        return Err(Refusal::OwnerRequired);
    }
    Ok(())
}

/// May `actor` move a member from `current` to `new` (`None`: remove them)?
/// Leaving on one's own is not a change by an actor; only
/// [`check_keeps_an_owner`] applies to it.
pub fn check_change(actor: Role, current: Role, new: Option<Role>) -> Result<(), Refusal> {
    require_role(actor, Role::Admin)?;
    let touches_owner = current == Role::Owner || new == Some(Role::Owner);
    if touches_owner && actor != Role::Owner {
        return Err(Refusal::OwnerRequired);
    }
    Ok(())
}

/// Whether moving a member from `current` to `new` takes an owner away,
/// so the owners must be counted first.
pub fn loses_an_owner(current: Role, new: Option<Role>) -> bool {
    current == Role::Owner && new != Some(Role::Owner)
}

/// Refuses a change that would leave the project without an owner, given
/// how many owners it has now (counted under the project's lock).
pub fn check_keeps_an_owner(current: Role, new: Option<Role>, owners: i64) -> Result<(), Refusal> {
    if loses_an_owner(current, new) && owners <= 1 {
        Err(Refusal::LastOwner)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use tenant_core::email::Email;

    use super::*;
    use Role::{Admin, Member, Owner, Viewer};

    const ROLES: [Role; 4] = [Viewer, Member, Admin, Owner];

    #[test]
    fn only_admins_and_owners_add_members_and_only_owners_add_owners() {
        for actor in ROLES {
            for granted in ROLES {
                let allowed = match granted {
                    Owner => actor == Owner,
                    _ => actor >= Admin,
                };
                assert_eq!(
                    check_grant(actor, granted).is_ok(),
                    allowed,
                    "{actor} granting {granted}"
                );
            }
        }
        assert_eq!(check_grant(Admin, Owner), Err(Refusal::OwnerRequired));
        assert_eq!(
            check_grant(Member, Viewer),
            Err(Refusal::RoleTooLow { needed: Admin })
        );
    }

    #[test]
    fn changing_or_removing_an_owner_or_making_one_needs_an_owner() {
        for actor in ROLES {
            for current in ROLES {
                for new in ROLES.map(Some).into_iter().chain([None]) {
                    let touches_owner = current == Owner || new == Some(Owner);
                    let allowed = actor == Owner || (actor == Admin && !touches_owner);
                    assert_eq!(
                        check_change(actor, current, new).is_ok(),
                        allowed,
                        "{actor} moving {current} to {new:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn the_last_owner_cannot_be_demoted_removed_or_leave() {
        for new in [Some(Admin), Some(Member), Some(Viewer), None] {
            assert_eq!(check_keeps_an_owner(Owner, new, 1), Err(Refusal::LastOwner));
            assert!(check_keeps_an_owner(Owner, new, 2).is_ok());
        }
        assert!(check_keeps_an_owner(Owner, Some(Owner), 1).is_ok());
        assert!(check_keeps_an_owner(Admin, None, 1).is_ok());
        for role in [Viewer, Member, Admin] {
            assert!(
                check_keeps_an_owner(role, None, 1).is_ok(),
                "{role} leaving"
            );
        }
    }

    #[test]
    fn member_references_are_me_or_a_user_id() {
        let id = Uuid::now_v7();
        assert_eq!(MemberRef::parse("me"), Some(MemberRef::Me));
        assert_eq!(MemberRef::parse(&id.to_string()), Some(MemberRef::User(id)));
        assert_eq!(MemberRef::parse("alice"), None);
    }

    /// Members are added by email: the shared parser must hand the auth
    /// service an address the way it stores them.
    #[test]
    fn emails_are_normalized_to_lowercase() {
        assert_eq!(
            Email::parse(" Alice@Example.COM ").unwrap().as_str(),
            "alice@example.com"
        );
        for bad in ["alice", "@example.com", "alice@", "a@b@c", "a b@c.d"] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }
}
