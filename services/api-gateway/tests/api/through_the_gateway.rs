//! Users, projects, roles and API keys, end to end through the gateway.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use test_support::{Reply, eventually};

use crate::helpers::{self, Platform, api_key_request, problem};

#[tokio::test]
async fn a_user_signs_up_logs_in_and_reads_their_profile_through_the_gateway() {
    let platform = helpers::spawn(&[]).await;
    let ada = platform.sign_up_and_log_in("ada@example.com").await;
    let me = platform
        .send(Method::GET, "/api/v1/me", Some(&ada.access_token), None)
        .await;
    assert_eq!(me.status, StatusCode::OK);
    for header in ["x-request-id", "ratelimit", "ratelimit-policy"] {
        assert!(me.headers.contains_key(header), "{header}");
    }
    assert_eq!(me.body["email"], "ada@example.com");

    // Accept-header version selection reaches the same route.
    let me = Reply::from_request(
        platform
            .request(Method::GET, "/api/me")
            .bearer_auth(&ada.access_token)
            .header("accept", "application/vnd.faultline.v1+json"),
    )
    .await;
    assert_eq!(me.status, StatusCode::OK);

    platform
        .send(Method::GET, "/api/v1/me", None, None)
        .await
        .expect_problem(401, "auth.required");
}

