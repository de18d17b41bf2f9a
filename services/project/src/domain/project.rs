//! What names and describes a project, and where it is in its life.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Invalid, invalid, parsed_text};

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
}

parsed_text!(ProjectSlug);

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

impl fmt::Display for ProjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Id(id) => id.fmt(f),
            Self::Slug(slug) => slug.fmt(f),
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
}

parsed_text!(ProjectName);

/// Free text about a project, at most 2000 characters (may be empty).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Description(String);

impl Description {
    pub fn parse(value: &str) -> Result<Self, Invalid> {
        bounded_text(value, "a description", (0, 2000), true).map(Self)
    }
}

parsed_text!(Description);

/// Where a project is in its life. Archived projects are read-only;
/// deleted ones are gone for every API (their rows wait for a purge).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(description = "A project's lifecycle state.")]
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
}
