//! `project-service import projects.yaml`: declarative onboarding.
//!
//! Creates or updates projects, plans and memberships (by email) so they
//! match the file, and prints every change it makes. What the file does
//! not mention is left alone: members not listed stay, and an absent
//! `description`, `plan`, `status` or setting keeps its current value.
//! Running the same file twice changes nothing the second time.
//!
//! The whole file is checked first (shape, duplicate slugs or emails,
//! unknown or disabled users, slugs held by deleted projects, new projects
//! without an owner), so a bad file changes nothing. Then each project is
//! applied in its own transaction, under the same rules as the API (the
//! last owner is never demoted).

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::Path;

use serde::Deserialize;
use tenant_core::email::Email;
use tenant_core::{Db, Role, TenantTx};
use uuid::Uuid;

use crate::auth_client::{AuthClient, DirectoryUser};
use crate::domain::{
    Description, Plan, ProjectName, ProjectSettings, ProjectSlug, ProjectStatus, SettingsPatch,
};
use crate::error::ProjectError;
use crate::member_scope::check_an_owner_remains;
use crate::repository::memberships;
use crate::repository::projects::{self, NewProject, ProjectRow};
use crate::{SPEC, Settings};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportFile {
    pub projects: Vec<ProjectSpec>,
}

/// The status a file may ask for; deleting is not declarative.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeclaredStatus {
    Active,
    Archived,
}

