//! `faultline quarantine` in each format gives back exactly the tests
//! quarantined; the JUnit skip report, uploaded, records each of them as
//! skipped under the same test id.

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::json;

use crate::platform::{CliPlatform, TempDir};
use crate::reports::surefire_report;

#[tokio::test]
async fn quarantine_output_round_trips_in_every_format() {
    let platform = CliPlatform::start().await;
    let reports = TempDir::new("quarantine");
    reports.write("TEST-a.xml", &surefire_report("com.example.CartTest", 2, 3));
    let ran = platform
        .faultline()
        .current_dir(reports.path())
        .args(["upload", "--job", "ci", "--build", "q-1", "--json", "."])
        .run()
        .await;
    ran.expect_code(0);
    let build_id = ran.json()["build_id"].as_str().unwrap().to_owned();
    let failing: BTreeSet<String> = platform
        .failures_of(&build_id)
        .await
        .iter()
        .map(|failure| failure["test"]["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(failing.len(), 3);
    let quarantined: BTreeSet<String> = failing.iter().take(2).cloned().collect();
    for test in &quarantined {
        let reply = platform
            .api(
                Method::PUT,
                &format!("/quarantine/{test}"),
                Some(json!({"reason": "flaky \"network\" <timeouts> & retries"})),
            )
            .await;
        assert_eq!(reply.status, 201, "{}", reply.text);
    }

    let text = platform
        .faultline()
        .args(["quarantine", "--format", "text"])
        .run()
        .await;
    text.expect_code(0);
    let ids: BTreeSet<String> = text.stdout.lines().map(str::to_owned).collect();
    assert_eq!(ids, quarantined);

    let listed = platform
        .faultline()
        .args(["quarantine", "--format", "json"])
        .run()
        .await;
    listed.expect_code(0);
    let ids: BTreeSet<String> = listed.json()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["test"]["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, quarantined);

    let skip = platform
        .faultline()
        .args(["quarantine", "--format", "junit-skip"])
        .run()
        .await;
    skip.expect_code(0);
    reports.write("skip/quarantined.xml", &skip.stdout);
    let uploaded = platform
        .faultline()
        .current_dir(reports.path())
        .args(["upload", "--job", "ci", "--build", "q-2", "--json", "skip"])
        .run()
        .await;
    uploaded.expect_code(0);
    let summary = uploaded.json();
    assert_eq!(summary["totals"]["tests"], 2, "{summary}");
    assert_eq!(summary["totals"]["skipped"], 2, "{summary}");
    let skip_build = summary["build_id"].as_str().unwrap();
    for test in &quarantined {
        let history = platform
            .api(Method::GET, &format!("/tests/{test}/history?limit=1"), None)
            .await
            .expect(200);
        let latest = &history["results"][0];
        assert_eq!(latest["build"]["id"], skip_build, "{history}");
        assert_eq!(latest["status"], "skipped", "{history}");
    }
}
