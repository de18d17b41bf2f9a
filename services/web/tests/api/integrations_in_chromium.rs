//! Integrations and issues in Chromium: a Jira connection and a webhook
//! made by typing and clicking, a notification rule ticked together, an
//! issue filed from a group page; each page checked by axe, at a phone's
//! width, and left as screenshots at both widths.

use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::accessibility::serious_violations;
use crate::browser::Dashboard;
use crate::gateway_helpers::PASSWORD;
use crate::in_chromium::{assert_no_horizontal_scroll, wait_for_path};
use crate::integrations::JIRA_TOKEN;
use crate::webdriver::Chromium;

/// Fails on a serious accessibility violation, sideways scrolling at
/// 360 px or inline script or style; leaves `{name}-desktop` and
/// `{name}-phone` screenshots.
async fn check_page(chromium: &Chromium, name: &str) {
    let violations = serious_violations(chromium).await;
    assert!(violations.is_empty(), "{name}: {violations:#?}");
    let inline = chromium
        .run("return document.querySelectorAll('script:not([src]), [style]').length;")
        .await;
    assert_eq!(inline, json!(0), "{name} has inline script or style");
    chromium.screenshot(&format!("{name}-desktop")).await;
    chromium.resize(360, 740).await;
    assert_no_horizontal_scroll(chromium, name).await;
    chromium.screenshot(&format!("{name}-phone")).await;
    chromium.resize(1280, 900).await;
}

#[tokio::test]
async fn an_admin_connects_jira_and_files_an_issue_from_a_group_in_chromium() {
    let dashboard = Dashboard::start().await;
    let (_, _, group) = dashboard.project_with_a_build("chrome@example.com").await;
    let third = &dashboard.third_parties;
    Mock::given(method("POST"))
        .and(path("/rest/api/3/issue"))
        .respond_with(ResponseTemplate::new(201).set_body_json(
            json!({"id": "10001", "key": "WEB-1", "self": format!("{}/rest/api/3/issue/10001", third.uri())}),
        ))
        .expect(1)
        .mount(third)
        .await;

    let chromium = Chromium::start().await;
    let front = dashboard.front.url("");
    chromium.goto(&format!("{front}/sign-in")).await;
    chromium
        .type_into("input[name=email]", "chrome@example.com")
        .await;
    chromium.type_into("input[name=password]", PASSWORD).await;
    chromium.click("main button[type=submit]").await;
    wait_for_path(&chromium, "/").await;

    chromium.goto(&format!("{front}/p/shop/integrations")).await;
    let jira = "form:has(input[name=kind][value=jira])";
    chromium
        .click("details:has(input[value=jira]) summary")
        .await;
    chromium
        .type_into(&format!("{jira} input[name=name]"), "jira")
        .await;
    chromium
        .type_into(&format!("{jira} input[name=site_url]"), &third.uri())
        .await;
    chromium
        .type_into(&format!("{jira} input[name=email]"), "bot@example.com")
        .await;
    chromium
        .type_into(&format!("{jira} input[name=api_token]"), JIRA_TOKEN)
        .await;
    chromium
        .type_into(&format!("{jira} input[name=project_key]"), "WEB")
        .await;
    chromium.click(&format!("{jira} button")).await;
    chromium
        .wait_until(
            "the new connection",
            "return document.getElementById('integration-notice') !== null;",
        )
        .await;
    let row = chromium.text("tr[data-connection=jira]").await;
    assert!(row.contains("configured (…WXYZ)"), "{row}");
    let source = chromium
        .run("return document.documentElement.outerHTML;")
        .await;
    assert!(!source.as_str().unwrap().contains(JIRA_TOKEN));

    let webhook = "form:has(input[name=kind][value=webhook])";
    chromium.goto(&format!("{front}/p/shop/integrations")).await;
    chromium
        .click("details:has(input[value=webhook]) summary")
        .await;
    chromium
        .type_into(&format!("{webhook} input[name=name]"), "ops")
        .await;
    chromium
        .type_into(
            &format!("{webhook} input[name=url]"),
            &format!("{}/hooks/ops", third.uri()),
        )
        .await;
    chromium
        .type_into(
            &format!("{webhook} input[name=signing_secret]"),
            "whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3",
        )
        .await;
    chromium.click(&format!("{webhook} button")).await;
    chromium
        .wait_until(
            "the webhook connection",
            "return document.querySelector('tr[data-connection=ops]') !== null;",
        )
        .await;
    chromium
        .click("input[name=events][value='gate.failed']")
        .await;
    chromium
        .click("input[name=labels][value='product_bug']")
        .await;
    chromium
        .click("form[action$='/integrations/rules'] button")
        .await;
    chromium
        .wait_until(
            "the new rule",
            "var t = document.getElementById('rules'); \
             return t !== null && t.textContent.indexOf('gate.failed') >= 0;",
        )
        .await;
    check_page(&chromium, "integrations").await;

    let group_path = format!("/p/shop/groups/{group}");
    chromium.goto(&format!("{front}{group_path}")).await;
    assert_eq!(
        chromium.text("form[action$='/issues'] select").await,
        "jira (jira)",
        "only Jira and GitHub connections file issues"
    );
    chromium.click("form[action$='/issues'] button").await;
    chromium
        .wait_until(
            "the filed issue",
            "return document.getElementById('filed-issue') !== null;",
        )
        .await;
    assert_eq!(chromium.text("#filed-issue a").await, "WEB-1");
    let link = chromium
        .run("return document.querySelector('#filed-issue a').href;")
        .await;
    assert_eq!(link, json!(format!("{}/browse/WEB-1", third.uri())));
    check_page(&chromium, "group-issue").await;
    chromium.goto(&format!("{front}{group_path}")).await;
    assert!(
        chromium.text("#issue-links").await.contains("WEB-1"),
        "the link stays on the group"
    );
}
