//! No serious accessibility violation on any page: axe-core (vendored in
//! `tests/vendor/axe-core`) run inside Chromium on every page, signed out
//! and in, with data on them.

use serde_json::Value;

use crate::browser::Dashboard;
use crate::gateway_helpers::PASSWORD;
use crate::webdriver::Chromium;

/// The accessibility engine, injected into each page by WebDriver (which
/// the page's CSP does not restrict; the page itself never loads it).
const AXE: &str = include_str!("../vendor/axe-core/axe.min.js");

/// The serious and critical violations on the current page, one line each.
pub async fn serious_violations(chromium: &Chromium) -> Vec<String> {
    chromium.run(&format!("{AXE}\nreturn true;")).await;
    let found = chromium
        .run_async(
            "var done = arguments[arguments.length - 1];
             axe.run(document, { resultTypes: ['violations'] }).then(function (r) {
               done(r.violations
                 .filter(function (v) { return v.impact === 'serious' || v.impact === 'critical'; })
                 .map(function (v) {
                   return v.id + ' (' + v.impact + '): ' + v.help + ' at ' +
                     v.nodes.map(function (n) { return n.target.join(' '); }).join(', ');
                 }));
             }, function (e) { done(['axe failed: ' + e]); });",
        )
        .await;
    found
        .as_array()
        .unwrap_or_else(|| panic!("axe answered {found}"))
        .iter()
        .map(|v| Value::as_str(v).unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn no_page_has_a_serious_accessibility_violation() {
    let dashboard = Dashboard::start().await;
    let (_, build, group) = dashboard.project_with_a_build("a11y@example.com").await;

    let chromium = Chromium::start().await;
    let front = dashboard.front.url("");
    let mut problems = Vec::new();
    for path in ["/sign-in", "/sign-up"] {
        chromium.goto(&format!("{front}{path}")).await;
        problems.extend(
            serious_violations(&chromium)
                .await
                .into_iter()
                .map(|v| format!("{path}: {v}")),
        );
    }
    chromium.goto(&format!("{front}/sign-in")).await;
    chromium
        .type_into("input[name=email]", "a11y@example.com")
        .await;
    chromium.type_into("input[name=password]", PASSWORD).await;
    chromium.click("main button[type=submit]").await;
    chromium
        .wait_until(
            "the projects page",
            "return location.pathname === '/' && document.readyState === 'complete';",
        )
        .await;
    let build_path = format!("/p/shop/builds/{build}");
    let group_path = format!("/p/shop/groups/{group}");
    for path in [
        "/",
        "/p/shop",
        build_path.as_str(),
        group_path.as_str(),
        "/p/shop/flaky",
        "/p/shop/settings",
        "/p/shop/integrations",
        "/p/nowhere",
    ] {
        chromium.goto(&format!("{front}{path}")).await;
        problems.extend(
            serious_violations(&chromium)
                .await
                .into_iter()
                .map(|v| format!("{path}: {v}")),
        );
    }
    assert!(
        problems.is_empty(),
        "serious accessibility violations:\n{}",
        problems.join("\n")
    );
}