#[tokio::test]
async fn internal_unknown_and_unversioned_paths_are_404_and_trace_is_refused() {
    let platform = helpers::spawn(&[]).await;
    for path in [
        "/internal/v1/access?user=x&project=y",
        "/api/v0/me",
        "/api/v9/me",
        "/api/v1/nowhere",
        "/v1/me",
        "/api/v1/internal/v1/access",
    ] {
        platform
            .send(Method::GET, path, None, None)
            .await
            .expect_problem(404, "route.not_found");
    }
    let wrong_method = platform
        .send(Method::DELETE, "/api/v1/me", None, None)
        .await;
    assert_eq!(wrong_method.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(wrong_method.header("allow"), Some("GET, PATCH"));
    let trace = platform.send(Method::TRACE, "/api/v1/me", None, None).await;
    assert_eq!(trace.status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn the_project_comes_from_the_path_a_header_or_the_query_and_sources_must_agree() {
    let platform = helpers::spawn(&[]).await;
    let owner = platform.sign_up_and_log_in("owner@example.com").await;
    let alpha = platform.create_project(&owner, "alpha").await;
    let beta = platform.create_project(&owner, "beta").await;
    let alpha_id = alpha["id"].as_str().unwrap();

    // Slug and id both work in the path.
    for reference in ["alpha", alpha_id] {
        let project = platform
            .send(
                Method::GET,
                &format!("/api/v1/projects/{reference}"),
                Some(&owner.access_token),
                None,
            )
            .await
            .expect(200);
        assert_eq!(project["id"], alpha_id, "{reference}");
    }
    // Agreeing sources are fine; disagreeing ones are a 400.
    let agreeing = Reply::from_request(
        platform
            .request(
                Method::GET,
                &format!("/api/v1/projects/alpha/members?project_id={alpha_id}"),
            )
            .bearer_auth(&owner.access_token)
            .header("x-project-id", alpha_id),
    )
    .await;
    assert_eq!(agreeing.status, StatusCode::OK);
    let conflicts = [
        ("/api/v1/projects/alpha/members", Some("beta")),
        ("/api/v1/projects/alpha/members?project_id=beta", None),
        (
            "/api/v1/projects/alpha/members?project_id=beta",
            Some("alpha"),
        ),
        (
            "/api/v1/projects/alpha/members",
            Some(beta["id"].as_str().unwrap()),
        ),
    ];
    for (path, header) in conflicts {
        let mut request = platform
            .request(Method::GET, path)
            .bearer_auth(&owner.access_token);
        if let Some(header) = header {
            request = request.header("x-project-id", header);
        }
        let conflict = Reply::from_request(request).await;
        assert_eq!(
            (conflict.status, conflict.code()),
            (StatusCode::BAD_REQUEST, "gateway.project_conflict"),
            "{path} {header:?}"
        );
        conflict.expect_problem(400, "gateway.project_conflict");
    }
}

#[tokio::test]
async fn roles_gate_writes_and_non_members_get_the_same_404_as_a_missing_project() {
    let platform = helpers::spawn(&[]).await;
    let owner = platform.sign_up_and_log_in("owner@example.com").await;
    let viewer = platform.sign_up_and_log_in("viewer@example.com").await;
    let stranger = platform.sign_up_and_log_in("stranger@example.com").await;
    platform.create_project(&owner, "gamma").await;
    platform
        .add_member(&owner, "gamma", &viewer, "viewer")
        .await;

    let read = platform
        .send(
            Method::GET,
            "/api/v1/projects/gamma",
            Some(&viewer.access_token),
            None,
        )
        .await;
    assert_eq!(read.status, StatusCode::OK);
    platform
        .send(
            Method::PATCH,
            "/api/v1/projects/gamma",
            Some(&viewer.access_token),
            Some(json!({ "name": "mine now" })),
        )
        .await
        .expect_problem(403, "gateway.role_too_low");

    let (status, not_member) = problem(
        platform
            .send(
                Method::GET,
                "/api/v1/projects/gamma",
                Some(&stranger.access_token),
                None,
            )
            .await,
    );
    let (missing_status, missing) = problem(
        platform
            .send(
                Method::GET,
                "/api/v1/projects/no-such-project",
                Some(&stranger.access_token),
                None,
            )
            .await,
    );
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(missing_status, StatusCode::NOT_FOUND);
    let strip = |mut v: Value| {
        v.as_object_mut().unwrap().remove("request_id");
        v
    };
    assert_eq!(
        strip(not_member),
        strip(missing),
        "identical bodies: no existence leak"
    );
}

#[tokio::test]
async fn a_removed_member_loses_access_at_once_through_the_change_feed() {
    let platform = helpers::spawn(&[("service.access_cache_secs", "3600".to_owned())]).await;
    let owner = platform.sign_up_and_log_in("owner@example.com").await;
    let member = platform.sign_up_and_log_in("member@example.com").await;
    platform.create_project(&owner, "delta").await;
    platform
        .add_member(&owner, "delta", &member, "member")
        .await;
    let before = platform
        .send(
            Method::GET,
            "/api/v1/projects/delta",
            Some(&member.access_token),
            None,
        )
        .await;
    assert_eq!(before.status, StatusCode::OK, "cached now, for an hour");

    let removed = platform
        .send(
            Method::DELETE,
            &format!("/api/v1/projects/delta/members/{}", member.id),
            Some(&owner.access_token),
            None,
        )
        .await;
    assert!(removed.status.is_success(), "{}", removed.text);
    platform.wait_for_access_feed().await;
    let after = platform
        .send(
            Method::GET,
            "/api/v1/projects/delta",
            Some(&member.access_token),
            None,
        )
        .await;
    assert_eq!(
        after.status,
        StatusCode::NOT_FOUND,
        "the cached access was dropped by the change feed"
    );
}

/// The author of a change sees it on their next request: a project just
/// created is there at once, though "no such project" was cached for it a
/// moment earlier and the change feed is not polled in between.
#[tokio::test]
async fn a_project_just_created_is_there_for_its_creator_at_once() {
    let platform = helpers::spawn(&[
        ("service.access_cache_secs", "3600".to_owned()),
        ("service.poll_interval_ms", "600000".to_owned()),
    ])
    .await;
    let owner = platform.sign_up_and_log_in("creator@example.com").await;
    let read = || {
        platform.send(
            Method::GET,
            "/api/v1/projects/echo",
            Some(&owner.access_token),
            None,
        )
    };
    assert_eq!(read().await.status, StatusCode::NOT_FOUND);
    assert_eq!(read().await.status, StatusCode::NOT_FOUND, "now cached");
    platform.create_project(&owner, "echo").await;
    assert_eq!(read().await.status, StatusCode::OK);
    platform
        .send(
            Method::POST,
            "/api/v1/projects/echo/api-keys",
            Some(&owner.access_token),
            Some(api_key_request("member")),
        )
        .await
        .expect(201);
}

#[tokio::test]
async fn an_api_key_acts_only_on_its_own_project_with_its_role() {
    let platform = helpers::spawn(&[]).await;
    let owner = platform.sign_up_and_log_in("owner@example.com").await;
    platform.create_project(&owner, "epsilon").await;
    platform.create_project(&owner, "zeta").await;
    let key = platform.create_api_key(&owner, "epsilon").await;

    // User-only routes refuse API keys.
    platform
        .send(Method::GET, "/api/v1/projects/epsilon", Some(&key), None)
        .await
        .expect_problem(403, "gateway.user_required");
    let (status, _) = problem(
        platform
            .send(Method::GET, "/api/v1/me", Some(&key), None)
            .await,
    );
    assert_eq!(status, StatusCode::FORBIDDEN);

    let (status, body) = problem(
        platform
            .send(
                Method::GET,
                "/api/v1/me",
                Some("flt_00000000000000000000000000000000000000"),
                None,
            )
            .await,
    );
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
}

#[tokio::test]
async fn a_logged_out_sessions_token_is_refused_within_the_poll_interval() {
    let platform = helpers::spawn(&[]).await;
    let user = platform.sign_up_and_log_in("bye@example.com").await;
    assert_eq!(
        platform
            .send(Method::GET, "/api/v1/me", Some(&user.access_token), None)
            .await
            .status,
        StatusCode::OK
    );
    let logout = platform
        .send(
            Method::POST,
            "/api/v1/auth/logout",
            Some(&user.access_token),
            None,
        )
        .await;
    assert_eq!(logout.status, StatusCode::NO_CONTENT);
    platform.wait_for_revocation_feed().await;
    platform
        .send(Method::GET, "/api/v1/me", Some(&user.access_token), None)
        .await
        .expect_problem(401, "auth.invalid_token");
}

/// Cached access is only as good as the change feed that would revoke it:
/// once the feed cannot be read, the gateway stops answering from its cache
/// (here the project service is gone, so it answers 503 from the failed
/// lookup) instead of honouring possibly revoked access for the cache's
/// whole lifetime.
#[tokio::test]
async fn cached_access_is_trusted_only_while_the_change_feed_is_read() {
    let platform = helpers::spawn(&[
        ("service.access_cache_secs", "3600".to_owned()),
        ("service.poll_interval_ms", "100".to_owned()),
    ])
    .await;
    let owner = platform.sign_up_and_log_in("feed@example.com").await;
    platform.create_project(&owner, "foxtrot").await;
    // The feed has seen the creation (which drops the creator's entries).
    platform.wait_for_access_feed().await;
    for _ in 0..2 {
        let read = platform
            .send(
                Method::GET,
                "/api/v1/projects/foxtrot",
                Some(&owner.access_token),
                None,
            )
            .await;
        assert_eq!(read.status, StatusCode::OK);
    }
    let hits = platform.metric("gateway_access_cache_hits_total").await;
    assert!(hits >= 1.0, "the second read came from the cache");

    let Platform {
        project, gateway, ..
    } = platform;
    project.stop().await;
    // The cache is trusted for 5 polls (at least 2 s) after the feed's last
    // read; until then reads still come from it (and fail at the project
    // service, which is gone). Then a read is not answered from the cache:
    // the access lookup itself fails.
    let hits = || gateway.metric("gateway_access_cache_hits_total");
    let refused = eventually(
        "a read not answered from the cache once the change feed is stale",
        Duration::from_secs(10),
        || async {
            let hits_before = hits().await;
            let read = Reply::from_request(
                gateway
                    .request(Method::GET, "/api/v1/projects/foxtrot")
                    .bearer_auth(&owner.access_token),
            )
            .await;
            (hits().await == hits_before).then_some(read)
        },
    )
    .await;
    refused.expect_problem(503, "dependency.unavailable");
}
