//! The platform a test runs `faultline` against, and the binary itself.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use reqwest::Method;
use serde_json::Value;
use test_support::{Reply, TestApp};

use crate::gateway_helpers::{self, Platform, User};

/// The project every test uploads to.
pub const PROJECT: &str = "shop";

/// auth, project, failure (and analytics) behind the gateway, with a
/// project and a member API key for it.
#[derive(Debug)]
pub struct CliPlatform {
    pub platform: Platform,
    /// Kept running for the gateway's `failure` upstream.
    _failure: TestApp,
    /// Kept running for the gateway's `analytics` upstream, when started.
    _analytics: Option<TestApp>,
    pub owner: User,
    pub key: String,
}

impl CliPlatform {
    pub async fn start() -> Self {
        Self::start_with(false).await
    }

    /// With the analytics service on the failure service's database, for
    /// the quality gate.
    pub async fn start_with_analytics() -> Self {
        Self::start_with(true).await
    }

    async fn start_with(with_analytics: bool) -> Self {
        let failure = TestApp::spawn(&failure_service::SPEC, failure_service::build, &[]).await;
        let mut gateway = vec![gateway_helpers::failure_upstream(&failure)];
        let analytics = if with_analytics {
            let analytics = TestApp::spawn_on(
                &analytics_service::SPEC,
                analytics_service::build,
                failure.shared_database(),
                &[],
            )
            .await;
            gateway.push(("service.upstreams.analytics.url", analytics.url("")));
            Some(analytics)
        } else {
            None
        };
        let platform = gateway_helpers::spawn(&gateway).await;
        let owner = platform.sign_up_and_log_in("owner@example.com").await;
        platform.create_project(&owner, PROJECT).await;
        let key = platform.create_api_key(&owner, PROJECT).await;
        Self {
            platform,
            _failure: failure,
            _analytics: analytics,
            owner,
            key,
        }
    }

    /// The gateway's base URL.
    pub fn url(&self) -> String {
        self.platform.url("")
    }

    /// `faultline` configured for this platform through its variables.
    pub fn faultline(&self) -> Faultline {
        self.faultline_at(&self.url())
    }

    /// `faultline` configured for this platform, reaching it at `url` (a
    /// proxy in front of it).
    pub fn faultline_at(&self, url: &str) -> Faultline {
        Faultline::new()
            .env("FAULTLINE_URL", url)
            .env("FAULTLINE_API_KEY", &self.key)
            .env("FAULTLINE_PROJECT", PROJECT)
    }

    /// A request to `/api/v1/projects/shop{path}` with the API key.
    pub async fn api(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        self.platform
            .send(
                method,
                &format!("/api/v1/projects/{PROJECT}{path}"),
                Some(&self.key),
                body,
            )
            .await
    }

    /// The build with this Faultline id.
    pub async fn build(&self, id: &str) -> Value {
        self.api(Method::GET, &format!("/builds/{id}"), None)
            .await
            .expect(200)
    }

    /// The build of `job` with the CI id `external_id`.
    pub async fn build_of(&self, job: &str, external_id: &str) -> Value {
        let builds = self
            .api(Method::GET, &format!("/builds?job={job}&limit=500"), None)
            .await
            .expect(200);
        builds["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|build| build["external_id"] == external_id)
            .unwrap_or_else(|| panic!("no build {external_id} of {job}: {builds}"))
            .clone()
    }

    /// Every failure of a build.
    pub async fn failures_of(&self, build_id: &str) -> Vec<Value> {
        self.api(
            Method::GET,
            &format!("/failures?build={build_id}&limit=500"),
            None,
        )
        .await
        .expect(200)["items"]
            .as_array()
            .unwrap()
            .clone()
    }
}

/// The counts of a build's totals that uploads add up.
pub fn counts(build: &Value) -> [i64; 6] {
    let totals = &build["totals"];
    ["tests", "passed", "failures", "errors", "skipped", "flaky"].map(|name| {
        totals[name]
            .as_i64()
            .unwrap_or_else(|| panic!("{name} in {build}"))
    })
}

/// The `faultline` binary, with a clean environment: no CI variables and
/// no config file of the machine running the tests.
#[derive(Debug)]
pub struct Faultline {
    command: tokio::process::Command,
    /// Removed when the command is dropped.
    home: TempDir,
}

impl Faultline {
    pub fn new() -> Self {
        Self::clean(env!("CARGO_BIN_EXE_faultline"), &[])
    }

    /// A shell command line (from the documentation) with `faultline`
    /// first on the `PATH`.
    pub fn shell(line: &str) -> Self {
        Self::clean("sh", &["-c", line])
    }

    /// `program` with `args`, a `PATH` that finds `faultline` first, and
    /// an empty home directory as its working directory.
    fn clean(program: &str, args: &[&str]) -> Self {
        let home = TempDir::new("home");
        let binary_dir = Path::new(env!("CARGO_BIN_EXE_faultline")).parent().unwrap();
        let mut command = tokio::process::Command::new(program);
        command
            .env_clear()
            .env(
                "PATH",
                format!("{}:/usr/local/bin:/usr/bin:/bin", binary_dir.display()),
            )
            .env("HOME", home.path())
            .current_dir(home.path())
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .args(args);
        Self { command, home }
    }

    pub fn env(mut self, name: &str, value: &str) -> Self {
        self.command.env(name, value);
        self
    }

    pub fn envs<'a>(mut self, vars: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        self.command.envs(vars);
        self
    }

    pub fn current_dir(mut self, dir: &Path) -> Self {
        self.command.current_dir(dir);
        self
    }

    pub fn args<'a>(mut self, args: impl IntoIterator<Item = &'a str>) -> Self {
        self.command.args(args);
        self
    }

    /// The command, to start it and watch it while it runs.
    pub fn into_command(self) -> (tokio::process::Command, TempDir) {
        (self.command, self.home)
    }

    pub async fn run(mut self) -> Ran {
        let output = self.command.output().await.expect("running faultline");
        Ran {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

/// What a run of `faultline` did.
#[derive(Debug)]
pub struct Ran {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Ran {
    /// Fails the test unless the run exited with `code`.
    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code, code,
            "exit code\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|error| panic!("stdout is not JSON ({error}):\n{}", self.stdout))
    }

    /// The one error line on stderr; fails unless there is exactly one.
    pub fn error_line(&self) -> &str {
        let errors: Vec<&str> = self
            .stderr
            .lines()
            .filter(|line| line.starts_with("faultline: error:"))
            .collect();
        assert_eq!(errors.len(), 1, "one error line in:\n{}", self.stderr);
        errors[0]
    }
}

/// A directory removed on drop.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(what: &str) -> Self {
        let path =
            std::env::temp_dir().join(format!("faultline-cli-{what}-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Writes `content` to `relative`, making its directories.
    pub fn write(&self, relative: &str, content: &str) -> PathBuf {
        let path = self.0.join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, content).unwrap();
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
