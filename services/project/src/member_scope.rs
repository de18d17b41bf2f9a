//! A request's project as this service sees it.
//!
//! The gateway resolves `{project}` and puts a project and role in the
//! context, but this service is the authority on membership: it resolves
//! the path itself, reads the caller's role from its own tables and never
//! trusts the role in the context. A caller who is not a member gets the
//! same `project.not_found` as for a project that does not exist.

use tenant_core::{Db, ProjectAccess, Role, TenantContext, TenantTx};
use uuid::Uuid;

use crate::domain::ProjectRef;
use crate::domain::membership::{self, loses_an_owner};
use crate::error::ProjectError;
use crate::repository::memberships;
use crate::repository::projects::{self, ProjectRow};

/// The caller's membership of the project named in the path.
#[derive(Debug)]
pub struct MemberScope {
    pub project: ProjectRow,
    pub role: Role,
    pub user: Uuid,
    /// The caller's context, confined to this project with the role read
    /// here: what the project's transactions are opened with.
    context: TenantContext,
}

impl MemberScope {
    /// Resolves `raw` (an id or a slug) to a project the calling user is a
    /// member of, with one query in the user's own scope. Records the
    /// project's id in the current span's `project_id`.
    pub async fn resolve(db: &Db, ctx: &TenantContext, raw: &str) -> Result<Self, ProjectError> {
        let user = ctx.require_user()?;
        let project_ref = ProjectRef::parse(raw).ok_or(ProjectError::NotFound)?;
        let tx = db.user_tx(user).await?;
        let found = projects::find_for_member(&tx, user, &project_ref).await?;
        tx.commit().await?;
        let (project, role) = found.ok_or(ProjectError::NotFound)?;
        check_context_project(ctx, project.id)?;
        tracing::Span::current().record("project_id", tracing::field::display(project.id));
        let context = TenantContext::new(
            ctx.principal().clone(),
            Some(ProjectAccess {
                project_id: project.id,
                role,
            }),
            ctx.request_id(),
        );
        Ok(Self {
            project,
            role,
            user,
            context,
        })
    }

    pub fn require(&self, needed: Role) -> Result<(), ProjectError> {
        Ok(membership::require_role(self.role, needed)?)
    }

    /// A transaction confined to this project, for reads.
    pub async fn read_tx(&self, db: &Db) -> Result<TenantTx, ProjectError> {
        Ok(db.tenant_tx(&self.context).await?)
    }

    /// A transaction confined to this project for a change: the project row
    /// is locked (serializing lifecycle and membership changes, so the
    /// last-owner count cannot race) and the caller's role is read again
    /// under that lock, so the decision and the write see the same state.
    pub async fn begin_change(&self, db: &Db) -> Result<(TenantTx, Locked), ProjectError> {
        let tx = db.tenant_tx(&self.context).await?;
        let project = projects::lock(&tx, self.project.id)
            .await?
            .ok_or(ProjectError::NotFound)?;
        let member = memberships::lock(&tx, self.project.id, self.user)
            .await?
            .ok_or(ProjectError::NotFound)?;
        Ok((
            tx,
            Locked {
                project,
                role: member.role,
            },
        ))
    }
}

/// The project and the caller's role, read under the project's lock.
#[derive(Debug)]
pub struct Locked {
    pub project: ProjectRow,
    pub role: Role,
}

impl Locked {
    pub fn require(&self, needed: Role) -> Result<(), ProjectError> {
        Ok(membership::require_role(self.role, needed)?)
    }
}

/// A context that names a project must name the one in the path.
pub fn check_context_project(ctx: &TenantContext, project_id: Uuid) -> Result<(), ProjectError> {
    match ctx.project() {
        Some(access) if access.project_id != project_id => Err(ProjectError::ContextMismatch),
        _ => Ok(()),
    }
}

/// Refuses moving a member of `project` from `current` to `new` (`None`:
/// they leave or are removed) when it would leave no owner. Owners are
/// counted, under the project's lock `tx` holds, only when an owner is
/// about to stop being one.
pub async fn check_an_owner_remains(
    tx: &TenantTx,
    project: Uuid,
    current: Role,
    new: Option<Role>,
) -> Result<(), ProjectError> {
    if !loses_an_owner(current, new) {
        return Ok(());
    }
    let owners = memberships::count_owners(tx, project).await?;
    Ok(membership::check_keeps_an_owner(current, new, owners)?)
}
