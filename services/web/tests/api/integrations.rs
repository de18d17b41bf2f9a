//! Project settings > Integrations through the pages, against the real
//! integration gateway (Jira, GitHub and Atlassian's OAuth are wiremock):
//! connections made and deleted with their secrets never shown again,
//! notification rules, a member's own Jira account, and issues filed from
//! a failure group.

use reqwest::StatusCode;
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::browser::{Browser, Dashboard, PageReply, between};

/// A Jira API token long enough for the API to show its last four.
pub const JIRA_TOKEN: &str = "jira-api-token-0123456789-WXYZ";
const GITHUB_TOKEN: &str = "github_pat_0123456789abcdef-LAST";
/// The path of a Slack incoming webhook (on the mock third parties).
const SLACK_WEBHOOK: &str = "/services/T000/B000/secretpart-SLCK";
/// `whsec_` and the base64 of 24 bytes.
const SIGNING_SECRET: &str = "whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3";

/// The id of connection `name`, from the integrations page.
pub fn connection_id(page: &str, name: &str) -> String {
    let row = page
        .split(&format!("data-connection=\"{name}\""))
        .nth(1)
        .unwrap_or_else(|| panic!("no connection {name}: {page}"));
    between(row, "/integrations/connections/", "/delete")
        .unwrap()
        .to_owned()
}

/// Connects Jira (at the mock site) as `name` from the integrations page.
pub async fn connect_jira(browser: &mut Browser, site: &str, name: &str) -> String {
    browser.get("/p/shop/integrations").await.expect_page();
    let page = browser
        .post(
            "/p/shop/integrations/connections",
            &[
                ("kind", "jira"),
                ("name", name),
                ("site_url", site),
                ("email", "bot@example.com"),
                ("api_token", JIRA_TOKEN),
                ("project_key", "WEB"),
            ],
        )
        .await
        .expect_page();
    connection_id(&page.text, name)
}

/// A project `shop` on the largest plan, its owner signed in.
async fn shop_owner(dashboard: &Dashboard, email: &str) -> Browser {
    let mut browser = dashboard.signed_up(email).await;
    let created = browser
        .post("/projects", &[("name", "Shop"), ("slug", "shop")])
        .await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.text);
    dashboard.on_the_largest_plan("shop").await;
    browser
}

