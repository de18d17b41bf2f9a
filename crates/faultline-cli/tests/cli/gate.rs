//! `faultline gate` against the analytics service's quality gate
//! (`GET .../builds/{build}/quality-gate`): pass, fail, and pending until
//! the build finishes, then pass; and README's gate lines.
//!
//! The gate and its rules are served by the analytics service
//! (docs/analytics.md); [`create_rule`] is the one place that writes rules.

use std::process::Stdio;
use std::time::Duration;

use reqwest::Method;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::platform::{CliPlatform, TempDir};
use crate::readme::{checkout, ci_examples, example_command, faultline_lines};
use crate::reports::surefire_report;

/// How long a test waits for the command to see the gate pending.
const PENDING_SEEN_WITHIN: Duration = Duration::from_secs(30);

/// A rule of the project's quality gate on every branch, as its admin
/// writes it.
async fn create_rule(platform: &CliPlatform, kind: &str, threshold: u64) {
    let created = platform
        .platform
        .send(
            Method::POST,
            "/api/v1/projects/shop/quality-gate-rules",
            Some(&platform.owner.access_token),
            Some(json!({
                "name": format!("{kind} {threshold}"),
                "kind": kind,
                "branch_pattern": "*",
                "threshold": threshold,
            })),
        )
        .await;
    assert_eq!(
        created.status, 201,
        "creating a {kind} rule: {}",
        created.text
    );
}

/// Uploads a build of `passing` and `failing` tests; finished unless
/// `keep_running`.
async fn upload(platform: &CliPlatform, build: &str, failing: usize, keep_running: bool) -> String {
    let reports = TempDir::new("gate");
    reports.write(
        "TEST-a.xml",
        &surefire_report("com.example.GateTest", 3, failing),
    );
    let mut args = vec![
        "upload", "--job", "ci", "--build", build, "--branch", "main", "--json",
    ];
    if keep_running {
        args.push("--no-finish");
    }
    args.push(".");
    let ran = platform
        .faultline()
        .current_dir(reports.path())
        .args(args)
        .run()
        .await;
    ran.expect_code(0);
    ran.json()["build_id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_build_without_rules_passes_the_gate_and_exits_0() {
    let platform = CliPlatform::start_with_analytics().await;
    upload(&platform, "g-1", 1, false).await;
    let ran = platform
        .faultline()
        .args([
            "gate",
            "--job",
            "ci",
            "--build",
            "g-1",
            "--wait",
            "60s",
            "--interval",
            "200ms",
        ])
        .run()
        .await;
    ran.expect_code(0);
    assert!(
        ran.stdout.starts_with("Quality gate passed for build "),
        "{}",
        ran.stdout
    );
}

#[tokio::test]
async fn a_failed_rule_is_printed_with_its_failures_and_exits_1() {
    let platform = CliPlatform::start_with_analytics().await;
    create_rule(&platform, "max_failures", 0).await;
    let build_id = upload(&platform, "g-2", 2, false).await;
    let ran = platform
        .faultline()
        .args([
            "gate",
            "--build-id",
            &build_id,
            "--wait",
            "60s",
            "--interval",
            "200ms",
        ])
        .run()
        .await;
    ran.expect_code(1);
    assert!(
        ran.stdout.starts_with("Quality gate failed for build "),
        "{}",
        ran.stdout
    );
    assert!(ran.stdout.contains("FAIL  max_failures"), "{}", ran.stdout);
    assert!(
        ran.stdout.contains("fails_0") && ran.stdout.contains("fails_1"),
        "{}",
        ran.stdout
    );

    let json = platform
        .faultline()
        .args(["gate", "--build-id", &build_id, "--json"])
        .run()
        .await;
    json.expect_code(1);
    assert_eq!(json.json()["rules"][0]["kind"], "max_failures");
}

#[tokio::test]
async fn a_pending_gate_is_waited_for_until_the_build_finishes_then_passes() {
    let platform = CliPlatform::start_with_analytics().await;
    let build_id = upload(&platform, "g-3", 0, true).await;
    let (mut command, _home) = platform
        .faultline()
        .args([
            "gate",
            "--build-id",
            &build_id,
            "--wait",
            "120s",
            "--interval",
            "200ms",
        ])
        .into_command();
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
    let pending = tokio::time::timeout(PENDING_SEEN_WITHIN, async {
        while let Some(line) = stderr.next_line().await.unwrap() {
            if line.contains("quality gate pending") {
                return line;
            }
        }
        panic!("faultline gate ended without saying the gate is pending");
    })
    .await
    .expect("faultline gate said the gate is pending");
    assert!(
        pending.starts_with("faultline: quality gate pending"),
        "{pending}"
    );

    platform
        .api(
            Method::PATCH,
            &format!("/builds/{build_id}"),
            Some(json!({"status": "passed"})),
        )
        .await
        .expect(200);
    let output = tokio::time::timeout(Duration::from_secs(120), child.wait_with_output())
        .await
        .expect("faultline gate ended")
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    assert!(stdout.starts_with("Quality gate passed"), "{stdout}");
}

#[tokio::test]
async fn a_gate_still_pending_when_the_wait_runs_out_exits_2() {
    let platform = CliPlatform::start_with_analytics().await;
    let build_id = upload(&platform, "g-4", 0, true).await;
    let ran = platform
        .faultline()
        .args([
            "gate",
            "--build-id",
            &build_id,
            "--wait",
            "1s",
            "--interval",
            "200ms",
        ])
        .run()
        .await;
    ran.expect_code(2);
    assert!(
        ran.error_line().contains("still pending after 1s"),
        "{}",
        ran.stderr
    );
}

#[tokio::test]
async fn the_documented_gate_lines_pass_after_the_documented_upload() {
    let platform = CliPlatform::start_with_analytics().await;
    for block in ci_examples() {
        let checkout = checkout();
        for line in faultline_lines(&block) {
            let ran = example_command(&platform, &block, &line, &checkout)
                .run()
                .await;
            assert_eq!(
                ran.code, 0,
                "{line}\nstdout:\n{}\nstderr:\n{}",
                ran.stdout, ran.stderr
            );
        }
    }
}
