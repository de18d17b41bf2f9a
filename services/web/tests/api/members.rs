//! Members, grouping settings and assignees through the pages: roles
//! changed and members removed by admins, with the API's refusals as
//! readable pages; in-app prefixes edited; a group assigned to a member
//! picked from a list; error pages with the signed-in header.

use reqwest::StatusCode;

use crate::browser::{Browser, Dashboard, PageReply, between};

/// The user id of the member whose role is `role` on the settings page.
fn member_with_role(page: &str, role: &str) -> String {
    page.split("data-member=\"")
        .skip(1)
        .find(|row| row.contains(&format!("<td>{role}</td>")))
        .and_then(|row| row.split('"').next())
        .unwrap_or_else(|| panic!("no {role} in {page}"))
        .to_owned()
}

/// The owner of `shop`, and a colleague added to it as a member.
async fn owner_and_colleague(dashboard: &Dashboard) -> (Browser, Browser) {
    let mut colleague = dashboard.signed_up("colleague@example.com").await;
    let mut owner = dashboard.signed_up("owner@example.com").await;
    let created = owner
        .post("/projects", &[("name", "Shop"), ("slug", "shop")])
        .await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.text);
    dashboard.on_the_largest_plan("shop").await;
    owner.get("/p/shop/settings").await.expect_page();
    let added = owner
        .post(
            "/p/shop/settings/members",
            &[("email", "colleague@example.com"), ("role", "member")],
        )
        .await;
    assert_eq!(added.status, StatusCode::SEE_OTHER, "{}", added.text);
    colleague.get("/").await.expect_page();
    (owner, colleague)
}

