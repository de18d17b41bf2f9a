//! A retried upload after a lost answer: the server counted the first
//! attempt, the client saw a 503 and sent it again with the same
//! Idempotency-Key, and nothing is counted twice.

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
