//! One module per subcommand, and what they share: which build a command
//! means, and the build as the API shows it.

pub mod gate;
pub mod quarantine;
pub mod reads;
pub mod upload;

use std::path::PathBuf;

use reqwest::Method;
use serde::{Deserialize, Serialize};

use crate::ci::CiBuild;
use crate::cli::BuildArgs;
use crate::client::{ApiClient, Body};
use crate::error::CliError;
use crate::output::Output;

/// What every command runs with.
#[derive(Debug)]
pub struct Context {
    pub client: ApiClient,
    pub out: Output,
    pub ci: Option<CiBuild>,
    pub cwd: PathBuf,
}

/// A build's totals over all its uploads.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct Totals {
    pub tests: i64,
    pub passed: i64,
    pub failures: i64,
    pub errors: i64,
    pub skipped: i64,
    pub flaky: i64,
}

/// Whether a build's failures fail it, quarantined tests left out.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct Verdict {
    pub outcome: String,
    pub failures_counted: i64,
    pub quarantined_failures: i64,
}

/// A build, with the fields the commands read.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Build {
    pub id: String,
    pub job_name: String,
    pub external_id: String,
    pub status: String,
    #[serde(default)]
    pub branch: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub totals: Totals,
    pub verdict: Verdict,
}

/// A build's job and id in the CI system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildIdentity {
    pub job: String,
    pub external_id: String,
}

impl BuildIdentity {
    /// Flags first, then the CI system's variables.
    pub fn resolve(args: &BuildArgs, ci: Option<&CiBuild>) -> Result<Self, CliError> {
        let job = args
            .job
            .clone()
            .or_else(|| ci.and_then(|ci| ci.job.clone()));
        let external_id = args
            .build
            .clone()
            .or_else(|| ci.and_then(|ci| ci.build_id.clone()));
        match (job, external_id) {
            (Some(job), Some(external_id)) => Ok(Self {
                job: job.trim().to_owned(),
                external_id: external_id_from(&external_id),
            }),
            (job, _) => Err(CliError::Usage(format!(
                "which build is this? pass {} (no supported CI system was detected to tell)",
                if job.is_some() {
                    "--build"
                } else {
                    "--job and --build"
                }
            ))),
        }
    }
}

/// The server takes 1 to 100 letters, digits, `.`, `_`, `:` or `-`; a CI
/// id with anything else (a `/`) keeps its shape with `-` instead.
fn external_id_from(id: &str) -> String {
    id.trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-') {
                c
            } else {
                '-'
            }
        })
        .take(100)
        .collect()
}

/// A page of a list.
#[derive(Debug, Deserialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    #[serde(default)]
    pub next_cursor: Option<String>,
}

/// Reads up to `max` items of a list, page after page.
pub async fn read_list(
    client: &ApiClient,
    url: &str,
    query: &[(&str, String)],
    max: usize,
    what: &str,
) -> Result<Vec<serde_json::Value>, CliError> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut page_url = reqwest::Url::parse(url)
            .map_err(|error| CliError::Usage(format!("{url} is not a URL: {error}")))?;
        {
            let mut pairs = page_url.query_pairs_mut();
            for (name, value) in query {
                pairs.append_pair(name, value);
            }
            let left = max.saturating_sub(items.len()).clamp(1, 500);
            pairs.append_pair("limit", &left.to_string());
            if let Some(cursor) = &cursor {
                pairs.append_pair("cursor", cursor);
            }
        }
        let response = client
            .call(Method::GET, page_url.as_str(), &Body::Empty, &[], what)
            .await?;
        let page: Page<serde_json::Value> = response.json(what)?;
        items.extend(page.items);
        match page.next_cursor {
            Some(next) if items.len() < max => cursor = Some(next),
            _ => break,
        }
    }
    items.truncate(max);
    Ok(items)
}

/// The build `identity` names, looked up among its job's builds.
pub async fn find_build(client: &ApiClient, identity: &BuildIdentity) -> Result<Build, CliError> {
    let what = format!(
        "finding build {} of job {}",
        identity.external_id, identity.job
    );
    let builds = read_list(
        client,
        &client.project_url(1, "/builds"),
        &[("job", identity.job.clone())],
        2_000,
        &what,
    )
    .await?;
    let found = builds
        .into_iter()
        .find(|build| build["external_id"].as_str() == Some(identity.external_id.as_str()))
        .ok_or_else(|| {
            CliError::Usage(format!(
                "no build {} of job `{}` in project {}: upload its reports first",
                identity.external_id, identity.job, client.connection.project
            ))
        })?;
    serde_json::from_value(found)
        .map_err(|error| CliError::Server(format!("{what}: unexpected answer: {error}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_the_ci_and_ids_keep_to_what_the_server_takes() {
        let ci = CiBuild {
            provider: crate::ci::Provider::GitLab,
            job: Some("rspec".to_owned()),
            build_id: Some("123".to_owned()),
            number: None,
            branch: None,
            commit: None,
            pull_request: None,
            url: None,
        };
        let flags = BuildArgs {
            job: None,
            build: Some("release/2.0 #7".to_owned()),
        };
        assert_eq!(
            BuildIdentity::resolve(&flags, Some(&ci)).unwrap(),
            BuildIdentity {
                job: "rspec".to_owned(),
                external_id: "release-2.0--7".to_owned()
            }
        );
        let error = BuildIdentity::resolve(&BuildArgs::default(), None).unwrap_err();
        assert!(error.to_string().contains("--job and --build"));
    }
}
