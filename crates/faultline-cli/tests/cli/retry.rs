//! Retried uploads: after a lost answer (the server counted the first
//! attempt, the client saw a 503 and sent it again with the same
//! Idempotency-Key) nothing is counted twice; after a 429 the command
//! waits the `Retry-After` it was given.

use std::time::Duration;

use crate::platform::{CliPlatform, TempDir, counts};
use crate::proxy::Proxy;
use crate::reports::write_generated;

#[tokio::test]
async fn an_upload_whose_answer_was_lost_to_a_503_is_retried_and_counted_once() {
    let platform = CliPlatform::start().await;
    let proxy = Proxy::start(&platform.url()).await;
    proxy.lose_next_upload_answer();
    let reports = TempDir::new("retry");
    let (tests, failures) = write_generated(&reports, 20);

    let ran = platform
        .faultline_at(&proxy.url)
        .current_dir(reports.path())
        .args(["upload", "--job", "ci", "--build", "retry-1", "--json", "."])
        .run()
        .await;
    ran.expect_code(0);

    let uploads = proxy.uploads();
    let statuses: Vec<u16> = uploads.iter().map(|seen| seen.status).collect();
    assert_eq!(
        statuses,
        [503, 200],
        "the lost answer, then the recorded one"
    );
    let build = platform
        .build(ran.json()["build_id"].as_str().unwrap())
        .await;
    let [counted_tests, _, counted_failures, ..] = counts(&build);
    assert_eq!(counted_tests, i64::try_from(tests).unwrap());
    assert_eq!(counted_failures, i64::try_from(failures).unwrap());
    proxy.stop().await;
}

#[tokio::test]
async fn an_upload_refused_with_429_is_sent_again_after_its_retry_after() {
    let platform = CliPlatform::start().await;
    let proxy = Proxy::start(&platform.url()).await;
    proxy.refuse_next_upload(2);
    let reports = TempDir::new("retry-after");
    let (tests, _) = write_generated(&reports, 3);

    let ran = platform
        .faultline_at(&proxy.url)
        .current_dir(reports.path())
        .args(["upload", "--job", "ci", "--build", "retry-2", "--json", "."])
        .run()
        .await;
    ran.expect_code(0);
    let uploads = proxy.uploads();
    let statuses: Vec<u16> = uploads.iter().map(|seen| seen.status).collect();
    assert_eq!(statuses, [429, 201]);
    let waited = uploads[1].at - uploads[0].at;
    assert!(
        waited >= Duration::from_secs(2),
        "the second attempt came {waited:?} after a Retry-After of 2 s"
    );
    assert_eq!(ran.json()["totals"]["tests"], tests);
    proxy.stop().await;
}
