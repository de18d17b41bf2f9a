//! The dashboard in a real browser: headless Chromium driven over
//! WebDriver, the CSP enforced by the browser itself, a phone's width and
//! the keyboard. Screenshots of each page, at desktop and phone widths,
//! are left under `target/screenshots/`.

use serde_json::json;

use crate::browser::Dashboard;
use crate::gateway_helpers::PASSWORD;
use crate::webdriver::Chromium;

/// A report whose one test failed, then passed when the runner retried it.
const FLAKY_REPORT: &str = r#"<testsuite name="s" tests="1">
<testcase classname="c" name="wobbles"><flakyFailure message="wobble" type="AssertionError">trace</flakyFailure></testcase>
</testsuite>"#;

/// Fails unless the page is no wider than the viewport.
pub async fn assert_no_horizontal_scroll(chromium: &Chromium, page: &str) {
    let fits = chromium
        .run("return document.documentElement.scrollWidth <= window.innerWidth;")
        .await;
    let widths = chromium
        .run("return [document.documentElement.scrollWidth, window.innerWidth];")
        .await;
    // The elements that reach past the viewport, to say what to fix.
    let wide = chromium
        .run(
            "return Array.from(document.querySelectorAll('main *')) \
               .filter(function (e) { return e.getBoundingClientRect().right > window.innerWidth; }) \
               .slice(0, 5).map(function (e) { return e.tagName + '.' + e.className + ' ' + e.outerHTML.slice(0, 80); });",
        )
        .await;
    assert_eq!(
        fits,
        json!(true),
        "{page} scrolls sideways: {widths}, past the edge: {wide}"
    );
}

/// Waits until the browser shows `path`.
pub async fn wait_for_path(chromium: &Chromium, path: &str) {
    chromium
        .wait_until(
            path,
            &format!(
                "return location.pathname === {path:?} && document.readyState === 'complete';"
            ),
        )
        .await;
}

#[tokio::test]
async fn a_user_signs_up_uploads_triages_and_signs_out_in_chromium() {
    let dashboard = Dashboard::start().await;
    let chromium = Chromium::start().await;
    let front = dashboard.front.url("");

    chromium.goto(&format!("{front}/sign-up")).await;
    chromium.screenshot("sign-up-desktop").await;
    chromium.type_into("input[name=display_name]", "Ada").await;
    chromium
        .type_into("input[name=email]", "ada@example.com")
        .await;
    chromium.type_into("input[name=password]", PASSWORD).await;
    chromium.click("button[type=submit]").await;
    wait_for_path(&chromium, "/").await;

    chromium.type_into("input[name=name]", "Shop").await;
    chromium.type_into("input[name=slug]", "shop").await;
    chromium.click("form[action='/projects'] button").await;
    wait_for_path(&chromium, "/p/shop").await;
    dashboard.on_the_largest_plan("shop").await;
    assert_eq!(chromium.text("#build-count").await, "0");

    chromium.goto(&format!("{front}/p/shop/settings")).await;
    chromium
        .type_into("form[action$='api-keys'] input[name=name]", "ci")
        .await;
    chromium.click("form[action$='api-keys'] button").await;
    chromium
        .wait_until(
            "the new key",
            "return document.getElementById('new-api-key') !== null;",
        )
        .await;
    let key = chromium.text("#new-api-key").await;
    chromium.screenshot("settings-desktop").await;

    let platform = &dashboard.platform;
    let build = platform.create_build(&key, "shop").await;
    let uploaded = platform.upload_results(&key, "shop", &build).await;
    assert!(uploaded.status.is_success(), "{}", uploaded.text);

    chromium.goto(&format!("{front}/p/shop")).await;
    assert_eq!(chromium.text("#build-count").await, "1");
    // The build finishes; the analytics figures follow.
    let finished = platform
        .send(
            reqwest::Method::PATCH,
            &format!("/api/v1/projects/shop/builds/{build}"),
            Some(&key),
            Some(json!({ "status": "failed" })),
        )
        .await;
    assert!(finished.status.is_success(), "{}", finished.text);
    dashboard.wait_for_analytics(&key, 1).await;
    chromium.goto(&format!("{front}/p/shop")).await;
    assert_eq!(chromium.text("#period-pass-rate").await, "50.0%");
    chromium.screenshot("dashboard-desktop").await;
    chromium
        .click(&format!("a[href='/p/shop/builds/{build}']"))
        .await;
    wait_for_path(&chromium, &format!("/p/shop/builds/{build}")).await;
    assert_eq!(chromium.text("[data-total=failures]").await, "1");
    chromium.screenshot("build-desktop").await;

    chromium.click("a[href^='/p/shop/groups/']").await;
    chromium
        .wait_until(
            "the group page",
            "return document.getElementById('group-label') !== null;",
        )
        .await;
    chromium
        .run("document.querySelector('select[name=label]').value = 'product_bug'; return true;")
        .await;
    chromium.click("form[action$='/label'] button").await;
    chromium
        .wait_until(
            "the new label",
            "var l = document.getElementById('group-label'); return l !== null && l.textContent === 'product_bug';",
        )
        .await;
    chromium.screenshot("group-desktop").await;

    let inline_scripts = chromium
        .run("return document.querySelectorAll('script:not([src]), [style]').length;")
        .await;
    assert_eq!(inline_scripts, json!(0));
    // The browser itself refuses inline script: the page's CSP.
    let inline = chromium
        .run(
            "var s = document.createElement('script'); s.textContent = 'window.inlineRan = true;'; \
             document.body.appendChild(s); return window.inlineRan === true;",
        )
        .await;
    assert_eq!(inline, json!(false), "inline script ran despite the CSP");

    // A test that failed, then passed on a retry, is flaky at once.
    let flaky = test_support::Reply::from_request(
        platform
            .request(
                reqwest::Method::POST,
                &format!("/api/v1/projects/shop/builds/{build}/results"),
            )
            .bearer_auth(&key)
            .header("content-type", "application/xml")
            .body(FLAKY_REPORT),
    )
    .await;
    assert!(flaky.status.is_success(), "{}", flaky.text);
    chromium.goto(&format!("{front}/p/shop/flaky")).await;
    assert!(
        chromium.text("#quarantine-list").await.is_empty(),
        "nothing is quarantined yet"
    );
    chromium.click("form[action$='/quarantine'] button").await;
    chromium
        .wait_until(
            "the quarantine list",
            "var l = document.getElementById('quarantine-list'); \
             return l !== null && l.textContent.indexOf('wobbles') >= 0;",
        )
        .await;
    assert_eq!(
        chromium.text("form[action$='/quarantine'] button").await,
        "Lift quarantine"
    );
    let ci_list = platform
        .send(
            reqwest::Method::GET,
            "/api/v1/projects/shop/quarantine",
            Some(&key),
            None,
        )
        .await
        .expect(200);
    assert_eq!(ci_list["items"][0]["test"]["name"], "wobbles", "{ci_list}");
    chromium.screenshot("flaky-desktop").await;
    chromium.goto(&format!("{front}/p/shop")).await;
    chromium
        .click("header form[action='/sign-out'] button")
        .await;
    wait_for_path(&chromium, "/sign-in").await;
    chromium.back().await;
    chromium
        .wait_until(
            "the page after going back",
            "return document.readyState === 'complete';",
        )
        .await;
    assert_eq!(
        chromium.current_path().await,
        "/sign-in",
        "back shows no data"
    );
    let shown = chromium.run("return document.body.innerText;").await;
    assert!(
        !shown.as_str().unwrap().contains("Latest builds"),
        "{shown}"
    );
}

