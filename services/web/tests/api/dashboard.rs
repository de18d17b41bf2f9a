//! The morning routine through the pages: a project, an API key, an
//! upload, the dashboard, the build, a group labelled, a test quarantined.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::browser::{Dashboard, PageReply, between};

#[tokio::test]
async fn a_new_user_creates_a_project_uploads_and_triages_from_the_pages() {
    let dashboard = Dashboard::start().await;
    let mut browser = dashboard.signed_up("owner@example.com").await;

    let created = browser
        .post("/projects", &[("name", "Shop"), ("slug", "shop")])
        .await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.text);
    assert_eq!(created.header("location"), Some("/p/shop"));
    dashboard.on_the_largest_plan("shop").await;
    let empty = browser.get("/p/shop").await.expect_page();
    assert!(
        empty.text.contains("id=\"build-count\">0<"),
        "{}",
        empty.text
    );

    browser.get("/p/shop/settings").await.expect_page();
    let key_page = browser
        .post(
            "/p/shop/settings/api-keys",
            &[("name", "ci"), ("role", "member"), ("days", "30")],
        )
        .await
        .expect_page();
    let key = between(&key_page.text, "id=\"new-api-key\">", "<")
        .expect("the new key is shown once")
        .to_owned();
    assert!(key.len() > 20, "{key}");
    let again = browser.get("/p/shop/settings").await.expect_page();
    assert!(!again.text.contains(&key), "the secret is shown only once");

    let platform = &dashboard.platform;
    let build = platform.create_build(&key, "shop").await;
    let uploaded = platform.upload_results(&key, "shop", &build).await;
    assert!(uploaded.status.is_success(), "{}", uploaded.text);

    let shown = browser.get("/p/shop").await.expect_page();
    assert!(
        shown.text.contains("id=\"build-count\">1<"),
        "{}",
        shown.text
    );

    // Once the build has finished, the analytics figures follow (through
    // the failure service's events): the period's pass rate, one of two.
    let finished = platform
        .send(
            Method::PATCH,
            &format!("/api/v1/projects/shop/builds/{build}"),
            Some(&key),
            Some(json!({ "status": "failed" })),
        )
        .await;
    assert!(finished.status.is_success(), "{}", finished.text);
    dashboard.wait_for_analytics(&key, 1).await;
    let page = browser.get("/p/shop").await.expect_page();
    assert!(
        page.text.contains("id=\"period-pass-rate\">50.0%<"),
        "{}",
        page.text
    );
    assert!(
        page.text.contains("id=\"period-failed\">1<"),
        "{}",
        page.text
    );
    let projects = browser.get("/").await.expect_page();
    assert_eq!(
        between(&projects.text, "class=\"pass-rate\">", "<"),
        Some("50.0%"),
        "{}",
        projects.text
    );
    assert!(
        shown.text.contains(&format!("/p/shop/builds/{build}")),
        "{}",
        shown.text
    );
    assert!(
        shown.text.contains("<svg"),
        "the trends are drawn: {}",
        shown.text
    );

    let build_page = browser
        .get(&format!("/p/shop/builds/{build}"))
        .await
        .expect_page();
    assert!(
        build_page.text.contains("data-total=\"tests\">2<"),
        "{}",
        build_page.text
    );
    assert!(
        build_page.text.contains("data-total=\"failures\">1<"),
        "{}",
        build_page.text
    );
    let group = between(&build_page.text, "href=\"/p/shop/groups/", "\"")
        .expect("the failure's group is linked")
        .to_owned();

    let group_path = format!("/p/shop/groups/{group}");
    browser.get(&group_path).await.expect_page();
    let labelled = browser
        .post(&format!("{group_path}/label"), &[("label", "product_bug")])
        .await;
    assert_eq!(labelled.status, StatusCode::SEE_OTHER, "{}", labelled.text);
    let group_page = browser.get(&group_path).await.expect_page();
    assert!(
        group_page.text.contains("id=\"group-label\">product_bug<"),
        "{}",
        group_page.text
    );
    let through_api = platform
        .send(
            Method::GET,
            &format!("/api/v2/projects/shop/failures/{group}"),
            Some(&key),
            None,
        )
        .await
        .expect(200);
    assert_eq!(through_api["label"], "product_bug");

    let failures = platform
        .send(
            Method::GET,
            &format!("/api/v1/projects/shop/failures?build={build}"),
            Some(&key),
            None,
        )
        .await
        .expect(200);
    let test_id = failures["items"][0]["test"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    browser.get("/p/shop/flaky").await.expect_page();
    let quarantined = browser
        .post(
            &format!("/p/shop/flaky/{test_id}/quarantine"),
            &[("quarantined", "true")],
        )
        .await;
    assert_eq!(
        quarantined.status,
        StatusCode::SEE_OTHER,
        "{}",
        quarantined.text
    );
    let flaky_page = browser.get("/p/shop/flaky").await.expect_page();
    let list = between(&flaky_page.text, "id=\"quarantine-list\">", "</ul>").unwrap();
    assert!(list.contains("fails"), "{}", flaky_page.text);
    let ci_list = platform
        .send(
            Method::GET,
            "/api/v1/projects/shop/quarantine",
            Some(&key),
            None,
        )
        .await
        .expect(200);
    assert_eq!(ci_list["items"].as_array().unwrap().len(), 1, "{ci_list}");

    let lifted = browser
        .post(
            &format!("/p/shop/flaky/{test_id}/quarantine"),
            &[("quarantined", "false")],
        )
        .await;
    assert_eq!(lifted.status, StatusCode::SEE_OTHER, "{}", lifted.text);
    let ci_list = platform
        .send(
            Method::GET,
            "/api/v1/projects/shop/quarantine",
            Some(&key),
            None,
        )
        .await
        .expect(200);
    assert_eq!(ci_list["items"], json!([]));
}

#[tokio::test]
async fn another_user_sees_the_same_not_found_as_for_a_missing_project() {
    let dashboard = Dashboard::start().await;
    let mut owner = dashboard.signed_up("owner@example.com").await;
    let created = owner
        .post("/projects", &[("name", "Shop"), ("slug", "shop")])
        .await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.text);
    owner.get("/p/shop").await.expect_page();

    let mut stranger = dashboard.signed_up("stranger@example.com").await;
    let theirs = stranger.get("/p/shop").await;
    let missing = stranger.get("/p/no-such-project").await;
    assert_eq!(theirs.status, StatusCode::NOT_FOUND, "{}", theirs.text);
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(theirs.text, missing.text);
    assert!(
        theirs.text.contains("not a member"),
        "says what to do: {}",
        theirs.text
    );
    for path in ["/p/shop/settings", "/p/shop/flaky"] {
        assert_eq!(
            stranger.get(path).await.status,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
}
