//! Where the server, the API key and the project come from: a flag, else
//! its `FAULTLINE_*` variable (both resolved by clap), else the config
//! file. The file is `--config` when given, else `.faultline.toml` in the
//! working directory, else `$XDG_CONFIG_HOME/faultline/config.toml`
//! (`~/.config/faultline/config.toml`); a default file that does not exist
//! is no error, a named one is.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::error::CliError;

/// An API key. Never printed: its `Debug` hides it, and only the HTTP
/// client reads it.
pub struct ApiKey(SecretString);

impl Clone for ApiKey {
    fn clone(&self) -> Self {
        Self::new(self.expose().to_owned())
    }
}

impl ApiKey {
    pub fn new(key: String) -> Self {
        Self(SecretString::from(key))
    }

    pub(crate) fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiKey(<hidden>)")
    }
}

impl std::str::FromStr for ApiKey {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let trimmed = value.trim();
        if trimmed.is_empty() {
            return Err("the API key is empty".to_owned());
        }
        Ok(Self::new(trimmed.to_owned()))
    }
}

/// What the global flags and variables gave; `None` where neither did.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct GivenSettings {
    /// The Faultline server, e.g. https://faultline.example.com.
    #[arg(long, env = "FAULTLINE_URL", global = true)]
    pub url: Option<String>,
    /// A project API key (`flt_...`); prefer the variable to the flag.
    #[arg(long, env = "FAULTLINE_API_KEY", global = true, hide_env_values = true)]
    pub api_key: Option<ApiKey>,
    /// The project's slug or id.
    #[arg(long, env = "FAULTLINE_PROJECT", global = true)]
    pub project: Option<String>,
    /// A config file (TOML: url, api_key, project); default
    /// `.faultline.toml`, else `~/.config/faultline/config.toml`.
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
}

/// The config file's keys, all optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    url: Option<String>,
    api_key: Option<String>,
    project: Option<String>,
}

/// The resolved connection settings every command needs.
#[derive(Debug, Clone)]
pub struct Connection {
    /// The server's base URL without a trailing `/`.
    pub url: String,
    /// Where the URL came from, for error messages ("--url or
    /// FAULTLINE_URL", "config file ~/.config/...").
    pub url_source: String,
    pub api_key: ApiKey,
    pub project: String,
}

impl Connection {
    /// Resolves flags/variables over the config file; `env` is the
    /// process environment (for the default file's location).
    pub fn resolve(
        given: &GivenSettings,
        env: &HashMap<String, String>,
        cwd: &Path,
    ) -> Result<Self, CliError> {
        let (file, file_path) = load_file(given.config.as_deref(), env, cwd)?;
        let file_label = file_path
            .as_ref()
            .map(|path| format!("config file {}", path.display()))
            .unwrap_or_default();
        let (url, url_source) = match (&given.url, file.url) {
            (Some(url), _) => (url.clone(), "--url or FAULTLINE_URL".to_owned()),
            (None, Some(url)) => (url, file_label.clone()),
            (None, None) => {
                return Err(CliError::Usage(missing(
                    "server URL",
                    "--url",
                    "FAULTLINE_URL",
                    "url",
                )));
            }
        };
        let url = parse_base_url(&url)?;
        let api_key = match (&given.api_key, file.api_key) {
            (Some(key), _) => key.clone(),
            (None, Some(key)) => key.parse().map_err(|reason: String| CliError::ConfigFile {
                path: file_label.clone(),
                reason,
            })?,
            (None, None) => {
                return Err(CliError::Usage(missing(
                    "API key",
                    "--api-key",
                    "FAULTLINE_API_KEY",
                    "api_key",
                )));
            }
        };
        let project = match (&given.project, file.project) {
            (Some(project), _) => project.clone(),
            (None, Some(project)) => project,
            (None, None) => {
                return Err(CliError::Usage(missing(
                    "project",
                    "--project",
                    "FAULTLINE_PROJECT",
                    "project",
                )));
            }
        };
        let project = project.trim().to_owned();
        if project.is_empty() || project.contains(['/', '?', '#', '%']) {
            return Err(CliError::Usage(format!(
                "`{project}` is not a project id or slug"
            )));
        }
        Ok(Self {
            url,
            url_source,
            api_key,
            project,
        })
    }
}

fn missing(what: &str, flag: &str, variable: &str, key: &str) -> String {
    format!("no {what}: pass {flag}, set {variable}, or write `{key}` in the config file")
}

