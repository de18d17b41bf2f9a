//! Deprecated routes say so: the v1 failure routes carry `Deprecation` and
//! `Sunset` from the route table, the v2 failure routes do not.

use reqwest::Method;
use uuid::Uuid;

use crate::helpers::{self, FailureBackend};

#[tokio::test]
async fn v1_failure_routes_carry_deprecation_and_sunset_and_v2_routes_do_not() {
    let failure = FailureBackend::spawn().await;
    let platform = helpers::spawn(&[failure.upstream_override()]).await;
    let owner = platform.sign_up_and_log_in("owner@example.com").await;
    platform.create_project(&owner, "shop").await;
    let token = Some(owner.access_token.as_str());

    let list = platform
        .send(Method::GET, "/api/v1/projects/shop/failures", token, None)
        .await;
    let item = format!("/api/v1/projects/shop/failures/{}", Uuid::now_v7());
    let one = platform.send(Method::GET, &item, token, None).await;
    assert_eq!(list.status.as_u16(), 200, "{}", list.text);
    assert_eq!(one.status.as_u16(), 404, "{}", one.text);
    for reply in [&list, &one] {
        assert_eq!(helpers::header(reply, "deprecation"), "@1796083200");
        assert_eq!(
            helpers::header(reply, "sunset"),
            "Tue, 01 Jun 2027 00:00:00 GMT"
        );
    }

    let comments = format!("/api/v2/projects/shop/failures/{}/comments", Uuid::now_v7());
    let v2 = platform.send(Method::GET, &comments, token, None).await;
    assert_eq!(v2.code(), "failure_group.not_found", "{}", v2.text);
    assert!(!v2.headers.contains_key("deprecation"));
    assert!(!v2.headers.contains_key("sunset"));
    // Other v1 routes are not deprecated.
    let builds = platform
        .send(Method::GET, "/api/v1/projects/shop/builds", token, None)
        .await;
    assert_eq!(builds.status.as_u16(), 200, "{}", builds.text);
    assert!(!builds.headers.contains_key("deprecation"));
}
