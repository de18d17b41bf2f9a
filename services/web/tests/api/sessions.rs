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

    // Revoked in the store, its tokens erased there.
    let stored = dashboard
        .web_database()
        .await
        .query_one(
            "SELECT count(*) FILTER (WHERE revoked_at IS NOT NULL AND octet_length(sealed) = 0),
                    count(*) FILTER (WHERE revoked_at IS NULL)
               FROM web.sessions",
            &[],
        )
        .await
        .unwrap();
    let (revoked, live): (i64, i64) = (stored.try_get(0).unwrap(), stored.try_get(1).unwrap());
    assert_eq!((revoked, live), (1, 0));
}

#[tokio::test]
async fn a_session_survives_a_restart_of_the_web_service_and_serves_from_any_replica() {
    let mut dashboard = Dashboard::start().await;
    let mut browser = dashboard.signed_up("staying@example.com").await;
    let created = browser
        .post("/projects", &[("name", "Shop"), ("slug", "shop")])
        .await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.text);

    // At rest: no cookie value and no token in the clear.
    let session = browser.cookies["faultline_session"].clone();
    let rows = dashboard
        .web_database()
        .await
        .query("SELECT id_hash, email, sealed FROM web.sessions", &[])
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    let sealed: Vec<u8> = rows[0].try_get("sealed").unwrap();
    let id_hash: Vec<u8> = rows[0].try_get("id_hash").unwrap();
    assert_eq!(
        rows[0].try_get::<_, String>("email").unwrap(),
        "staying@example.com"
    );
    assert_ne!(id_hash, session.as_bytes());
    // A JWT access token begins with its header, `{"alg"`, `{"typ"` or `{"kid"`.
    for secret in [
        session.as_str(),
        browser.csrf.as_str(),
        "eyJhbGci",
        "eyJ0eXAi",
        "eyJraWQi",
    ] {
        assert!(
            !sealed.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "{secret} stored in the clear"
        );
    }

    dashboard.restart_web().await;
    let page = browser.get("/p/shop").await.expect_page();
    assert!(page.text.contains("staying@example.com"), "{}", page.text);
    // Forms keep their token across the restart.
    let renamed = browser
        .post("/p/shop/settings/grouping", &[("in_app_prefixes", "shop.")])
        .await;
    assert_eq!(renamed.status, StatusCode::SEE_OTHER, "{}", renamed.text);

    // Another replica serves the same cookie.
    let replica = dashboard.another_web_replica().await;
    let there = test_support::Reply::from_request(
        test_support::http_client()
            .get(replica.url("/p/shop/settings"))
            .header("cookie", format!("faultline_session={session}")),
    )
    .await;
    assert_eq!(there.status, StatusCode::OK, "{}", there.text);
    assert!(there.text.contains("shop."), "{}", there.text);

    // Signed out on one replica, the session is gone on the other.
    browser.get("/").await.expect_page();
    let signed_out = browser.post("/sign-out", &[]).await;
    assert_eq!(signed_out.status, StatusCode::SEE_OTHER);
    let there = test_support::Reply::from_request(
        test_support::http_client()
            .get(replica.url("/p/shop"))
            .header("cookie", format!("faultline_session={session}")),
    )
    .await;
    assert_eq!(there.status, StatusCode::SEE_OTHER);
    assert_eq!(there.header("location"), Some("/sign-in"));
}

#[tokio::test]
async fn the_cleanup_job_deletes_revoked_and_idle_sessions() {
    let dashboard = Dashboard::start_with(
        &[("service.session_cleanup_interval_secs", "1".to_owned())],
        &[],
    )
    .await;
    let mut leaving = dashboard.signed_up("leaving@example.com").await;
    let idle = dashboard.signed_up("idle@example.com").await;
    let staying = dashboard.signed_up("staying@example.com").await;
    let admin = dashboard.web_database().await;
    // One session idle for longer than the limit (720 minutes).
    admin
        .execute(
            "UPDATE web.sessions SET last_used_at = now() - interval '13 hours' WHERE email = $1",
            &[&"idle@example.com"],
        )
        .await
        .unwrap();
    leaving.post("/sign-out", &[]).await;
    let emails =
        test_support::eventually("the cleanup", std::time::Duration::from_secs(20), || {
            let admin = &admin;
            async move {
                let rows = admin
                    .query("SELECT email FROM web.sessions ORDER BY email", &[])
                    .await
                    .unwrap();
                let emails: Vec<String> = rows.iter().map(|r| r.try_get(0).unwrap()).collect();
                (emails.len() == 1).then_some(emails)
            }
        })
        .await;
    assert_eq!(emails, ["staying@example.com"]);
    drop((idle, staying));
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
