//! Which CI system runs us, read from the variables each one sets, so a
//! pipeline step needs no flags to say which job and build its reports
//! belong to. Flags still win over everything detected here.

use std::collections::HashMap;

/// The CI systems recognised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    GitHubActions,
    GitLab,
    Jenkins,
    Buildkite,
    CircleCi,
    AzurePipelines,
}

impl Provider {
    pub fn name(self) -> &'static str {
        match self {
            Self::GitHubActions => "GitHub Actions",
            Self::GitLab => "GitLab CI",
            Self::Jenkins => "Jenkins",
            Self::Buildkite => "Buildkite",
            Self::CircleCi => "CircleCI",
            Self::AzurePipelines => "Azure Pipelines",
        }
    }
}

/// What a CI system says about the build in progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CiBuild {
    pub provider: Provider,
    pub job: Option<String>,
    /// The build's id in the CI system: the `external_id` of the build.
    pub build_id: Option<String>,
    pub number: Option<i64>,
    pub branch: Option<String>,
    pub commit: Option<String>,
    pub pull_request: Option<String>,
    pub url: Option<String>,
}

/// The variables of one environment, empty values read as unset.
struct Vars<'a>(&'a HashMap<String, String>);

impl Vars<'_> {
    fn get(&self, name: &str) -> Option<String> {
        self.0
            .get(name)
            .map(|value| value.trim())
            .filter(|value| !value.is_empty())
            .map(str::to_owned)
    }

    fn is(&self, name: &str, expected: &str) -> bool {
        self.get(name)
            .is_some_and(|value| value.eq_ignore_ascii_case(expected))
    }

    fn number(&self, name: &str) -> Option<i64> {
        self.get(name).and_then(|value| value.parse().ok())
    }
}

/// The CI build `env` describes, or `None` outside a known CI system.
pub fn detect(env: &HashMap<String, String>) -> Option<CiBuild> {
    let vars = Vars(env);
    if vars.is("GITHUB_ACTIONS", "true") {
        Some(github(&vars))
    } else if vars.is("GITLAB_CI", "true") {
        Some(gitlab(&vars))
    } else if vars.is("BUILDKITE", "true") {
        Some(buildkite(&vars))
    } else if vars.is("CIRCLECI", "true") {
        Some(circleci(&vars))
    } else if vars.is("TF_BUILD", "true") {
        Some(azure(&vars))
    } else if vars.get("JENKINS_URL").is_some() || vars.get("JENKINS_HOME").is_some() {
        Some(jenkins(&vars))
    } else {
        None
    }
}

fn joined(parts: &[Option<String>], separator: &str) -> Option<String> {
    let present: Vec<&str> = parts.iter().flatten().map(String::as_str).collect();
    (!present.is_empty()).then(|| present.join(separator))
}

fn strip_ref(reference: String) -> String {
    reference
        .strip_prefix("refs/heads/")
        .map(str::to_owned)
        .unwrap_or(reference)
}

/// A run is one build; a re-run of its jobs is another attempt of it,
/// and another build (its tests ran again).
fn github(vars: &Vars) -> CiBuild {
    let run_id = vars.get("GITHUB_RUN_ID");
    let attempt = vars.get("GITHUB_RUN_ATTEMPT");
    let pull_request = vars
        .get("GITHUB_REF")
        .and_then(|reference| {
            reference
                .strip_prefix("refs/pull/")
                .and_then(|rest| rest.split('/').next())
                .map(str::to_owned)
        })
        .filter(|number| number.bytes().all(|b| b.is_ascii_digit()));
    let url = match (
        vars.get("GITHUB_SERVER_URL"),
        vars.get("GITHUB_REPOSITORY"),
        &run_id,
    ) {
        (Some(server), Some(repository), Some(run)) => {
            Some(format!("{server}/{repository}/actions/runs/{run}"))
        }
        _ => None,
    };
    CiBuild {
        provider: Provider::GitHubActions,
        job: joined(&[vars.get("GITHUB_WORKFLOW"), vars.get("GITHUB_JOB")], "/"),
        build_id: match (&run_id, attempt) {
            (Some(run), Some(attempt)) => Some(format!("{run}.{attempt}")),
            (run, _) => run.clone(),
        },
        number: vars.number("GITHUB_RUN_NUMBER"),
        branch: vars
            .get("GITHUB_HEAD_REF")
            .or_else(|| vars.get("GITHUB_REF_NAME")),
        commit: vars.get("GITHUB_SHA"),
        pull_request,
        url,
    }
}

