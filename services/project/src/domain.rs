//! The project service's vocabulary. Every value that comes from outside is
//! parsed into one of these types at the edge: a `ProjectSlug` that exists
//! is a valid slug, so nothing further in has to check again.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Why a value was refused; becomes the detail of a 422.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

fn invalid(message: impl Into<String>) -> Invalid {
    Invalid(message.into())
}

/// A project's URL name: `^[a-z0-9][a-z0-9-]{1,62}$`, and never something
/// that reads as a UUID, because `{project}` in a path is either.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ProjectSlug(String);

impl ProjectSlug {
    pub fn parse(value: &str) -> Result<Self, Invalid> {
        let bytes = value.as_bytes();
        let well_formed = (2..=63).contains(&bytes.len())
            && bytes
                .first()
                .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            && bytes
                .iter()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-');
        if !well_formed {
            return Err(invalid(
                "a slug is 2 to 63 characters of a-z, 0-9 and '-', starting with a letter or digit",
            ));
        }
        if Uuid::parse_str(value).is_ok() {
            return Err(invalid(
                "a slug cannot look like a UUID: paths accept either",
            ));
        }
        Ok(Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ProjectSlug {
    type Error = Invalid;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<ProjectSlug> for String {
    fn from(slug: ProjectSlug) -> Self {
        slug.0
    }
}

impl fmt::Display for ProjectSlug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `{project}` in a path or query: an id or a slug. Anything else names no
/// project at all, which callers answer with the same 404 as a missing one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProjectRef {
    Id(Uuid),
    Slug(ProjectSlug),
}

impl ProjectRef {
    pub fn parse(value: &str) -> Option<Self> {
        if let Ok(id) = Uuid::parse_str(value) {
            return Some(Self::Id(id));
        }
        ProjectSlug::parse(value).ok().map(Self::Slug)
    }

    /// Whether this names the project with `id` and `slug`.
    pub fn matches(&self, id: Uuid, slug: &str) -> bool {
        match self {
            Self::Id(own) => *own == id,
            Self::Slug(own) => own.as_str() == slug,
        }
    }
}

/// Trims, then requires `min..=max` characters and no control characters
/// (other than line breaks and tabs where `multiline`).
fn bounded_text(
    value: &str,
    what: &str,
    (min, max): (usize, usize),
    multiline: bool,
) -> Result<String, Invalid> {
    let trimmed = value.trim();
    let length = trimmed.chars().count();
    if length < min || length > max {
        return Err(invalid(format!(
            "{what} must be {min} to {max} characters long"
        )));
    }
    if trimmed
        .chars()
        .any(|c| c.is_control() && !(multiline && matches!(c, '\n' | '\r' | '\t')))
    {
        return Err(invalid(format!("{what} cannot contain control characters")));
    }
    Ok(trimmed.to_owned())
}

/// A project's display name: 1 to 100 characters, trimmed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ProjectName(String);

impl ProjectName {
    pub fn parse(value: &str) -> Result<Self, Invalid> {
        bounded_text(value, "a name", (1, 100), false).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ProjectName {
    type Error = Invalid;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<ProjectName> for String {
    fn from(name: ProjectName) -> Self {
        name.0
    }
}

/// Free text about a project, at most 2000 characters (may be empty).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Description(String);

impl Description {
    pub fn parse(value: &str) -> Result<Self, Invalid> {
        bounded_text(value, "a description", (0, 2000), true).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Description {
    type Error = Invalid;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Description> for String {
    fn from(description: Description) -> Self {
        description.0
    }
}

/// A git branch name as CI reports it: 1 to 255 characters, no whitespace
/// or control characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct BranchName(String);

impl BranchName {
    pub fn parse(value: &str) -> Result<Self, Invalid> {
        let length = value.chars().count();
        if !(1..=255).contains(&length)
            || value.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(invalid(
                "a branch name is 1 to 255 characters without spaces or control characters",
            ));
        }
        Ok(Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for BranchName {
    type Error = Invalid;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<BranchName> for String {
    fn from(branch: BranchName) -> Self {
        branch.0
    }
}

/// An email address as the auth service stores it: trimmed and lowercase.
/// Only the shape is checked; the auth service decides whether it exists.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    pub fn parse(value: &str) -> Result<Self, Invalid> {
        let normalized = value.trim().to_lowercase();
        let shaped = normalized.len() <= 254
            && normalized.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty() && !domain.is_empty() && !domain.contains('@')
            })
            && !normalized
                .chars()
                .any(|c| c.is_whitespace() || c.is_control());
        if shaped {
            Ok(Self(normalized))
        } else {
            Err(invalid(format!("`{value}` is not an email address")))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Email {
    type Error = Invalid;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Email> for String {
    fn from(email: Email) -> Self {
        email.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A project's commercial plan; it decides the limits the gateway enforces
/// and how long results are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Plan {
    Free,
    Team,
    Enterprise,
}

/// What a plan allows. Rates are for the gateway's GCRA limiter: a
/// sustained rate per minute and the burst allowed on top of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanLimits {
    pub requests_per_minute: u32,
    pub request_burst: u32,
    pub uploads_per_minute: u32,
    pub upload_burst: u32,
    pub retention_days: u32,
}

impl Plan {
    pub const ALL: [Self; 3] = [Self::Free, Self::Team, Self::Enterprise];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Free => "free",
            Self::Team => "team",
            Self::Enterprise => "enterprise",
        }
    }

    /// The limits live in code, not in a table: changing them is a reviewed
    /// deploy, and every replica agrees on them without a query.
    pub fn limits(self) -> PlanLimits {
        match self {
            Self::Free => PlanLimits {
                requests_per_minute: 300,
                request_burst: 60,
                uploads_per_minute: 10,
                upload_burst: 5,
                retention_days: 14,
            },
            Self::Team => PlanLimits {
                requests_per_minute: 1_200,
                request_burst: 200,
                uploads_per_minute: 60,
                upload_burst: 20,
                retention_days: 90,
            },
            Self::Enterprise => PlanLimits {
                requests_per_minute: 6_000,
                request_burst: 1_000,
                uploads_per_minute: 300,
                upload_burst: 100,
                retention_days: 365,
            },
        }
    }
}

impl FromStr for Plan {
    type Err = Invalid;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|plan| plan.as_str() == value)
            .ok_or_else(|| invalid(format!("`{value}` is not a plan (free, team, enterprise)")))
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a project is in its life. Archived projects are read-only;
/// deleted ones are gone for every API (their rows wait for a purge).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProjectStatus {
    Active,
    Archived,
    Deleted,
}

impl ProjectStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Archived => "archived",
            Self::Deleted => "deleted",
        }
    }
}

impl FromStr for ProjectStatus {
    type Err = Invalid;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value {
            "active" => Ok(Self::Active),
            "archived" => Ok(Self::Archived),
            "deleted" => Ok(Self::Deleted),
            other => Err(invalid(format!("`{other}` is not a project status"))),
        }
    }
}

impl fmt::Display for ProjectStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Per-project settings other services read. Stored as JSON; fields
/// missing from a stored document take their defaults and unknown ones are
/// ignored, so old and new binaries can share rows during a rollout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProjectSettings {
    /// The main line: trends and quality gates compare against it.
    pub default_branch: BranchName,
}

impl Default for ProjectSettings {
    fn default() -> Self {
        Self {
            default_branch: BranchName("main".to_owned()),
        }
    }
}

/// A change to settings from a client: only the fields given change, and an
/// unknown field is an error rather than silently dropped.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingsPatch {
    pub default_branch: Option<BranchName>,
}

impl ProjectSettings {
    pub fn patched(&self, patch: &SettingsPatch) -> Self {
        let mut settings = self.clone();
        if let Some(branch) = &patch.default_branch {
            settings.default_branch = branch.clone();
        }
        settings
    }
}

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

/// A client's `Idempotency-Key`: 1 to 255 visible ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub fn parse(value: &str) -> Result<Self, Invalid> {
        if (1..=255).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_graphic()) {
            Ok(Self(value.to_owned()))
        } else {
            Err(invalid(
                "an Idempotency-Key is 1 to 255 visible ASCII characters",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_follow_the_documented_pattern() {
        for good in ["ab", "checkout", "web-2", "0day", &"a".repeat(63)] {
            assert!(ProjectSlug::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "a",
            "-web",
            "Web",
            "web_app",
            "web app",
            "wéb",
            &"a".repeat(64),
        ] {
            assert!(ProjectSlug::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_slug_that_reads_as_a_uuid_is_refused() {
        let id = Uuid::now_v7();
        assert!(ProjectSlug::parse(&id.to_string()).is_err());
        assert!(ProjectSlug::parse(&id.simple().to_string()).is_err());
    }

    #[test]
    fn a_project_reference_is_an_id_or_a_slug_or_nothing() {
        let id = Uuid::now_v7();
        assert_eq!(ProjectRef::parse(&id.to_string()), Some(ProjectRef::Id(id)));
        assert_eq!(
            ProjectRef::parse("checkout"),
            Some(ProjectRef::Slug(ProjectSlug::parse("checkout").unwrap()))
        );
        assert_eq!(ProjectRef::parse("Not A Slug"), None);
        assert!(
            ProjectRef::parse("checkout")
                .unwrap()
                .matches(id, "checkout")
        );
        assert!(
            !ProjectRef::parse("checkout")
                .unwrap()
                .matches(id, "billing")
        );
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(
            ProjectName::parse("  Checkout ").unwrap().as_str(),
            "Checkout"
        );
        assert!(ProjectName::parse("   ").is_err());
        assert!(ProjectName::parse(&"x".repeat(101)).is_err());
        assert!(ProjectName::parse("tab\u{7}bell").is_err());
        assert!(Description::parse("line one\nline two").is_ok());
        assert!(Description::parse("").is_ok());
    }

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

    #[test]
    fn higher_plans_never_allow_less() {
        let limits = Plan::ALL.map(Plan::limits);
        for pair in limits.windows(2) {
            let (lower, higher) = (pair[0], pair[1]);
            assert!(higher.requests_per_minute > lower.requests_per_minute);
            assert!(higher.uploads_per_minute > lower.uploads_per_minute);
            assert!(higher.retention_days > lower.retention_days);
        }
        for plan in Plan::ALL {
            assert_eq!(plan.as_str().parse::<Plan>().unwrap(), plan);
        }
    }

    #[test]
    fn stored_settings_tolerate_missing_and_unknown_fields() {
        let settings: ProjectSettings =
            serde_json::from_value(serde_json::json!({ "future_field": 1 })).unwrap();
        assert_eq!(settings, ProjectSettings::default());
        let patch: Result<SettingsPatch, _> =
            serde_json::from_value(serde_json::json!({ "default_brnach": "dev" }));
        assert!(
            patch.is_err(),
            "a misspelt field must not be dropped silently"
        );
    }

    #[test]
    fn member_references_are_me_or_a_user_id() {
        let id = Uuid::now_v7();
        assert_eq!(MemberRef::parse("me"), Some(MemberRef::Me));
        assert_eq!(MemberRef::parse(&id.to_string()), Some(MemberRef::User(id)));
        assert_eq!(MemberRef::parse("alice"), None);
    }
}
