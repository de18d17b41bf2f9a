//! Project settings through the pages: members, classification rules and
//! quality-gate rules added by an admin, and what the API then has.

use reqwest::StatusCode;

use crate::browser::{Dashboard, PageReply};

#[tokio::test]
async fn an_admin_adds_a_member_and_rules_from_the_settings_page() {
    let dashboard = Dashboard::start().await;
    let mut colleague = dashboard.signed_up("colleague@example.com").await;
    let mut admin = dashboard.signed_up("admin@example.com").await;
    let created = admin
        .post("/projects", &[("name", "Shop"), ("slug", "shop")])
        .await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.text);
    admin.get("/p/shop/settings").await.expect_page();

    let added = admin
        .post(
            "/p/shop/settings/members",
            &[("email", "colleague@example.com"), ("role", "member")],
        )
        .await;
    assert_eq!(added.status, StatusCode::SEE_OTHER, "{}", added.text);
    let rule = admin
        .post(
            "/p/shop/settings/classification-rules",
            &[
                ("name", "timeouts"),
                ("field", "message"),
                ("pattern", "timed out"),
                ("label", "infrastructure"),
            ],
        )
        .await;
    assert_eq!(rule.status, StatusCode::SEE_OTHER, "{}", rule.text);
    let gate = admin
        .post(
            "/p/shop/settings/quality-gate-rules",
            &[
                ("name", "no failures on main"),
                ("kind", "max_failures"),
                ("branch_pattern", "main"),
                ("threshold", "0"),
            ],
        )
        .await;
    assert_eq!(gate.status, StatusCode::SEE_OTHER, "{}", gate.text);
    let bad = admin
        .post(
            "/p/shop/settings/classification-rules",
            &[
                ("name", "broken"),
                ("field", "message"),
                ("pattern", "("),
                ("label", "flaky"),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.text);
    assert!(bad.text.contains("Correct the form"), "{}", bad.text);

    let page = admin.get("/p/shop/settings").await.expect_page();
    assert!(page.text.contains("timeouts"), "{}", page.text);
    assert!(page.text.contains("no failures on main"), "{}", page.text);

    colleague.get("/").await.expect_page();
    let theirs = colleague.get("/p/shop").await;
    assert_eq!(
        theirs.status,
        StatusCode::OK,
        "the new member sees the project: {}",
        theirs.text
    );
}
