//! Who may do what to a project's memberships. Pure functions of roles, so
//! the whole matrix is unit-tested; the handlers apply them to roles read
//! (and locked) in the project's transaction.
//!
//! - Roles order viewer < member < admin < owner.
//! - Admins manage viewers, members and admins; only owners grant the
//!   owner role or change or remove an owner.
//! - A project always keeps at least one owner.

use tenant_core::Role;

use crate::error::ProjectError;

pub fn require_role(actual: Role, needed: Role) -> Result<(), ProjectError> {
    if actual >= needed {
        Ok(())
    } else {
        Err(ProjectError::RoleTooLow { needed })
    }
}

/// May `actor` add a member with `granted`?
pub fn check_grant(actor: Role, granted: Role) -> Result<(), ProjectError> {
    require_role(actor, Role::Admin)?;
    if granted == Role::Owner && actor != Role::Owner {
        return Err(ProjectError::OwnerRequired);
    }
    Ok(())
}

/// May `actor` move a member from `current` to `new` (`None`: remove them)?
/// Leaving on one's own is not a change by an actor: see [`check_leave`].
pub fn check_change(actor: Role, current: Role, new: Option<Role>) -> Result<(), ProjectError> {
    require_role(actor, Role::Admin)?;
    let touches_owner = current == Role::Owner || new == Some(Role::Owner);
    if touches_owner && actor != Role::Owner {
        return Err(ProjectError::OwnerRequired);
    }
    Ok(())
}

/// Refuses a change that would leave the project without an owner, given
/// how many owners it has now (counted under the project's lock).
pub fn check_keeps_an_owner(
    current: Role,
    new: Option<Role>,
    owners: i64,
) -> Result<(), ProjectError> {
    let loses_an_owner = current == Role::Owner && new != Some(Role::Owner);
    if loses_an_owner && owners <= 1 {
        Err(ProjectError::LastOwner)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
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
        assert!(matches!(
            check_grant(Admin, Owner),
            Err(ProjectError::OwnerRequired)
        ));
        assert!(matches!(
            check_grant(Member, Viewer),
            Err(ProjectError::RoleTooLow { needed: Admin })
        ));
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
            assert!(matches!(
                check_keeps_an_owner(Owner, new, 1),
                Err(ProjectError::LastOwner)
            ));
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
}