impl From<DeclaredStatus> for ProjectStatus {
    fn from(status: DeclaredStatus) -> Self {
        match status {
            DeclaredStatus::Active => Self::Active,
            DeclaredStatus::Archived => Self::Archived,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectSpec {
    pub slug: ProjectSlug,
    pub name: ProjectName,
    pub description: Option<Description>,
    pub plan: Option<Plan>,
    pub status: Option<DeclaredStatus>,
    pub settings: Option<SettingsPatch>,
    #[serde(default)]
    pub members: Vec<MemberSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberSpec {
    pub email: Email,
    pub role: Role,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read {path}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the file is not a valid project list: {0}")]
    Parse(#[from] serde_norway::Error),
    #[error("the file is refused, nothing was changed:\n  - {}", .0.join("\n  - "))]
    Invalid(Vec<String>),
    #[error("project {slug}")]
    Project {
        slug: String,
        #[source]
        source: ProjectError,
    },
    #[error("cannot write the report")]
    Output(#[from] std::io::Error),
    #[error("cannot start")]
    Startup(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// What an import did (or, in a dry run, would do).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ImportSummary {
    pub projects_created: usize,
    pub projects_updated: usize,
    pub projects_unchanged: usize,
    pub members_added: usize,
    pub members_changed: usize,
}

impl ImportSummary {
    pub fn changed_anything(&self) -> bool {
        self.projects_created + self.projects_updated + self.members_added + self.members_changed
            > 0
    }
}

/// Reads `path`, connects as the service does, and imports.
pub async fn run_file(
    settings: &Settings,
    path: &Path,
    dry_run: bool,
    out: &mut (dyn Write + Send),
) -> Result<ImportSummary, ImportError> {
    let source = std::fs::read_to_string(path).map_err(|source| ImportError::Read {
        path: path.display().to_string(),
        source,
    })?;
    let database = settings
        .database
        .as_ref()
        .ok_or_else(|| ImportError::Startup("database settings are missing".into()))?;
    let db = Db::connect(database, "project", &format!("{}-import", SPEC.name))
        .await
        .map_err(|error| ImportError::Startup(Box::new(error)))?;
    let auth = AuthClient::new(settings).map_err(|error| ImportError::Startup(Box::new(error)))?;
    let summary = import(&db, &auth, &source, dry_run, out).await;
    db.close();
    summary
}

/// Imports the YAML in `source`, writing one line per change to `out`.
pub async fn import(
    db: &Db,
    auth: &AuthClient,
    source: &str,
    dry_run: bool,
    out: &mut (dyn Write + Send),
) -> Result<ImportSummary, ImportError> {
    let file: ImportFile = serde_norway::from_str(source)?;
    check_file(&file)?;
    let directory = resolve_users(auth, &file).await?;
    let existing = check_against_registry(db, &file).await?;

    let mut summary = ImportSummary::default();
    for spec in &file.projects {
        let at = |source| ImportError::Project {
            slug: spec.slug.to_string(),
            source,
        };
        let lines = match existing.get(spec.slug.as_str()) {
            Some(project) => {
                update_project(db, project.id, spec, &directory, dry_run, &mut summary)
                    .await
                    .map_err(at)?
            }
            None => create_project(db, spec, &directory, dry_run, &mut summary)
                .await
                .map_err(at)?,
        };
        for line in lines {
            writeln!(out, "project {}: {line}", spec.slug)?;
        }
    }
    writeln!(
        out,
        "import{}: {} project(s) created, {} updated, {} unchanged; {} membership(s) added, {} changed",
        if dry_run {
            " (dry run, nothing was changed)"
        } else {
            ""
        },
        summary.projects_created,
        summary.projects_updated,
        summary.projects_unchanged,
        summary.members_added,
        summary.members_changed,
    )?;
    Ok(summary)
}

/// What can be checked in the file alone.
fn check_file(file: &ImportFile) -> Result<(), ImportError> {
    let mut problems = Vec::new();
    let mut slugs = BTreeSet::new();
    for spec in &file.projects {
        if !slugs.insert(spec.slug.as_str()) {
            problems.push(format!("project {} is listed twice", spec.slug));
        }
        let mut emails = BTreeSet::new();
        for member in &spec.members {
            if !emails.insert(member.email.as_str()) {
                problems.push(format!(
                    "project {}: {} is listed twice",
                    spec.slug, member.email
                ));
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(ImportError::Invalid(problems))
    }
}

/// Every email in the file, looked up once; unknown or disabled users are
/// all reported together.
async fn resolve_users(
    auth: &AuthClient,
    file: &ImportFile,
) -> Result<BTreeMap<Email, DirectoryUser>, ImportError> {
    let emails: BTreeSet<&Email> = file
        .projects
        .iter()
        .flat_map(|spec| spec.members.iter().map(|member| &member.email))
        .collect();
    let request_id = format!("import-{}", Uuid::now_v7());
    let mut directory = BTreeMap::new();
    let mut problems = Vec::new();
    for email in emails {
        match auth.find_user_by_email(email, &request_id).await {
            Ok(user) => {
                directory.insert(email.clone(), user);
            }
            Err(ProjectError::UnknownUser) => {
                problems.push(format!("no user has the email {email}"))
            }
            Err(ProjectError::UserDisabled) => {
                problems.push(format!("the user {email} is disabled"))
            }
            Err(other) => {
                return Err(ImportError::Project {
                    slug: "(looking up users)".into(),
                    source: other,
                });
            }
        }
    }
    if problems.is_empty() {
        Ok(directory)
    } else {
        Err(ImportError::Invalid(problems))
    }
}

/// The file's projects that exist already, by slug; refuses slugs held by
/// deleted projects and new projects without an owner.
async fn check_against_registry(
    db: &Db,
    file: &ImportFile,
) -> Result<BTreeMap<String, ProjectRow>, ImportError> {
    let lookup = |source| ImportError::Project {
        slug: "(reading the registry)".into(),
        source,
    };
    let tx = db
        .unscoped_tx()
        .await
        .map_err(|error| lookup(error.into()))?;
    let mut existing = BTreeMap::new();
    let mut problems = Vec::new();
    for spec in &file.projects {
        match projects::find_by_slug_any_status(&tx, &spec.slug)
            .await
            .map_err(lookup)?
        {
            Some(project) if project.status == ProjectStatus::Deleted => problems.push(format!(
                "project {}: the slug belongs to a deleted project",
                spec.slug
            )),
            Some(project) => {
                existing.insert(spec.slug.to_string(), project);
            }
            None if !spec.members.iter().any(|m| m.role == Role::Owner) => problems.push(format!(
                "project {}: a new project needs a member with the owner role",
                spec.slug
            )),
            None => {}
        }
    }
    tx.commit().await.map_err(|error| lookup(error.into()))?;
    if problems.is_empty() {
        Ok(existing)
    } else {
        Err(ImportError::Invalid(problems))
    }
}

async fn finish(tx: TenantTx, dry_run: bool) -> Result<(), ProjectError> {
    if dry_run {
        tx.rollback().await?;
    } else {
        tx.commit().await?;
    }
    Ok(())
}

async fn create_project(
    db: &Db,
    spec: &ProjectSpec,
    directory: &BTreeMap<Email, DirectoryUser>,
    dry_run: bool,
    summary: &mut ImportSummary,
) -> Result<Vec<String>, ProjectError> {
    let id = Uuid::now_v7();
    let plan = spec.plan.unwrap_or(Plan::Free);
    let settings = ProjectSettings::default().patched(&spec.settings.clone().unwrap_or_default());
    let description = spec.description.clone().unwrap_or_default();
    let tx = db.worker_tx(id).await?;
    projects::insert(
        &tx,
        &NewProject {
            id,
            slug: &spec.slug,
            name: &spec.name,
            description: &description,
            plan,
            settings: &settings,
            created_by: None,
            idempotency: None,
        },
    )
    .await?;
    let status = spec
        .status
        .map_or(ProjectStatus::Active, ProjectStatus::from);
    if status != ProjectStatus::Active {
        projects::set_status(&tx, id, status).await?;
    }
    let mut lines = vec![format!("created (plan {plan}, status {status})")];
    for member in &spec.members {
        let user = known_user(directory, &member.email)?;
        memberships::insert(&tx, id, user.id, member.role).await?;
        lines.push(format!("added {} as {}", member.email, member.role));
        summary.members_added += 1;
    }
    finish(tx, dry_run).await?;
    summary.projects_created += 1;
    Ok(lines)
}

async fn update_project(
    db: &Db,
    id: Uuid,
    spec: &ProjectSpec,
    directory: &BTreeMap<Email, DirectoryUser>,
    dry_run: bool,
    summary: &mut ImportSummary,
) -> Result<Vec<String>, ProjectError> {
    let tx = db.worker_tx(id).await?;
    let project = projects::lock(&tx, id)
        .await?
        .ok_or(ProjectError::NotFound)?;
    let mut lines = Vec::new();

    let description = spec
        .description
        .clone()
        .map_or_else(|| Description::parse(&project.description), Ok)?;
    let settings = match &spec.settings {
        Some(patch) => project.settings.patched(patch),
        None => project.settings.clone(),
    };
    let mut changed_fields = Vec::new();
    if spec.name.as_str() != project.name {
        changed_fields.push(format!(
            "name {:?} -> {:?}",
            project.name,
            spec.name.as_str()
        ));
    }
    if description.as_str() != project.description {
        changed_fields.push("description".to_owned());
    }
    if settings != project.settings {
        changed_fields.push("settings".to_owned());
    }
    if !changed_fields.is_empty() {
        projects::update_details(&tx, id, &spec.name, &description, &settings).await?;
    }
    if let Some(plan) = spec.plan.filter(|plan| *plan != project.plan) {
        projects::set_plan(&tx, id, plan).await?;
        changed_fields.push(format!("plan {} -> {plan}", project.plan));
    }
    if let Some(status) = spec
        .status
        .map(ProjectStatus::from)
        .filter(|status| *status != project.status)
    {
        projects::set_status(&tx, id, status).await?;
        changed_fields.push(format!("status {} -> {status}", project.status));
    }
    if !changed_fields.is_empty() {
        lines.push(format!("updated {}", changed_fields.join(", ")));
    }

    let mut members_touched = 0;
    for member in &spec.members {
        let user = known_user(directory, &member.email)?;
        match memberships::lock(&tx, id, user.id).await? {
            None => {
                memberships::insert(&tx, id, user.id, member.role).await?;
                lines.push(format!("added {} as {}", member.email, member.role));
                summary.members_added += 1;
                members_touched += 1;
            }
            Some(current) if current.role != member.role => {
                check_an_owner_remains(&tx, id, current.role, Some(member.role)).await?;
                memberships::set_role(&tx, id, user.id, member.role).await?;
                lines.push(format!(
                    "changed {} from {} to {}",
                    member.email, current.role, member.role
                ));
                summary.members_changed += 1;
                members_touched += 1;
            }
            Some(_) => {}
        }
    }
    finish(tx, dry_run).await?;
    if changed_fields.is_empty() && members_touched == 0 {
        summary.projects_unchanged += 1;
        lines.push("unchanged".to_owned());
    } else {
        summary.projects_updated += 1;
    }
    Ok(lines)
}

fn known_user<'a>(
    directory: &'a BTreeMap<Email, DirectoryUser>,
    email: &Email,
) -> Result<&'a DirectoryUser, ProjectError> {
    directory.get(email).ok_or(ProjectError::UnknownUser)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_file_parses() {
        let example = include_str!("../../../deploy/projects.example.yaml");
        let file: ImportFile = serde_norway::from_str(example).unwrap();
        assert!(!file.projects.is_empty());
        check_file(&file).unwrap();
    }

    #[test]
    fn unknown_fields_and_bad_values_are_refused() {
        for source in [
            "projects: [{slug: web, name: Web, plna: team}]",
            "projects: [{slug: Web, name: Web}]",
            "projects: [{slug: web, name: Web, members: [{email: a@b.c, role: boss}]}]",
            "projects: [{slug: web, name: Web, status: deleted}]",
        ] {
            assert!(
                serde_norway::from_str::<ImportFile>(source).is_err(),
                "{source}"
            );
        }
    }

    #[test]
    fn duplicate_slugs_and_members_are_refused() {
        let file: ImportFile = serde_norway::from_str(
            "projects:
               - {slug: web, name: Web, members: [{email: a@b.c, role: owner}, {email: A@b.c, role: viewer}]}
               - {slug: web, name: Web again}",
        )
        .unwrap();
        let ImportError::Invalid(problems) = check_file(&file).unwrap_err() else {
            panic!("not refused as invalid");
        };
        assert_eq!(problems.len(), 2, "{problems:?}");
    }
}
