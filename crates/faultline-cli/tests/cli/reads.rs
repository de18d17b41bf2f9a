//! `faultline failures` and `faultline flaky`: JSON a script reads, and
//! tables for a person.

use crate::platform::{CliPlatform, TempDir};
use crate::reports::surefire_report;

/// A Surefire report whose one test passed on its rerun: flaky at once.
const RERUN_PASSED: &str = r#"<testsuite name="com.example.PaymentTest" tests="2" failures="0">
  <testcase classname="com.example.PaymentTest" name="charges_card" time="0.2">
    <flakyFailure message="timed out after 5s" type="java.net.SocketTimeoutException">java.net.SocketTimeoutException: timed out
	at com.example.PaymentTest.charges_card(PaymentTest.java:31)</flakyFailure>
  </testcase>
  <testcase classname="com.example.PaymentTest" name="refunds" time="0.1"/>
</testsuite>"#;

#[tokio::test]
async fn failures_and_flaky_tests_come_as_json_and_as_tables() {
    let platform = CliPlatform::start().await;
    let reports = TempDir::new("reads");
    reports.write(
        "TEST-cart.xml",
        &surefire_report("com.example.CartTest", 1, 2),
    );
    reports.write("TEST-pay.xml", RERUN_PASSED);
    platform
        .faultline()
        .current_dir(reports.path())
        .args([
            "upload", "--job", "ci", "--build", "r-1", "--branch", "main", ".",
        ])
        .run()
        .await
        .expect_code(0);

    let failures = platform
        .faultline()
        .args(["failures", "--since", "1h", "--json"])
        .run()
        .await;
    failures.expect_code(0);
    let items = failures.json()["items"].as_array().unwrap().clone();
    let mut names: Vec<&str> = items
        .iter()
        .filter(|item| item["attempt"] == 0)
        .map(|item| item["test"]["name"].as_str().unwrap())
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["fails_0", "fails_1"], "{items:?}");
    let table = platform.faultline().args(["failures"]).run().await;
    table.expect_code(0);
    assert!(table.stdout.starts_with("WHEN (UTC)"), "{}", table.stdout);
    assert!(
        table.stdout.contains("com.example.CartTest › fails_1")
            && table.stdout.contains("expected 1 but was 2"),
        "{}",
        table.stdout
    );

    let flaky = platform.faultline().args(["flaky", "--json"]).run().await;
    flaky.expect_code(0);
    let items = flaky.json()["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(items[0]["test"]["name"], "charges_card");
    assert_eq!(items[0]["state"], "flaky");
    let table = platform.faultline().args(["flaky"]).run().await;
    table.expect_code(0);
    let lines: Vec<&str> = table.stdout.lines().collect();
    assert!(lines[0].starts_with("STATE"), "{}", table.stdout);
    assert!(
        lines[1].starts_with("flaky")
            && lines[1].ends_with("com.example.PaymentTest › charges_card"),
        "{}",
        table.stdout
    );
}
