//! `faultline upload` of a whole build: many report files in few
//! requests, the build finished, the summary true, and a repeated CI step
//! adding nothing.

use reqwest::Method;

use crate::platform::{CliPlatform, counts};
use crate::proxy::Proxy;
use crate::reports::{corpus_build, files_under, zip_of};

#[tokio::test]
async fn a_300_file_build_goes_up_in_one_request_and_holds_what_the_reports_hold() {
    let platform = CliPlatform::start().await;
    let proxy = Proxy::start(&platform.url()).await;
    let reports = corpus_build(300);
    assert_eq!(files_under(reports.path()).len(), 300);

    let ran = platform
        .faultline_at(&proxy.url)
        .current_dir(reports.path())
        .args([
            "upload", "--job", "ci", "--build", "corpus-1", "--branch", "main", "--json", ".",
        ])
        .run()
        .await;
    ran.expect_code(0);
    let summary = ran.json();
    assert_eq!(summary["files"], 300, "{summary}");
    assert_eq!(summary["requests"], 1, "{summary}");
    let uploads = proxy.uploads();
    assert_eq!(uploads.len(), 1, "one upload request: {uploads:?}");
    assert!(
        proxy.seen().iter().all(|seen| seen.status != 429),
        "no request met a rate limit: {:?}",
        proxy.seen()
    );

    // The same files in one archive made here, sent to another build.
    let reference = platform
        .api(
            Method::POST,
            "/builds",
            Some(serde_json::json!({"job_name": "ci", "external_id": "reference-1"})),
        )
        .await
        .expect(201);
    let reference_id = reference["id"].as_str().unwrap();
    let sent = test_support::Reply::from_request(
        platform
            .platform
            .request(
                Method::POST,
                &format!("/api/v1/projects/shop/builds/{reference_id}/results"),
            )
            .bearer_auth(&platform.key)
            .header("content-type", "application/zip")
            .body(zip_of(reports.path())),
    )
    .await
    .expect(201);
    assert_eq!(sent["files"], 300);

    let build_id = summary["build_id"].as_str().unwrap();
    let build = platform.build(build_id).await;
    let expected = counts(&platform.build(reference_id).await);
    assert_eq!(counts(&build), expected);
    assert!(
        expected[0] > 900,
        "the corpus and the generated reports: {expected:?}"
    );
    assert_eq!(build["external_id"], "corpus-1");
    assert_eq!(build["branch"], "main");
    assert_eq!(build["status"], "failed", "its verdict had failures");
    assert_eq!(summary["status"], "failed");
    assert_eq!(summary["totals"]["tests"], expected[0]);
    assert_eq!(summary["totals"]["failures"], expected[2]);
    assert!(summary["new_groups"].as_u64().unwrap() > 0, "{summary}");
    assert!(
        summary["links"]["build"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/api/v1/projects/shop/builds/{build_id}"))
    );

    // The CI step runs again: same build, same bodies, nothing added.
    let again = platform
        .faultline_at(&proxy.url)
        .current_dir(reports.path())
        .args([
            "upload", "--job", "ci", "--build", "corpus-1", "--json", ".",
        ])
        .run()
        .await;
    again.expect_code(0);
    assert_eq!(again.json()["build_id"], build_id);
    assert_eq!(counts(&platform.build(build_id).await), expected);
    proxy.stop().await;
}

#[tokio::test]
async fn the_summary_on_a_ci_log_names_the_counts_and_links_and_progress_goes_to_stderr() {
    let platform = CliPlatform::start().await;
    let reports = crate::platform::TempDir::new("plain");
    let (tests, failures) = crate::reports::write_generated(&reports, 12);
    reports.write(
        "results.json",
        r#"{"results": [
            {"suite": "api", "classname": "api.Orders", "name": "lists", "status": "passed"},
            {"suite": "api", "classname": "api.Orders", "name": "creates", "status": "failed", "message": "500"}
        ]}"#,
    );
    let (tests, failures) = (tests + 2, failures + 1);
    let ran = platform
        .faultline()
        .current_dir(reports.path())
        .args([
            "upload",
            "--job",
            "ci",
            "--build",
            "plain-1",
            "--max-batch-files",
            "5",
            ".",
            "results.json",
        ])
        .run()
        .await;
    ran.expect_code(0);
    assert!(
        ran.stdout.contains(&format!("tests {tests} "))
            && ran.stdout.contains(&format!("failures {failures} ")),
        "{}",
        ran.stdout
    );
    assert!(
        ran.stdout.contains("13 files in 4 requests"),
        "{}",
        ran.stdout
    );
    assert!(
        ran.stdout.contains("/api/v1/projects/shop/builds/"),
        "{}",
        ran.stdout
    );
    // Three archives of at most 5 files and the JSON batch on its own;
    // not a terminal: one plain line per request, no bar.
    for step in ["1/4", "2/4", "3/4", "4/4"] {
        assert!(
            ran.stderr.contains(&format!("faultline: {step} requests")),
            "{}",
            ran.stderr
        );
    }
    assert!(!ran.stderr.contains('\r'), "{}", ran.stderr);
}