#[tokio::test]
async fn an_admin_makes_and_deletes_connections_whose_secrets_are_never_shown_again() {
    let dashboard = Dashboard::start().await;
    let mut admin = shop_owner(&dashboard, "admin@example.com").await;
    let site = dashboard.third_parties.uri();

    let jira = connect_jira(&mut admin, &site, "jira").await;
    let slack_webhook = format!("{site}{SLACK_WEBHOOK}");
    let receiver = format!("{site}/hooks/ops");
    let mut made = Vec::new();
    for fields in [
        vec![
            ("kind", "github"),
            ("name", "repo"),
            ("token", GITHUB_TOKEN),
            ("owner", "acme"),
            ("repo", "web"),
        ],
        vec![
            ("kind", "slack"),
            ("name", "alerts"),
            ("webhook_url", &slack_webhook),
            // A field of another kind is left out.
            ("url", "https://elsewhere.example.com"),
        ],
        vec![
            ("kind", "webhook"),
            ("name", "ops"),
            ("url", &receiver),
            ("signing_secret", SIGNING_SECRET),
        ],
    ] {
        let page = admin
            .post("/p/shop/integrations/connections", &fields)
            .await
            .expect_page();
        assert!(page.text.contains("integration-notice"), "{}", page.text);
        made.push(page);
    }
    let page = admin.get("/p/shop/integrations").await.expect_page();
    for secret in [JIRA_TOKEN, GITHUB_TOKEN, &slack_webhook, SIGNING_SECRET] {
        for shown in made.iter().map(|p| &p.text).chain([&page.text]) {
            assert!(!shown.contains(secret), "a secret was shown: {shown}");
        }
        let last_four = &secret[secret.len() - 4..];
        assert!(
            page.text.contains(&format!("configured (…{last_four})")),
            "{last_four} not shown: {}",
            page.text
        );
    }
    assert!(page.text.contains("acme/web"), "{}", page.text);
    assert!(page.text.contains("incoming webhook"), "{}", page.text);

    // A secret the API refuses is a page that says which field.
    let refused = admin
        .post(
            "/p/shop/integrations/connections",
            &[
                ("kind", "webhook"),
                ("name", "broken"),
                ("url", &receiver),
                ("signing_secret", "not-a-secret"),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.text.contains("signing_secret"), "{}", refused.text);
    let taken = admin
        .post(
            "/p/shop/integrations/connections",
            &[
                ("kind", "github"),
                ("name", "repo"),
                ("token", GITHUB_TOKEN),
                ("owner", "acme"),
                ("repo", "web"),
            ],
        )
        .await;
    assert_eq!(taken.status, StatusCode::CONFLICT, "{}", taken.text);

    let deleted = admin
        .post(
            &format!("/p/shop/integrations/connections/{jira}/delete"),
            &[],
        )
        .await;
    assert_eq!(deleted.status, StatusCode::SEE_OTHER, "{}", deleted.text);
    let page = admin.get("/p/shop/integrations").await.expect_page();
    assert!(!page.text.contains("data-connection=\"jira\""));
    assert!(page.text.contains("data-connection=\"alerts\""));

    // A member sees the page but may not change it; a stranger gets the
    // same 404 as for a project that does not exist.
    let mut stranger = dashboard.signed_up("stranger@example.com").await;
    let theirs = stranger.get("/p/shop/integrations").await;
    let nowhere = stranger.get("/p/nowhere/integrations").await;
    assert_eq!(theirs.status, StatusCode::NOT_FOUND);
    assert_eq!(theirs.text, nowhere.text);
}

#[tokio::test]
async fn notification_rules_are_made_listed_and_deleted_and_deliveries_shown() {
    let dashboard = Dashboard::start().await;
    let (mut admin, build, _) = dashboard.project_with_a_build("rules@example.com").await;
    // A webhook receiver that refuses for good: the delivery is dead and
    // shows its error.
    Mock::given(method("POST"))
        .and(path("/hooks/ops"))
        .respond_with(ResponseTemplate::new(410))
        .mount(&dashboard.third_parties)
        .await;
    admin.get("/p/shop/integrations").await.expect_page();
    let url = format!("{}/hooks/ops", dashboard.third_parties.uri());
    let page = admin
        .post(
            "/p/shop/integrations/connections",
            &[
                ("kind", "webhook"),
                ("name", "ops"),
                ("url", &url),
                ("signing_secret", SIGNING_SECRET),
            ],
        )
        .await
        .expect_page();
    let ops = connection_id(&page.text, "ops");

    let none = admin
        .post(
            "/p/shop/integrations/rules",
            &[("connection_id", &ops), ("branch_filter", "")],
        )
        .await;
    assert_eq!(none.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(none.text.contains("at least one event"), "{}", none.text);
    let made = admin
        .post(
            "/p/shop/integrations/rules",
            &[
                ("connection_id", &ops),
                ("events", "build.completed"),
                ("events", "gate.failed"),
                ("branch_filter", "ma*"),
                ("labels", "product_bug"),
            ],
        )
        .await;
    assert_eq!(made.status, StatusCode::SEE_OTHER, "{}", made.text);
    let page = admin.get("/p/shop/integrations").await.expect_page();
    let rules = between(&page.text, "id=\"rules\"", "</table>").unwrap();
    assert!(rules.contains("build.completed"), "{rules}");
    assert!(rules.contains("gate.failed"), "{rules}");
    assert!(rules.contains("ma*"), "{rules}");
    assert!(rules.contains("product_bug"), "{rules}");

    // The build finishes on main: the event goes through the rule.
    let key = admin.new_api_key().await;
    let finished = dashboard
        .platform
        .send(
            reqwest::Method::PATCH,
            &format!("/api/v1/projects/shop/builds/{build}"),
            Some(&key),
            Some(json!({ "status": "failed" })),
        )
        .await;
    assert!(finished.status.is_success(), "{}", finished.text);
    // The event travels failure service > outbox > integration gateway >
    // a delivery; the page is asked again until it shows it.
    let started = std::time::Instant::now();
    let page = loop {
        let page = admin.get("/p/shop/integrations").await.expect_page();
        if page.text.contains("Retry this delivery") {
            break page;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "no dead delivery shown: {}",
            page.text
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    let deliveries = between(&page.text, "id=\"deliveries\"", "</table>").unwrap();
    assert!(deliveries.contains("build.completed"), "{deliveries}");
    assert!(deliveries.contains("410"), "{deliveries}");

    let rule = between(rules, "/integrations/rules/", "/delete").unwrap();
    let deleted = admin
        .post(&format!("/p/shop/integrations/rules/{rule}/delete"), &[])
        .await;
    assert_eq!(deleted.status, StatusCode::SEE_OTHER, "{}", deleted.text);
    let page = admin.get("/p/shop/integrations").await.expect_page();
    assert!(page.text.contains("No rules: nothing is sent."));
}

#[tokio::test]
async fn a_member_connects_their_own_jira_account_through_atlassian_and_back() {
    let dashboard = Dashboard::start().await;
    let mut admin = shop_owner(&dashboard, "oauth@example.com").await;
    let atlassian = &dashboard.third_parties;
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "access-1", "refresh_token": "refresh-1",
            "expires_in": 3600, "scope": "read:jira-work write:jira-work offline_access",
        })))
        .mount(atlassian)
        .await;
    Mock::given(method("GET"))
        .and(path("/oauth/token/accessible-resources"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!([{"id": "cloud-1", "url": atlassian.uri(), "name": "acme", "scopes": []}]),
        ))
        .mount(atlassian)
        .await;

    let page = admin.get("/p/shop/integrations").await.expect_page();
    assert!(page.text.contains("Not connected."), "{}", page.text);
    let started = admin
        .post("/p/shop/integrations/jira/connect", &[])
        .await
        .expect_page();
    let link = between(&started.text, "id=\"continue-to-jira\" href=\"", "\"")
        .unwrap()
        .replace("&amp;", "&");
    assert!(link.starts_with(&format!("{}/authorize?", atlassian.uri())));
    let state = link
        .split(['?', '&'])
        .find_map(|pair| pair.strip_prefix("state="))
        .unwrap()
        .to_owned();

    // Atlassian sends the browser back with a code and the state.
    let back = admin
        .get(&format!(
            "/integrations/jira/callback?code=code-1&state={state}"
        ))
        .await;
    assert_eq!(back.status, StatusCode::SEE_OTHER, "{}", back.text);
    assert_eq!(back.header("location"), Some("/p/shop/integrations"));
    let page = admin.get("/p/shop/integrations").await.expect_page();
    let status = between(&page.text, "id=\"my-jira-status\">", "</p>").unwrap();
    assert!(status.contains("Connected to"), "{status}");

    // The state works once.
    let again = admin
        .get(&format!(
            "/integrations/jira/callback?code=code-1&state={state}"
        ))
        .await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST, "{}", again.text);

    let gone = admin
        .post("/p/shop/integrations/jira/disconnect", &[])
        .await;
    assert_eq!(gone.status, StatusCode::SEE_OTHER, "{}", gone.text);
    let page = admin.get("/p/shop/integrations").await.expect_page();
    assert!(page.text.contains("Not connected."), "{}", page.text);
}

