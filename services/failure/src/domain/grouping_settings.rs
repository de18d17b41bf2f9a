//! A project's grouping settings: the package or path prefixes of its own
//! code and whether numbers are kept in messages. They change the
//! signatures of failures stored after the change; a regroup job applies
//! them to a project's recent failures.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::signature::in_app::InAppRules;
use super::signature::normalize::NormalizeOptions;

/// Most prefixes a project may name: enough for every module of a
/// monorepo, few enough that matching them costs nothing per frame.
pub const MAX_IN_APP_PREFIXES: usize = 50;
/// Longest prefix, in characters.
pub const MAX_PREFIX_CHARS: usize = 200;

/// A project's grouping settings, as stored and answered.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct GroupingSettings {
    /// Package or path prefixes of the project's own code (`com.shop.`,
    /// `shop::`, `src/`). Empty: every frame outside well-known framework,
    /// runtime and test-runner code counts as the project's.
    #[schema(max_items = 50)]
    pub in_app_prefixes: Vec<String>,
    /// Keep numbers of any length in messages instead of masking long
    /// ones (for meaningful error codes and limits).
    pub keep_numbers: bool,
}

/// The rules a failure's signature is computed under: the project's
/// settings, or the defaults for a project without any.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupingRules {
    pub in_app: InAppRules,
    pub normalize: NormalizeOptions,
}

/// Why settings were refused: the field and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidGroupingSettings {
    pub field: String,
    pub message: String,
}

impl GroupingSettings {
    /// Checks settings as a client sent them: at most
    /// [`MAX_IN_APP_PREFIXES`] prefixes, each 1 to [`MAX_PREFIX_CHARS`]
    /// characters without whitespace or control characters. Duplicates are
    /// dropped, the order kept.
    pub fn parse(
        in_app_prefixes: Vec<String>,
        keep_numbers: bool,
    ) -> Result<Self, InvalidGroupingSettings> {
        let invalid = |field: String, message: &str| InvalidGroupingSettings {
            field,
            message: message.to_owned(),
        };
        if in_app_prefixes.len() > MAX_IN_APP_PREFIXES {
            return Err(invalid(
                "in_app_prefixes".to_owned(),
                &format!("holds more than {MAX_IN_APP_PREFIXES} prefixes"),
            ));
        }
        let mut prefixes: Vec<String> = Vec::with_capacity(in_app_prefixes.len());
        for (index, prefix) in in_app_prefixes.into_iter().enumerate() {
            let field = format!("in_app_prefixes[{index}]");
            let chars = prefix.chars().count();
            if chars == 0 {
                return Err(invalid(field, "must not be empty"));
            }
            if chars > MAX_PREFIX_CHARS {
                return Err(invalid(
                    field,
                    &format!("is longer than {MAX_PREFIX_CHARS} characters"),
                ));
            }
            if prefix.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(invalid(
                    field,
                    "must not hold whitespace or control characters",
                ));
            }
            if !prefixes.contains(&prefix) {
                prefixes.push(prefix);
            }
        }
        Ok(Self {
            in_app_prefixes: prefixes,
            keep_numbers,
        })
    }

    /// The rules signatures are computed under with these settings.
    pub fn rules(&self) -> GroupingRules {
        GroupingRules {
            in_app: InAppRules {
                prefixes: self.in_app_prefixes.clone(),
            },
            normalize: NormalizeOptions {
                keep_numbers: self.keep_numbers,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_bounded_and_duplicates_dropped() {
        let ok = GroupingSettings::parse(
            vec!["com.shop.".into(), "src/".into(), "com.shop.".into()],
            true,
        )
        .unwrap();
        assert_eq!(ok.in_app_prefixes, vec!["com.shop.", "src/"]);
        assert!(ok.rules().normalize.keep_numbers);
        let refused = [
            vec![String::new()],
            vec!["a b".into()],
            vec!["x".repeat(MAX_PREFIX_CHARS + 1)],
            vec!["p".into(); MAX_IN_APP_PREFIXES + 1],
        ];
        for prefixes in refused {
            assert!(
                GroupingSettings::parse(prefixes.clone(), false).is_err(),
                "{prefixes:?}"
            );
        }
        assert!(GroupingSettings::parse(vec!["x".repeat(MAX_PREFIX_CHARS)], false).is_ok());
    }
}