/// The pipeline is the build: a retried job uploads to the same one.
fn gitlab(vars: &Vars) -> CiBuild {
    CiBuild {
        provider: Provider::GitLab,
        job: vars.get("CI_JOB_NAME"),
        build_id: vars.get("CI_PIPELINE_ID"),
        number: vars.number("CI_PIPELINE_IID"),
        branch: vars
            .get("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME")
            .or_else(|| vars.get("CI_COMMIT_BRANCH"))
            .or_else(|| vars.get("CI_COMMIT_REF_NAME")),
        commit: vars.get("CI_COMMIT_SHA"),
        pull_request: vars.get("CI_MERGE_REQUEST_IID"),
        url: vars
            .get("CI_PIPELINE_URL")
            .or_else(|| vars.get("CI_JOB_URL")),
    }
}

fn jenkins(vars: &Vars) -> CiBuild {
    CiBuild {
        provider: Provider::Jenkins,
        job: vars.get("JOB_NAME"),
        build_id: vars.get("BUILD_NUMBER").or_else(|| vars.get("BUILD_ID")),
        number: vars.number("BUILD_NUMBER"),
        branch: vars
            .get("CHANGE_BRANCH")
            .or_else(|| vars.get("BRANCH_NAME"))
            .or_else(|| {
                vars.get("GIT_BRANCH").map(|branch| {
                    branch
                        .strip_prefix("origin/")
                        .map(str::to_owned)
                        .unwrap_or(branch)
                })
            }),
        commit: vars.get("GIT_COMMIT"),
        pull_request: vars.get("CHANGE_ID"),
        url: vars.get("BUILD_URL"),
    }
}

fn buildkite(vars: &Vars) -> CiBuild {
    CiBuild {
        provider: Provider::Buildkite,
        job: vars.get("BUILDKITE_PIPELINE_SLUG"),
        build_id: vars.get("BUILDKITE_BUILD_ID"),
        number: vars.number("BUILDKITE_BUILD_NUMBER"),
        branch: vars.get("BUILDKITE_BRANCH"),
        commit: vars.get("BUILDKITE_COMMIT"),
        pull_request: vars
            .get("BUILDKITE_PULL_REQUEST")
            .filter(|value| value != "false"),
        url: vars.get("BUILDKITE_BUILD_URL"),
    }
}

/// A workflow is the build (its jobs' reports add up); without workflows,
/// the job's build number.
fn circleci(vars: &Vars) -> CiBuild {
    CiBuild {
        provider: Provider::CircleCi,
        job: vars.get("CIRCLE_JOB"),
        build_id: vars
            .get("CIRCLE_WORKFLOW_ID")
            .or_else(|| vars.get("CIRCLE_BUILD_NUM")),
        number: vars.number("CIRCLE_BUILD_NUM"),
        branch: vars.get("CIRCLE_BRANCH"),
        commit: vars.get("CIRCLE_SHA1"),
        pull_request: vars.get("CIRCLE_PR_NUMBER").or_else(|| {
            vars.get("CIRCLE_PULL_REQUEST")
                .and_then(|url| url.rsplit('/').next().map(str::to_owned))
        }),
        url: vars.get("CIRCLE_BUILD_URL"),
    }
}

