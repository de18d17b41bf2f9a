//! Errors are one line on stderr with a documented exit code: a bad key,
//! a server that cannot be reached (named), no report files (the patterns
//! listed), a report the server refuses (the file and the reason named,
//! nothing stored).

use reqwest::Method;

use crate::platform::{CliPlatform, Faultline, TempDir};
use crate::reports::surefire_report;

#[tokio::test]
async fn a_bad_key_no_files_and_a_refused_report_each_exit_with_their_code() {
    let platform = CliPlatform::start().await;
    let reports = TempDir::new("errors");
    reports.write("good/TEST-a.xml", &surefire_report("com.example.A", 2, 0));

    let bad_key = platform
        .faultline()
        .env("FAULTLINE_API_KEY", "flt_notarealkey000000000000000000000")
        .current_dir(reports.path())
        .args(["upload", "--job", "ci", "--build", "e-1", "good"])
        .run()
        .await;
    bad_key.expect_code(3);
    assert!(
        bad_key.error_line().contains("refused the API key")
            && !bad_key.stderr.contains("notarealkey"),
        "{}",
        bad_key.stderr
    );

    let no_files = platform
        .faultline()
        .current_dir(reports.path())
        .args([
            "upload",
            "--job",
            "ci",
            "--build",
            "e-1",
            "build/**/*.xml",
            "missing-dir",
        ])
        .run()
        .await;
    no_files.expect_code(5);
    assert_eq!(
        no_files.error_line(),
        "faultline: error: no report files found for `build/**/*.xml`, `missing-dir`"
    );

    reports.write("mixed/TEST-a.xml", &surefire_report("com.example.A", 2, 0));
    reports.write(
        "mixed/TEST-broken.xml",
        "<testsuite name=\"b\" tests=\"1\"><testcase classname=\"b\" name=\"t\"><failure message=\"cut off",
    );
    let refused = platform
        .faultline()
        .current_dir(reports.path())
        .args(["upload", "--job", "ci", "--build", "e-2", "mixed"])
        .run()
        .await;
    refused.expect_code(6);
    let line = refused.error_line();
    assert!(
        line.starts_with("faultline: error: the server refused the report mixed/TEST-broken.xml: ")
            && line.contains("(junit."),
        "{line}"
    );
    let build = platform.build_of("ci", "e-2").await;
    assert_eq!(
        build["totals"]["tests"], 0,
        "nothing of the archive is stored"
    );
    assert_eq!(build["status"], "running");

    let wrong_project = platform
        .faultline()
        .env("FAULTLINE_PROJECT", "someone-elses")
        .args(["flaky"])
        .run()
        .await;
    wrong_project.expect_code(3);
    assert!(
        wrong_project.error_line().contains("someone-elses"),
        "{}",
        wrong_project.stderr
    );
    let listed = platform
        .api(Method::GET, "/builds?job=ci", None)
        .await
        .expect(200);
    assert_eq!(
        listed["items"].as_array().unwrap().len(),
        1,
        "only e-2 was created"
    );
}

#[tokio::test]
async fn a_server_that_cannot_be_reached_is_named_after_the_retries() {
    // A port that was just free: nothing listens there.
    let port = test_support::later_port();
    let url = format!("http://127.0.0.1:{port}");
    let ran = Faultline::new()
        .env("FAULTLINE_URL", &url)
        .env("FAULTLINE_API_KEY", "flt_whatever")
        .env("FAULTLINE_PROJECT", "shop")
        .args(["--attempts", "2", "flaky"])
        .run()
        .await;
    ran.expect_code(4);
    let line = ran.error_line();
    assert!(
        line.starts_with(&format!(
            "faultline: error: cannot reach the Faultline server at {url} (--url or FAULTLINE_URL): "
        )) && line.contains("after 2 attempts"),
        "{line}"
    );
}

#[tokio::test]
async fn a_missing_setting_is_an_error_naming_how_to_give_it() {
    let ran = Faultline::new()
        .env("FAULTLINE_URL", "http://127.0.0.1:9")
        .args(["quarantine"])
        .run()
        .await;
    ran.expect_code(2);
    assert!(
        ran.error_line().contains("FAULTLINE_API_KEY"),
        "{}",
        ran.stderr
    );
}
