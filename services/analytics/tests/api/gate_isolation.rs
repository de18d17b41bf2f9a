//! Row level security through the failure service's views: another
//! project's build, named under your project's path, answers exactly as a
//! build that does not exist; and so does another project's rule.

use serde_json::Value;
use test_support::Reply;
use uuid::Uuid;

use crate::helpers::{Platform, Relay, fail, gate_path, pass, rules_path};

/// The answer as bytes, without the request id (the only part two
/// requests may differ in).
fn without_request_id(reply: &Reply) -> (u16, Option<String>, String) {
    let mut body: Value = serde_json::from_str(&reply.text).unwrap();
    body.as_object_mut().unwrap().remove("request_id");
    (
        reply.status.as_u16(),
        reply.header("content-type").map(str::to_owned),
        body.to_string(),
    )
}

#[tokio::test]
async fn another_projects_build_is_a_404_byte_identical_to_a_missing_one() {
    let platform = Platform::start(Relay::Nowhere).await;
    let theirs = platform.new_project().await;
    let their_build = platform
        .build(&theirs, "ci", "main", &[fail("t1", "A")], "failed")
        .await;
    platform
        .rule(&theirs, "strict", "max_failures", Some(0.0), "*")
        .await;
    assert_eq!(
        platform.gate(&theirs, their_build).await.expect(200)["status"],
        "failed"
    );

    let ours = platform.new_project().await;
    let our_build = platform
        .build(&ours, "ci", "main", &[pass("t1")], "passed")
        .await;
    let missing = Uuid::now_v7();
    let app = &platform.analytics;
    for (foreign, absent) in [
        (gate_path(ours.id, their_build), gate_path(ours.id, missing)),
        (
            format!("/v1/projects/{}/builds/{their_build}/comparison", ours.id),
            format!("/v1/projects/{}/builds/{missing}/comparison", ours.id),
        ),
        (
            format!(
                "/v1/projects/{}/builds/{our_build}/comparison?with={their_build}",
                ours.id
            ),
            format!(
                "/v1/projects/{}/builds/{our_build}/comparison?with={missing}",
                ours.id
            ),
        ),
    ] {
        let foreign = app.get(&foreign, &ours.ci).await;
        foreign.expect_problem(404, "build.not_found");
        let absent = app.get(&absent, &ours.ci).await;
        assert_eq!(without_request_id(&foreign), without_request_id(&absent));
    }

    // Their rule is not ours either.
    let their_rules = app
        .get(&rules_path(&theirs), &theirs.viewer)
        .await
        .expect(200);
    let their_rule = their_rules["items"][0]["id"].as_str().unwrap();
    let foreign = app
        .get(&format!("{}/{their_rule}", rules_path(&ours)), &ours.viewer)
        .await;
    let absent = app
        .get(&format!("{}/{missing}", rules_path(&ours)), &ours.viewer)
        .await;
    foreign.expect_problem(404, "quality_gate_rule.not_found");
    assert_eq!(without_request_id(&foreign), without_request_id(&absent));
    let ours_listed = app.get(&rules_path(&ours), &ours.viewer).await.expect(200);
    assert_eq!(ours_listed["items"], serde_json::json!([]));

    // Their project's id in our path, with our context: refused.
    app.get(&gate_path(theirs.id, their_build), &ours.ci)
        .await
        .expect_problem(400, "project.context_mismatch");
    // Our build's gate knows nothing of their failing build.
    let ours_gate = platform.gate(&ours, our_build).await.expect(200);
    assert_eq!(ours_gate["status"], "passed");
    assert_eq!(ours_gate["rules"], serde_json::json!([]));
}
