//! Per-project settings other services read, and the changes clients send.

use serde::{Deserialize, Serialize};

use super::{Invalid, invalid, parsed_text};

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
}

parsed_text!(BranchName);

impl BranchName {
    /// Where a project's main line is until someone says otherwise.
    pub fn main() -> Self {
        Self("main".to_owned())
    }
}

/// Per-project settings other services read. Stored as JSON; fields
/// missing from a stored document take their defaults (every field has a
/// `#[serde(default = ...)]`, which unlike one on the struct leaves the
/// documented schema without a `default`) and unknown ones are ignored,
/// so old and new binaries can share rows during a rollout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(description = "A project's settings.")]
pub struct ProjectSettings {
    /// The main line trends and quality gates compare against.
    #[serde(default = "BranchName::main")]
    #[schema(value_type = String, required = true)]
    pub default_branch: BranchName,
}

impl Default for ProjectSettings {
    fn default() -> Self {
        Self {
            default_branch: BranchName::main(),
        }
    }
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

/// A change to settings from a client: only the fields given change, and an
/// unknown field is an error rather than silently dropped.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(description = "Changes to a project's settings; absent fields stay as they are.")]
pub struct SettingsPatch {
    /// A branch name: 1 to 255 characters without whitespace or control
    /// characters; absent or `null`: unchanged.
    #[schema(
        value_type = Option<String>,
        pattern = r"^[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]{1,255}$"
    )]
    pub default_branch: Option<BranchName>,
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
