//! What every answer carries: a strict CSP, no framing, HttpOnly
//! SameSite cookies, CSRF tokens, and long-cached hashed assets.

use reqwest::StatusCode;

use crate::browser::{Dashboard, PageReply, between};

#[tokio::test]
async fn pages_forbid_inline_script_and_framing_and_are_never_cached() {
    let dashboard = Dashboard::start().await;
    let mut browser = dashboard.browser();
    for path in ["/sign-in", "/sign-up", "/no-such-page"] {
        let page = browser.get(path).await;
        let csp = page.header("content-security-policy").unwrap();
        assert!(csp.contains("script-src 'self'"), "{path}: {csp}");
        assert!(csp.contains("style-src 'self'"), "{path}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
        assert_eq!(page.header("x-frame-options"), Some("DENY"), "{path}");
        assert_eq!(page.header("cache-control"), Some("no-store"), "{path}");
        assert!(!page.text.contains("<script>"), "{path}: no inline script");
        assert!(!page.text.contains("style=\""), "{path}: no inline style");
    }
    let missing = browser.get("/no-such-page").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(
        missing.text.contains("Check the address"),
        "{}",
        missing.text
    );
}

#[tokio::test]
async fn assets_have_hashed_names_and_a_year_of_cache() {
    let dashboard = Dashboard::start().await;
    let mut browser = dashboard.browser();
    let page = browser.get("/sign-in").await.expect_page();
    for (start, kind) in [("href=\"/static/app.", "css"), ("src=\"/static/app.", "js")] {
        let hash = between(&page.text, start, ".").unwrap();
        assert_eq!(hash.len(), 12, "{}", page.text);
        let asset = browser.get(&format!("/static/app.{hash}.{kind}")).await;
        assert_eq!(asset.status, StatusCode::OK);
        assert_eq!(
            asset.header("cache-control"),
            Some("public, max-age=31536000, immutable")
        );
    }
    let stale = browser.get("/static/app.000000000000.css").await;
    assert_eq!(stale.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_session_cookie_is_http_only_and_same_site() {
    let dashboard = Dashboard::start().await;
    let mut browser = dashboard.browser();
    let form = browser.get("/sign-up").await.expect_page();
    let form_cookie = form.header("set-cookie").unwrap();
    assert!(
        form_cookie.contains("HttpOnly") && form_cookie.contains("SameSite=Lax"),
        "{form_cookie}"
    );
    let signed_up = browser
        .post(
            "/sign-up",
            &[
                ("display_name", "Someone"),
                ("email", "cookie@example.com"),
                ("password", crate::gateway_helpers::PASSWORD),
            ],
        )
        .await;
    assert_eq!(
        signed_up.status,
        StatusCode::SEE_OTHER,
        "{}",
        signed_up.text
    );
    let session = signed_up
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .find(|v| v.starts_with("faultline_session="))
        .unwrap();
    assert!(session.contains("HttpOnly"), "{session}");
    assert!(session.contains("SameSite=Lax"), "{session}");
    assert!(session.contains("Path=/"), "{session}");
    assert!(
        !session.contains("Secure"),
        "plain HTTP in tests: {session}"
    );
    assert!(!signed_up.text.contains("access_token"));
}

#[tokio::test]
async fn a_form_without_the_session_csrf_token_is_refused() {
    let dashboard = Dashboard::start().await;
    let mut browser = dashboard.signed_up("csrf@example.com").await;
    let forged = browser
        .post_raw(
            "/projects",
            &[("csrf", "forged"), ("name", "Shop"), ("slug", "shop")],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN, "{}", forged.text);
    assert!(forged.text.contains("reload the page"), "{}", forged.text);
    let missing = browser
        .post_raw("/projects", &[("name", "Shop"), ("slug", "shop")])
        .await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST, "{}", missing.text);
    let projects = browser.get("/").await.expect_page();
    assert!(!projects.text.contains("/p/shop"), "nothing was created");

    let mut anonymous = dashboard.browser();
    let no_cookie = anonymous
        .post_raw(
            "/sign-in",
            &[
                ("csrf", "x"),
                ("email", "csrf@example.com"),
                ("password", "whatever at all"),
            ],
        )
        .await;
    assert_eq!(
        no_cookie.status,
        StatusCode::FORBIDDEN,
        "{}",
        no_cookie.text
    );
}

#[tokio::test]
async fn a_dashboard_page_with_its_assets_weighs_under_200_kb() {
    let dashboard = Dashboard::start().await;
    let mut browser = dashboard.signed_up("weight@example.com").await;
    let created = browser
        .post("/projects", &[("name", "Shop"), ("slug", "shop")])
        .await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.text);
    let page = browser.get("/p/shop").await.expect_page();
    let mut bytes = page.text.len();
    for (start, kind) in [("href=\"/static/app.", "css"), ("src=\"/static/app.", "js")] {
        let hash = between(&page.text, start, ".").unwrap();
        bytes += browser
            .get(&format!("/static/app.{hash}.{kind}"))
            .await
            .text
            .len();
    }
    assert!(bytes > 1000, "the page and its assets were read: {bytes}");
    assert!(bytes < 200 * 1024, "{bytes} bytes");
}

#[tokio::test]
async fn the_gateway_sends_pages_to_the_dashboard_but_never_api_or_internal_paths() {
    let dashboard = Dashboard::start().await;
    let mut browser = dashboard.browser();
    let page = browser.get("/no-such-page").await;
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    for path in [
        "/api/v1/no-such-route",
        "/internal/v1/access",
        "/api",
        "/internal",
    ] {
        let answer = browser.get(path).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(
            answer.header("content-type"),
            Some("application/problem+json"),
            "{path} is the gateway's, not a page"
        );
    }
    let health = browser.get("/healthz").await;
    assert_eq!(health.status, StatusCode::OK);
    assert_ne!(
        health.header("content-type"),
        Some("text/html; charset=utf-8")
    );
}
