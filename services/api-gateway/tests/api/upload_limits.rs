//! A project's plan limits its result uploads at the gateway
//! (`uploads_per_minute`, `upload_burst`), each project on its own.

use reqwest::{Method, StatusCode};

use crate::helpers::{self, FailureBackend, header};

#[tokio::test]
async fn a_free_plan_project_gets_429_past_its_upload_rate_and_other_projects_upload_on() {
    let failure = FailureBackend::spawn().await;
    let platform = helpers::spawn(&[failure.upstream_override()]).await;
    let owner = platform.sign_up_and_log_in("owner@example.com").await;
    // New projects are on the free plan: 10 uploads a minute, 5 at once.
    platform.create_project(&owner, "busy").await;
    platform.create_project(&owner, "calm").await;
    let busy = platform.create_api_key(&owner, "busy").await;
    let calm = platform.create_api_key(&owner, "calm").await;
    let build = platform.create_build(&busy, "busy").await;

    for upload in 1..=5 {
        let response = platform.upload_results(&busy, "busy", &build).await;
        assert_eq!(response.status, StatusCode::CREATED, "upload {upload}");
        assert!(header(&response, "ratelimit").starts_with("\"uploads\";"));
    }

    let refused = platform.upload_results(&busy, "busy", &build).await;
    refused.expect_problem(429, "gateway.rate_limited");
    assert_eq!(
        header(&refused, "ratelimit-policy"),
        "\"uploads\";q=10;w=60;burst=5"
    );
    assert!(header(&refused, "ratelimit").starts_with("\"uploads\";r=0;"));
    let retry_after: u64 = header(&refused, "retry-after").parse().unwrap();
    assert!((1..=6).contains(&retry_after), "retry-after {retry_after}");

    // Reading is not uploading: the project's other requests go on.
    let listed = platform
        .send(
            Method::GET,
            "/api/v1/projects/busy/builds",
            Some(&busy),
            None,
        )
        .await;
    assert_eq!(listed.status, StatusCode::OK);

    let other = platform.create_build(&calm, "calm").await;
    let response = platform.upload_results(&calm, "calm", &other).await;
    assert_eq!(
        response.status,
        StatusCode::CREATED,
        "another project has its own upload rate"
    );
}
