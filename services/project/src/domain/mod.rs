//! The project service's vocabulary and rules. Every value that comes from
//! outside is parsed into one of these types at the edge: a `ProjectSlug`
//! that exists is a valid slug, so nothing further in has to check again.
//! Nothing here reads the database or knows about HTTP.
//!
//! - [`project`]: what names and describes a project, and where it is in
//!   its life;
//! - [`settings`]: the per-project settings other services read;
//! - [`plan`]: commercial plans and the limits they allow;
//! - [`membership`]: who may grant, change or remove which role.
//!
//! E-mail addresses are `tenant_core::email::Email`: the auth service
//! stores what that parser accepts, and members are looked up by it.

pub mod membership;
pub mod plan;
pub mod project;
pub mod settings;

pub use membership::{MemberRef, Refusal};
pub use plan::{Plan, PlanLimits};
pub use project::{Description, ProjectName, ProjectRef, ProjectSlug, ProjectStatus};
pub use settings::{BranchName, ProjectSettings, SettingsPatch};

/// Why a value was refused; becomes the detail of a 422.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

fn invalid(message: impl Into<String>) -> Invalid {
    Invalid(message.into())
}

/// A newtype over a `String` its `parse` validated: read as text, built
/// from JSON or YAML through `parse` (`#[serde(try_from = "String")]`),
/// and written back as the text.
macro_rules! parsed_text {
    ($type:ident) => {
        impl $type {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $type {
            type Error = $crate::domain::Invalid;

            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::parse(&value)
            }
        }

        impl From<$type> for String {
            fn from(value: $type) -> Self {
                value.0
            }
        }

        impl std::fmt::Display for $type {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

use parsed_text;