/// `http(s)://host[:port][/prefix]`, without a trailing `/`.
fn parse_base_url(url: &str) -> Result<String, CliError> {
    let trimmed = url.trim().trim_end_matches('/');
    let parsed = reqwest::Url::parse(trimmed)
        .map_err(|error| CliError::Usage(format!("`{url}` is not a URL: {error}")))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(CliError::Usage(format!(
            "`{url}` is not an http:// or https:// URL"
        )));
    }
    Ok(trimmed.to_owned())
}

/// The config file and where it was read from (`None` when no file).
fn load_file(
    named: Option<&Path>,
    env: &HashMap<String, String>,
    cwd: &Path,
) -> Result<(ConfigFile, Option<PathBuf>), CliError> {
    let path = match named {
        Some(path) => Some(path.to_path_buf()),
        None => default_file(env, cwd),
    };
    let Some(path) = path else {
        return Ok((ConfigFile::default(), None));
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(error) if named.is_none() && error.kind() == std::io::ErrorKind::NotFound => {
            return Ok((ConfigFile::default(), None));
        }
        Err(error) => {
            return Err(CliError::ConfigFile {
                path: path.display().to_string(),
                reason: error.to_string(),
            });
        }
    };
    let file = toml::from_str(&text).map_err(|error| CliError::ConfigFile {
        path: path.display().to_string(),
        reason: error.message().to_owned(),
    })?;
    Ok((file, Some(path)))
}

/// `.faultline.toml` in the working directory when it exists, else the
/// user's config file.
fn default_file(env: &HashMap<String, String>, cwd: &Path) -> Option<PathBuf> {
    let local = cwd.join(".faultline.toml");
    if local.is_file() {
        return Some(local);
    }
    let config_home = env
        .get("XDG_CONFIG_HOME")
        .filter(|dir| !dir.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            env.get("HOME")
                .filter(|home| !home.is_empty())
                .map(|home| Path::new(home).join(".config"))
        })?;
    Some(config_home.join("faultline").join("config.toml"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "faultline-cli-config-{}-{}",
            std::process::id(),
            chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn flags_win_over_the_config_file_and_the_file_fills_the_rest() {
        let dir = temp_dir();
        std::fs::write(
            dir.join(".faultline.toml"),
            "url = \"http://file.example:1/\"\napi_key = \"flt_file\"\nproject = \"from-file\"\n",
        )
        .unwrap();
        let given = GivenSettings {
            url: Some("https://flag.example".to_owned()),
            ..GivenSettings::default()
        };
        let connection = Connection::resolve(&given, &HashMap::new(), &dir).unwrap();
        assert_eq!(connection.url, "https://flag.example");
        assert_eq!(connection.project, "from-file");
        assert_eq!(connection.api_key.expose(), "flt_file");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn the_user_config_file_is_read_when_the_directory_has_none() {
        let dir = temp_dir();
        let home = dir.join("home");
        std::fs::create_dir_all(home.join(".config/faultline")).unwrap();
        std::fs::write(
            home.join(".config/faultline/config.toml"),
            "url = \"http://home.example\"\napi_key = \"flt_home\"\nproject = \"p\"\n",
        )
        .unwrap();
        let env = HashMap::from([("HOME".to_owned(), home.display().to_string())]);
        let connection = Connection::resolve(&GivenSettings::default(), &env, &dir).unwrap();
        assert_eq!(connection.url, "http://home.example");
        assert!(connection.url_source.contains("config.toml"));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_missing_setting_names_the_flag_the_variable_and_the_key() {
        let error = Connection::resolve(
            &GivenSettings::default(),
            &HashMap::new(),
            Path::new("/nonexistent"),
        )
        .unwrap_err();
        let message = error.to_string();
        assert!(
            message.contains("--url") && message.contains("FAULTLINE_URL"),
            "{message}"
        );
    }

    #[test]
    fn a_named_config_file_that_does_not_exist_is_an_error() {
        let given = GivenSettings {
            config: Some(PathBuf::from("/nonexistent/faultline.toml")),
            ..GivenSettings::default()
        };
        let error = Connection::resolve(&given, &HashMap::new(), Path::new("/")).unwrap_err();
        assert!(error.to_string().contains("/nonexistent/faultline.toml"));
    }

    #[test]
    fn the_api_key_never_shows_in_debug_output() {
        let key: ApiKey = "flt_secret123".parse().unwrap();
        let connection = Connection {
            url: "http://x".to_owned(),
            url_source: String::new(),
            api_key: key,
            project: "p".to_owned(),
        };
        assert!(!format!("{connection:?}").contains("secret123"));
    }
}