#[tokio::test]
async fn an_admin_changes_roles_and_removes_members_and_refusals_say_why() {
    let dashboard = Dashboard::start().await;
    let (mut owner, mut colleague) = owner_and_colleague(&dashboard).await;
    let page = owner.get("/p/shop/settings").await.expect_page();
    let owner_id = member_with_role(&page.text, "owner");
    let colleague_id = member_with_role(&page.text, "member");

    let promoted = owner
        .post(
            &format!("/p/shop/settings/members/{colleague_id}/role"),
            &[("role", "admin")],
        )
        .await;
    assert_eq!(promoted.status, StatusCode::SEE_OTHER, "{}", promoted.text);
    let page = owner.get("/p/shop/settings").await.expect_page();
    assert_eq!(member_with_role(&page.text, "admin"), colleague_id);

    // The last owner cannot step down.
    let demoted = owner
        .post(
            &format!("/p/shop/settings/members/{owner_id}/role"),
            &[("role", "admin")],
        )
        .await;
    assert_eq!(demoted.status, StatusCode::CONFLICT, "{}", demoted.text);
    assert!(
        demoted.text.contains("a project needs at least one owner"),
        "{}",
        demoted.text
    );
    // An admin may not touch an owner: said in words, not "not found".
    colleague.get("/p/shop/settings").await.expect_page();
    let removed = colleague
        .post(&format!("/p/shop/settings/members/{owner_id}/remove"), &[])
        .await;
    assert_eq!(removed.status, StatusCode::FORBIDDEN, "{}", removed.text);
    assert!(
        removed
            .text
            .contains("only owners grant, change or remove the owner role"),
        "{}",
        removed.text
    );
    assert!(removed.text.contains("Sign out"), "{}", removed.text);

    let removed = owner
        .post(
            &format!("/p/shop/settings/members/{colleague_id}/remove"),
            &[],
        )
        .await;
    assert_eq!(removed.status, StatusCode::SEE_OTHER, "{}", removed.text);
    let page = owner.get("/p/shop/settings").await.expect_page();
    assert!(!page.text.contains(&colleague_id), "{}", page.text);
    let gone = colleague.get("/p/shop").await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn an_admin_edits_the_in_app_prefixes_and_a_bad_one_is_refused() {
    let dashboard = Dashboard::start().await;
    let (mut owner, _) = owner_and_colleague(&dashboard).await;
    owner.get("/p/shop/settings").await.expect_page();
    let saved = owner
        .post(
            "/p/shop/settings/grouping",
            &[
                ("in_app_prefixes", "com.shop.\r\n\r\nshop::\r\n"),
                ("keep_numbers", "on"),
            ],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.text);
    let page = owner.get("/p/shop/settings").await.expect_page();
    let shown = between(&page.text, "id=\"in-app-prefixes\">", "</p>").unwrap();
    assert_eq!(shown, "<code>com.shop.</code> <code>shop::</code> ");
    assert!(
        page.text.contains("name=\"keep_numbers\" checked"),
        "{}",
        page.text
    );

    let refused = owner
        .post(
            "/p/shop/settings/grouping",
            &[("in_app_prefixes", "com.shop.\nhas space")],
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused.text.contains("in_app_prefixes[1]"),
        "{}",
        refused.text
    );
    // Nothing half-written: the settings are as saved before.
    let page = owner.get("/p/shop/settings").await.expect_page();
    let shown = between(&page.text, "id=\"in-app-prefixes\">", "</p>").unwrap();
    assert_eq!(shown, "<code>com.shop.</code> <code>shop::</code> ");

    // Cleared: every frame outside known frameworks is in-app again.
    let cleared = owner
        .post("/p/shop/settings/grouping", &[("in_app_prefixes", "")])
        .await;
    assert_eq!(cleared.status, StatusCode::SEE_OTHER, "{}", cleared.text);
    let page = owner.get("/p/shop/settings").await.expect_page();
    assert!(page.text.contains("None: every frame"), "{}", page.text);
}

#[tokio::test]
async fn a_group_is_assigned_to_a_member_picked_from_the_list() {
    let dashboard = Dashboard::start().await;
    let (mut owner, _, group) = dashboard.project_with_a_build("assign@example.com").await;
    let settings = owner.get("/p/shop/settings").await.expect_page();
    let owner_id = member_with_role(&settings.text, "owner");
    let group_path = format!("/p/shop/groups/{group}");
    let page = owner.get(&group_path).await.expect_page();
    let choices = between(&page.text, "name=\"assignee_id\">", "</select>").unwrap();
    assert!(
        choices.contains("<option value=\"\" selected>Nobody</option>"),
        "{choices}"
    );
    assert!(
        choices.contains(&format!("<option value=\"{owner_id}\">")),
        "{choices}"
    );

    let assigned = owner
        .post(
            &format!("{group_path}/triage"),
            &[("status", "triaged"), ("assignee_id", &owner_id)],
        )
        .await;
    assert_eq!(assigned.status, StatusCode::SEE_OTHER, "{}", assigned.text);
    let page = owner.get(&group_path).await.expect_page();
    let choices = between(&page.text, "name=\"assignee_id\">", "</select>").unwrap();
    assert!(
        choices.contains(&format!("<option value=\"{owner_id}\" selected>")),
        "{choices}"
    );

    let unassigned = owner
        .post(
            &format!("{group_path}/triage"),
            &[("status", "triaged"), ("assignee_id", "")],
        )
        .await;
    assert_eq!(unassigned.status, StatusCode::SEE_OTHER);
    let page = owner.get(&group_path).await.expect_page();
    let choices = between(&page.text, "name=\"assignee_id\">", "</select>").unwrap();
    assert!(
        choices.contains("<option value=\"\" selected>"),
        "{choices}"
    );
}

#[tokio::test]
async fn error_pages_show_a_signed_in_user_their_own_header_a_429_included() {
    let dashboard = Dashboard::start().await;
    let mut signed_in = dashboard.signed_up("lost@example.com").await;
    let missing = signed_in.get("/p/nowhere").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(
        missing.text.contains("lost@example.com"),
        "{}",
        missing.text
    );
    assert!(missing.text.contains("Sign out"), "{}", missing.text);
    assert!(!missing.text.contains("Sign up"), "{}", missing.text);
    let expired = signed_in
        .post_raw(
            "/projects",
            &[("csrf", "forged"), ("name", "X"), ("slug", "x")],
        )
        .await;
    assert_eq!(expired.status, StatusCode::FORBIDDEN);
    assert!(
        expired.text.contains("The form expired"),
        "{}",
        expired.text
    );
    assert!(expired.text.contains("Sign out"), "{}", expired.text);

    // A project on the free plan (a burst of 60 API calls) runs out of
    // requests within a few dashboards of six calls each: the 429 page
    // still shows who is signed in.
    let created = signed_in
        .post("/projects", &[("name", "Busy"), ("slug", "busy")])
        .await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.text);
    let mut throttled = None;
    for _ in 0..60 {
        let page = signed_in.get("/p/busy").await;
        if page.status == StatusCode::TOO_MANY_REQUESTS {
            throttled = Some(page);
            break;
        }
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    }
    let throttled = throttled.expect("the free plan's burst ran out");
    assert!(
        throttled.text.contains("Too many requests"),
        "{}",
        throttled.text
    );
    assert!(
        throttled.text.contains("lost@example.com"),
        "{}",
        throttled.text
    );
    assert!(throttled.text.contains("Sign out"), "{}", throttled.text);
    assert!(!throttled.text.contains("Sign up"), "{}", throttled.text);

    let mut stranger = dashboard.browser();
    let missing = stranger.get("/nowhere").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(missing.text.contains("Sign up"), "{}", missing.text);
    assert!(!missing.text.contains("Sign out"), "{}", missing.text);
}