#[tokio::test]
async fn every_page_fits_a_phone_and_the_keyboard_reaches_the_main_actions() {
    let dashboard = Dashboard::start().await;
    let (_, build, group) = dashboard.project_with_a_build("phone@example.com").await;

    let chromium = Chromium::start().await;
    let front = dashboard.front.url("");
    chromium.goto(&format!("{front}/sign-in")).await;
    chromium
        .type_into("input[name=email]", "phone@example.com")
        .await;
    chromium.type_into("input[name=password]", PASSWORD).await;
    chromium.click("main button[type=submit]").await;
    wait_for_path(&chromium, "/").await;

    // Tab order: skip link, then the header, then the page's own actions.
    chromium.goto(&format!("{front}/p/shop")).await;
    let mut reached = Vec::new();
    for _ in 0..12 {
        chromium.press_tab().await;
        let focused = chromium
            .run("var e = document.activeElement; return (e.getAttribute('href') || e.getAttribute('name') || e.textContent).trim();")
            .await;
        reached.push(focused.as_str().unwrap_or_default().to_owned());
    }
    assert_eq!(
        reached[0], "#main",
        "the skip link comes first: {reached:?}"
    );
    for action in [
        "/p/shop/flaky",
        "/p/shop/settings",
        "days",
        "branch",
        "Apply",
    ] {
        assert!(
            reached.iter().any(|r| r == action),
            "{action} not reached by Tab: {reached:?}"
        );
    }

    chromium.resize(360, 740).await;
    let width = chromium.run("return window.innerWidth;").await;
    assert!(width.as_u64().unwrap() <= 360, "{width}");
    let build_path = format!("/p/shop/builds/{build}");
    let group_path = format!("/p/shop/groups/{group}");
    for (name, path) in [
        ("projects", "/"),
        ("dashboard", "/p/shop"),
        ("build", build_path.as_str()),
        ("group", group_path.as_str()),
        ("flaky", "/p/shop/flaky"),
        ("settings", "/p/shop/settings"),
        ("integrations", "/p/shop/integrations"),
        ("not-found", "/p/nowhere"),
    ] {
        chromium.goto(&format!("{front}{path}")).await;
        assert_no_horizontal_scroll(&chromium, path).await;
        chromium.screenshot(&format!("{name}-phone")).await;
    }
}