#[tokio::test]
async fn an_issue_filed_from_a_group_page_answers_with_its_link_and_stays_linked() {
    let dashboard = Dashboard::start().await;
    let (mut owner, _, group) = dashboard.project_with_a_build("issues@example.com").await;
    let third = &dashboard.third_parties;
    Mock::given(method("POST"))
        .and(path("/rest/api/3/issue"))
        .respond_with(ResponseTemplate::new(201).set_body_json(
            json!({"id": "10001", "key": "WEB-1", "self": format!("{}/rest/api/3/issue/10001", third.uri())}),
        ))
        .expect(1)
        .mount(third)
        .await;
    Mock::given(method("POST"))
        .and(path("/repos/acme/web/issues"))
        .respond_with(ResponseTemplate::new(201).set_body_json(
            json!({"number": 7, "html_url": "https://github.com/acme/web/issues/7", "state": "open"}),
        ))
        .expect(1)
        .mount(third)
        .await;
    let group_path = format!("/p/shop/groups/{group}");
    let page = owner.get(&group_path).await.expect_page();
    assert!(
        page.text.contains("No issue is linked to this group."),
        "{}",
        page.text
    );
    assert!(!page.text.contains("Create issue"), "no connection yet");

    let jira = connect_jira(&mut owner, &third.uri(), "jira").await;
    owner.get(&group_path).await.expect_page();
    // A connection the project does not have files nothing.
    let unknown = owner
        .post(
            &format!("{group_path}/issues"),
            &[("connection", "jira:0193a6a0-0000-7000-8000-000000000000")],
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND, "{}", unknown.text);
    let filed = owner
        .post(
            &format!("{group_path}/issues"),
            &[("connection", &format!("jira:{jira}"))],
        )
        .await
        .expect_page();
    let notice = between(&filed.text, "id=\"filed-issue\"", "</div>").unwrap();
    assert!(notice.contains("Filed"), "{notice}");
    assert!(
        notice.contains(&format!("href=\"{}/browse/WEB-1\"", third.uri())),
        "{notice}"
    );
    // Asked again, the group's issue is the answer: Jira is not called.
    let again = owner
        .post(
            &format!("{group_path}/issues"),
            &[("connection", &format!("jira:{jira}"))],
        )
        .await
        .expect_page();
    let notice = between(&again.text, "id=\"filed-issue\"", "</div>").unwrap();
    assert!(notice.contains("already has"), "{notice}");

    owner.get("/p/shop/integrations").await.expect_page();
    let page = owner
        .post(
            "/p/shop/integrations/connections",
            &[
                ("kind", "github"),
                ("name", "repo"),
                ("token", GITHUB_TOKEN),
                ("owner", "acme"),
                ("repo", "web"),
            ],
        )
        .await
        .expect_page();
    let github = connection_id(&page.text, "repo");
    owner.get(&group_path).await.expect_page();
    let opened = owner
        .post(
            &format!("{group_path}/issues"),
            &[("connection", &format!("github:{github}"))],
        )
        .await
        .expect_page();
    assert!(
        opened
            .text
            .contains("href=\"https://github.com/acme/web/issues/7\""),
        "{}",
        opened.text
    );

    let page = owner.get(&group_path).await.expect_page();
    let links = between(&page.text, "id=\"issue-links\"", "</ul>").unwrap();
    assert!(links.contains("WEB-1"), "{links}");
    assert!(links.contains("acme/web#7"), "{links}");

    // Only Jira and GitHub connections file issues.
    let forged = owner
        .post(
            &format!("{group_path}/issues"),
            &[("connection", "slack:0193a6a0-0000-7000-8000-000000000000")],
        )
        .await;
    assert_eq!(forged.status, StatusCode::UNPROCESSABLE_ENTITY);
}