fn azure(vars: &Vars) -> CiBuild {
    let build_id = vars.get("BUILD_BUILDID");
    let url = match (
        vars.get("SYSTEM_COLLECTIONURI"),
        vars.get("SYSTEM_TEAMPROJECT"),
        &build_id,
    ) {
        (Some(collection), Some(project), Some(id)) => Some(format!(
            "{}/{project}/_build/results?buildId={id}",
            collection.trim_end_matches('/')
        )),
        _ => None,
    };
    CiBuild {
        provider: Provider::AzurePipelines,
        job: joined(
            &[
                vars.get("BUILD_DEFINITIONNAME"),
                vars.get("SYSTEM_JOBDISPLAYNAME"),
            ],
            "/",
        ),
        number: build_id.as_deref().and_then(|id| id.parse().ok()),
        build_id,
        branch: vars
            .get("SYSTEM_PULLREQUEST_SOURCEBRANCH")
            .or_else(|| vars.get("BUILD_SOURCEBRANCH"))
            .map(strip_ref),
        commit: vars.get("BUILD_SOURCEVERSION"),
        pull_request: vars
            .get("SYSTEM_PULLREQUEST_PULLREQUESTNUMBER")
            .or_else(|| vars.get("SYSTEM_PULLREQUEST_PULLREQUESTID")),
        url,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect()
    }

    fn some(value: &str) -> Option<String> {
        Some(value.to_owned())
    }

    #[test]
    fn outside_ci_nothing_is_detected() {
        assert_eq!(detect(&env(&[("HOME", "/root"), ("CI", "true")])), None);
    }

    #[test]
    fn github_actions_pull_request_run() {
        let build = detect(&env(&[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_WORKFLOW", "CI"),
            ("GITHUB_JOB", "test"),
            ("GITHUB_RUN_ID", "9876543210"),
            ("GITHUB_RUN_ATTEMPT", "2"),
            ("GITHUB_RUN_NUMBER", "412"),
            ("GITHUB_REF", "refs/pull/57/merge"),
            ("GITHUB_REF_NAME", "57/merge"),
            ("GITHUB_HEAD_REF", "feature/login"),
            ("GITHUB_SHA", "0123456789abcdef0123456789abcdef01234567"),
            ("GITHUB_SERVER_URL", "https://github.com"),
            ("GITHUB_REPOSITORY", "acme/shop"),
        ]))
        .unwrap();
        assert_eq!(
            build,
            CiBuild {
                provider: Provider::GitHubActions,
                job: some("CI/test"),
                build_id: some("9876543210.2"),
                number: Some(412),
                branch: some("feature/login"),
                commit: some("0123456789abcdef0123456789abcdef01234567"),
                pull_request: some("57"),
                url: some("https://github.com/acme/shop/actions/runs/9876543210"),
            }
        );
    }

    #[test]
    fn github_actions_push_uses_the_ref_name_and_has_no_pull_request() {
        let build = detect(&env(&[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_RUN_ID", "1"),
            ("GITHUB_REF", "refs/heads/main"),
            ("GITHUB_REF_NAME", "main"),
            ("GITHUB_HEAD_REF", ""),
        ]))
        .unwrap();
        assert_eq!(build.branch, some("main"));
        assert_eq!(build.pull_request, None);
        assert_eq!(build.build_id, some("1"));
    }

    #[test]
    fn gitlab_merge_request_pipeline() {
        let build = detect(&env(&[
            ("GITLAB_CI", "true"),
            ("CI_JOB_NAME", "rspec"),
            ("CI_PIPELINE_ID", "1234567"),
            ("CI_PIPELINE_IID", "88"),
            ("CI_COMMIT_REF_NAME", "fix-cart"),
            ("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME", "fix-cart"),
            ("CI_MERGE_REQUEST_IID", "17"),
            ("CI_COMMIT_SHA", "abcdef0123456789abcdef0123456789abcdef01"),
            (
                "CI_PIPELINE_URL",
                "https://gitlab.example.com/acme/shop/-/pipelines/1234567",
            ),
        ]))
        .unwrap();
        assert_eq!(
            build,
            CiBuild {
                provider: Provider::GitLab,
                job: some("rspec"),
                build_id: some("1234567"),
                number: Some(88),
                branch: some("fix-cart"),
                commit: some("abcdef0123456789abcdef0123456789abcdef01"),
                pull_request: some("17"),
                url: some("https://gitlab.example.com/acme/shop/-/pipelines/1234567"),
            }
        );
    }

    #[test]
    fn jenkins_multibranch_pull_request() {
        let build = detect(&env(&[
            ("JENKINS_URL", "https://ci.example.com/"),
            ("JOB_NAME", "shop/PR-9"),
            ("BUILD_NUMBER", "31"),
            ("BUILD_ID", "31"),
            ("BRANCH_NAME", "PR-9"),
            ("CHANGE_ID", "9"),
            ("CHANGE_BRANCH", "feature/pay"),
            ("GIT_COMMIT", "fedcba9876543210fedcba9876543210fedcba98"),
            ("BUILD_URL", "https://ci.example.com/job/shop/job/PR-9/31/"),
        ]))
        .unwrap();
        assert_eq!(
            build,
            CiBuild {
                provider: Provider::Jenkins,
                job: some("shop/PR-9"),
                build_id: some("31"),
                number: Some(31),
                branch: some("feature/pay"),
                commit: some("fedcba9876543210fedcba9876543210fedcba98"),
                pull_request: some("9"),
                url: some("https://ci.example.com/job/shop/job/PR-9/31/"),
            }
        );
    }

    #[test]
    fn jenkins_freestyle_job_strips_the_remote_from_git_branch() {
        let build = detect(&env(&[
            ("JENKINS_HOME", "/var/jenkins_home"),
            ("JOB_NAME", "nightly"),
            ("BUILD_NUMBER", "5"),
            ("GIT_BRANCH", "origin/main"),
        ]))
        .unwrap();
        assert_eq!(build.branch, some("main"));
        assert_eq!(build.pull_request, None);
    }

    #[test]
    fn buildkite_build_without_a_pull_request() {
        let build = detect(&env(&[
            ("BUILDKITE", "true"),
            ("BUILDKITE_PIPELINE_SLUG", "shop"),
            ("BUILDKITE_BUILD_ID", "0190b2c4-1111-2222-3333-444455556666"),
            ("BUILDKITE_BUILD_NUMBER", "1501"),
            ("BUILDKITE_BRANCH", "main"),
            (
                "BUILDKITE_COMMIT",
                "1111111111111111111111111111111111111111",
            ),
            ("BUILDKITE_PULL_REQUEST", "false"),
            (
                "BUILDKITE_BUILD_URL",
                "https://buildkite.com/acme/shop/builds/1501",
            ),
        ]))
        .unwrap();
        assert_eq!(
            build,
            CiBuild {
                provider: Provider::Buildkite,
                job: some("shop"),
                build_id: some("0190b2c4-1111-2222-3333-444455556666"),
                number: Some(1501),
                branch: some("main"),
                commit: some("1111111111111111111111111111111111111111"),
                pull_request: None,
                url: some("https://buildkite.com/acme/shop/builds/1501"),
            }
        );
    }

    #[test]
    fn circleci_workflow_with_a_pull_request_url() {
        let build = detect(&env(&[
            ("CIRCLECI", "true"),
            ("CIRCLE_JOB", "unit"),
            ("CIRCLE_WORKFLOW_ID", "6f1c2b1e-7a0b-4c6e-9d4e-0a1b2c3d4e5f"),
            ("CIRCLE_BUILD_NUM", "2048"),
            ("CIRCLE_BRANCH", "feature/search"),
            ("CIRCLE_SHA1", "2222222222222222222222222222222222222222"),
            (
                "CIRCLE_PULL_REQUEST",
                "https://github.com/acme/shop/pull/301",
            ),
            ("CIRCLE_BUILD_URL", "https://circleci.com/gh/acme/shop/2048"),
        ]))
        .unwrap();
        assert_eq!(
            build,
            CiBuild {
                provider: Provider::CircleCi,
                job: some("unit"),
                build_id: some("6f1c2b1e-7a0b-4c6e-9d4e-0a1b2c3d4e5f"),
                number: Some(2048),
                branch: some("feature/search"),
                commit: some("2222222222222222222222222222222222222222"),
                pull_request: some("301"),
                url: some("https://circleci.com/gh/acme/shop/2048"),
            }
        );
    }

    #[test]
    fn azure_pipelines_pull_request_build() {
        let build = detect(&env(&[
            ("TF_BUILD", "True"),
            ("BUILD_DEFINITIONNAME", "shop-ci"),
            ("SYSTEM_JOBDISPLAYNAME", "Tests"),
            ("BUILD_BUILDID", "7781"),
            ("BUILD_SOURCEBRANCH", "refs/pull/44/merge"),
            ("SYSTEM_PULLREQUEST_SOURCEBRANCH", "refs/heads/feature/tax"),
            ("SYSTEM_PULLREQUEST_PULLREQUESTNUMBER", "44"),
            (
                "BUILD_SOURCEVERSION",
                "3333333333333333333333333333333333333333",
            ),
            ("SYSTEM_COLLECTIONURI", "https://dev.azure.com/acme/"),
            ("SYSTEM_TEAMPROJECT", "shop"),
        ]))
        .unwrap();
        assert_eq!(
            build,
            CiBuild {
                provider: Provider::AzurePipelines,
                job: some("shop-ci/Tests"),
                build_id: some("7781"),
                number: Some(7781),
                branch: some("feature/tax"),
                commit: some("3333333333333333333333333333333333333333"),
                pull_request: some("44"),
                url: some("https://dev.azure.com/acme/shop/_build/results?buildId=7781"),
            }
        );
    }

    #[test]
    fn azure_pipelines_branch_build_strips_refs_heads() {
        let build = detect(&env(&[
            ("TF_BUILD", "True"),
            ("BUILD_BUILDID", "12"),
            ("BUILD_SOURCEBRANCH", "refs/heads/release/2.0"),
        ]))
        .unwrap();
        assert_eq!(build.branch, some("release/2.0"));
        assert_eq!(build.pull_request, None);
    }
}
