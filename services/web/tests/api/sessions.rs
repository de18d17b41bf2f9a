//! Signing in and out: wrong passwords say so; signing out ends the
//! session here and at the auth service.

use reqwest::StatusCode;

use crate::browser::{Dashboard, PageReply};
use crate::gateway_helpers::PASSWORD;

#[tokio::test]
async fn pages_of_a_signed_out_browser_lead_to_the_sign_in_form() {
    let dashboard = Dashboard::start().await;
    let mut browser = dashboard.browser();
    for path in ["/", "/p/shop", "/p/shop/settings"] {
        let page = browser.get(path).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{path}");
        assert_eq!(page.header("location"), Some("/sign-in"), "{path}");
    }
}

#[tokio::test]
async fn a_wrong_password_is_a_page_that_says_so() {
    let dashboard = Dashboard::start().await;
    dashboard.signed_up("someone@example.com").await;
    let mut browser = dashboard.browser();
    browser.get("/sign-in").await.expect_page();
    let refused = browser
        .post(
            "/sign-in",
            &[
                ("email", "someone@example.com"),
                ("password", "not the password at all"),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert!(
        refused.text.contains("Wrong email or password"),
        "{}",
        refused.text
    );
    let signed_in = browser
        .post(
            "/sign-in",
            &[("email", "someone@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(
        signed_in.status,
        StatusCode::SEE_OTHER,
        "{}",
        signed_in.text
    );
    browser.get("/").await.expect_page();
}

#[tokio::test]
async fn signing_out_revokes_the_session_and_the_old_cookie_shows_nothing() {
    let dashboard = Dashboard::start().await;
    let mut browser = dashboard.signed_up("leaving@example.com").await;
    let created = browser
        .post("/projects", &[("name", "Shop"), ("slug", "shop")])
        .await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.text);
    let old_cookies = browser.cookies.clone();
    let revoked_before = dashboard.platform.revocation_feed_latest().await;

    let signed_out = browser.post("/sign-out", &[]).await;
    assert_eq!(
        signed_out.status,
        StatusCode::SEE_OTHER,
        "{}",
        signed_out.text
    );
    assert_eq!(signed_out.header("location"), Some("/sign-in"));
    assert!(!browser.cookies.contains_key("faultline_session"));
    assert!(
        dashboard.platform.revocation_feed_latest().await > revoked_before,
        "the auth service revoked the session"
    );

    browser.cookies = old_cookies;
    let replayed = browser.get("/p/shop").await;
    assert_eq!(replayed.status, StatusCode::SEE_OTHER);
    assert_eq!(replayed.header("location"), Some("/sign-in"));
}

#[tokio::test]
async fn pages_keep_working_when_every_call_refreshes_the_access_token_first() {
    // A margin above the tokens' lifetime: every call refreshes first,
    // several at once on pages that make concurrent calls.
    let dashboard =
        Dashboard::start_with(&[("service.refresh_margin_secs", "3600".to_owned())], &[]).await;
    let mut browser = dashboard.signed_up("refreshing@example.com").await;
    let created = browser
        .post("/projects", &[("name", "Shop"), ("slug", "shop")])
        .await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.text);
    for _ in 0..3 {
        browser.get("/p/shop").await.expect_page();
        browser.get("/").await.expect_page();
    }
    let refresh_tokens: i64 = dashboard
        .platform
        .database
        .admin_client()
        .await
        .query_one("SELECT count(*) FROM auth.refresh_tokens", &[])
        .await
        .unwrap()
        .try_get(0)
        .unwrap();
    assert!(
        refresh_tokens > 5,
        "tokens were refreshed: {refresh_tokens}"
    );
}

#[tokio::test]
async fn the_api_sees_the_browser_address_not_the_dashboard_one() {
    // Both gateways trust this machine as a proxy: the one in front of
    // the dashboard, and the one the dashboard calls.
    let trusted = [("server.trusted_proxies", "127.0.0.1/32".to_owned())];
    let dashboard = Dashboard::start_with(&[], &trusted).await;
    let mut browser = dashboard.browser();
    browser.forwarded_for = Some("192.0.2.7".to_owned());
    browser.get("/sign-up").await.expect_page();
    let signed_up = browser
        .post(
            "/sign-up",
            &[
                ("display_name", "Someone"),
                ("email", "far-away@example.com"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(
        signed_up.status,
        StatusCode::SEE_OTHER,
        "{}",
        signed_up.text
    );
    let addresses: Vec<String> = dashboard
        .platform
        .database
        .admin_client()
        .await
        .query("SELECT client_ip FROM auth.sessions", &[])
        .await
        .unwrap()
        .iter()
        .map(|row| row.try_get(0).unwrap())
        .collect();
    assert_eq!(addresses, ["192.0.2.7"]);
}
