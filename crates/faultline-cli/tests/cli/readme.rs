//! README's "Use it from CI" examples, run: every `faultline` line of
//! each fenced block, in order, in a checkout with Surefire reports, with
//! the variables the example sets and those its CI system would. The
//! `gate` lines need the analytics service; `gate.rs` runs them.

use crate::platform::{CliPlatform, Faultline, PROJECT, TempDir};
use crate::reports::write_generated;

/// The fenced blocks of README's "Use it from CI" section.
pub fn ci_examples() -> Vec<String> {
    let readme = std::fs::read_to_string(test_support::workspace_root().join("README.md")).unwrap();
    let section = readme
        .split("\n## Use it from CI\n")
        .nth(1)
        .expect("README has a section \"Use it from CI\"");
    let section = section.split("\n## ").next().unwrap();
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in section.lines() {
        if line.starts_with("```") {
            match current.take() {
                Some(block) => blocks.push(block),
                None => current = Some(String::new()),
            }
        } else if let Some(block) = current.as_mut() {
            block.push_str(line);
            block.push('\n');
        }
    }
    blocks
}

/// The `faultline` command lines of a block (YAML list items or `run: |`
/// lines alike).
pub fn faultline_lines(block: &str) -> Vec<String> {
    block
        .lines()
        .map(|line| line.trim().trim_start_matches("- ").trim())
        .filter(|line| line.starts_with("faultline "))
        .map(str::to_owned)
        .collect()
}

/// The variables a CI system sets, for the example of `block`.
pub fn ci_variables(block: &str) -> Vec<(&'static str, &'static str)> {
    if block.contains("secrets.") {
        vec![
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_WORKFLOW", "CI"),
            ("GITHUB_JOB", "test"),
            ("GITHUB_RUN_ID", "4242"),
            ("GITHUB_RUN_ATTEMPT", "1"),
            ("GITHUB_REF", "refs/heads/main"),
            ("GITHUB_REF_NAME", "main"),
            ("GITHUB_SHA", "0123456789abcdef0123456789abcdef01234567"),
            ("GITHUB_SERVER_URL", "https://github.com"),
            ("GITHUB_REPOSITORY", "acme/shop"),
        ]
    } else {
        vec![
            ("GITLAB_CI", "true"),
            ("CI_JOB_NAME", "test"),
            ("CI_PIPELINE_ID", "777"),
            ("CI_COMMIT_BRANCH", "main"),
            ("CI_COMMIT_SHA", "89abcdef0123456789abcdef0123456789abcdef"),
            (
                "CI_PIPELINE_URL",
                "https://gitlab.example.com/acme/shop/-/pipelines/777",
            ),
        ]
    }
}

/// The build each example's CI variables name: (job, external id, commit).
pub fn expected_build(block: &str) -> (&'static str, &'static str, &'static str) {
    if block.contains("secrets.") {
        (
            "CI/test",
            "4242.1",
            "0123456789abcdef0123456789abcdef01234567",
        )
    } else {
        ("test", "777", "89abcdef0123456789abcdef0123456789abcdef")
    }
}

/// Runs `line` as the example would, in `checkout`.
pub fn example_command(
    platform: &CliPlatform,
    block: &str,
    line: &str,
    checkout: &TempDir,
) -> Faultline {
    for variable in ["FAULTLINE_URL", "FAULTLINE_PROJECT"] {
        assert!(
            block.contains(&format!("{variable}:")),
            "the example sets {variable}:\n{block}"
        );
    }
    assert!(
        block.contains("FAULTLINE_API_KEY"),
        "the example says where the key comes from"
    );
    Faultline::shell(line)
        .current_dir(checkout.path())
        .env("FAULTLINE_URL", &platform.url())
        .env("FAULTLINE_API_KEY", &platform.key)
        .env("FAULTLINE_PROJECT", PROJECT)
        .envs(ci_variables(block))
}

/// A checkout after `mvn verify`: reports in two modules.
pub fn checkout() -> TempDir {
    let checkout = TempDir::new("checkout");
    write_generated(&checkout, 14);
    checkout
}

#[tokio::test]
async fn the_documented_ci_commands_run_and_upload_the_build_their_ci_names() {
    let platform = CliPlatform::start().await;
    let blocks = ci_examples();
    assert_eq!(blocks.len(), 2, "a GitHub Actions and a GitLab CI example");
    for block in &blocks {
        let lines = faultline_lines(block);
        assert!(
            lines
                .iter()
                .any(|line| line.starts_with("faultline upload ")),
            "{block}"
        );
        let checkout = checkout();
        for line in lines
            .iter()
            .filter(|line| !line.starts_with("faultline gate"))
        {
            let ran = example_command(&platform, block, line, &checkout)
                .run()
                .await;
            assert_eq!(
                ran.code, 0,
                "{line}\nstdout:\n{}\nstderr:\n{}",
                ran.stdout, ran.stderr
            );
        }
        let (job, external_id, commit) = expected_build(block);
        let build = platform.build_of(job, external_id).await;
        assert_eq!(build["commit_sha"], commit);
        assert_eq!(build["branch"], "main");
        assert_eq!(build["totals"]["tests"], 14 * 3, "{build}");
        assert_ne!(build["status"], "running", "the upload finished it");
        assert!(
            build["url"].as_str().unwrap().starts_with("https://"),
            "{build}"
        );
    }
}
