//! The platform with the dashboard, and a client that behaves like a
//! browser: it keeps its cookies and posts forms with their CSRF token.

use std::collections::BTreeMap;

use base64::Engine;
use reqwest::{Method, StatusCode};
use test_support::{Reply, TestApp};
use wiremock::MockServer;

use crate::gateway_helpers::{self, PASSWORD, Platform};

/// auth, project, failure, analytics and the integration gateway behind
/// the API gateway; the web service calling that gateway; and a second
/// gateway replica that routes pages to the web service, which tests
/// browse. The third parties (Jira, GitHub, Atlassian's OAuth) are one
/// wiremock server, `third_parties`.
#[derive(Debug)]
pub struct Dashboard {
    pub platform: Platform,
    pub front: TestApp,
    pub third_parties: MockServer,
    /// The web service, on a port of its own so a restarted one (on the
    /// same database) takes its place behind the front gateway.
    pub web: Option<TestApp>,
    web_settings: Vec<(&'static str, String)>,
    _failure: TestApp,
    _analytics: TestApp,
    _integration: TestApp,
}

/// A master key of the test platform's integration gateway: 32 distinct
/// bytes.
fn integration_master_key() -> String {
    let bytes: Vec<u8> = (0_u8..32)
        .map(|i| i.wrapping_mul(37).wrapping_add(5))
        .collect();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

impl Dashboard {
    pub async fn start() -> Self {
        Self::start_with(&[], &[]).await
    }

    /// [`Dashboard::start`] with `web_extra` overriding the web service's
    /// settings and `gateway_extra` both gateways'.
    pub async fn start_with(
        web_extra: &[(&'static str, String)],
        gateway_extra: &[(&'static str, String)],
    ) -> Self {
        // auth and project first: analytics asks the project service for a
        // user's projects (the overview).
        let mut platform = gateway_helpers::spawn(gateway_extra).await;
        let analytics = TestApp::spawn(
            &analytics_service::SPEC,
            analytics_service::build,
            &[
                ("service.project_url", platform.project.url("")),
                (
                    "service.integration_gateway_url",
                    "http://127.0.0.1:9".to_owned(),
                ),
            ],
        )
        .await;
        // The failure service relays its events to analytics and the
        // integration gateway quickly, so the dashboards follow uploads
        // and triage.
        let integration_port = test_support::later_port();
        let failure = TestApp::spawn_on(
            &failure_service::SPEC,
            failure_service::build,
            analytics.shared_database(),
            &[
                ("service.analytics_url", analytics.url("")),
                // Assignees are checked against the project's members.
                ("service.project_url", platform.project.url("")),
                (
                    "service.integration_gateway_url",
                    format!("http://127.0.0.1:{integration_port}"),
                ),
                ("service.outbox_relay_interval_ms", "50".to_owned()),
                ("service.outbox_backoff_base_ms", "100".to_owned()),
                ("service.outbox_backoff_max_secs", "1".to_owned()),
            ],
        )
        .await;
        let third_parties = MockServer::start().await;
        let atlassian = third_parties.uri();
        let integration = TestApp::spawn_on(
            &integration_gateway::SPEC,
            integration_gateway::build,
            analytics.shared_database(),
            &[
                ("server.port", integration_port.to_string()),
                ("service.master_key_id", "k1".to_owned()),
                ("service.master_keys.k1", integration_master_key()),
                // The mock third parties listen on this machine, over http.
                ("service.allow_http", "true".to_owned()),
                ("service.allow_loopback", "true".to_owned()),
                ("service.failure_url", failure.url("")),
                ("service.github_api_url", atlassian.clone()),
                ("service.jira_oauth_client_id", "faultline-app".to_owned()),
                (
                    "service.jira_oauth_client_secret",
                    "app-secret-0123456789".to_owned(),
                ),
                (
                    "service.jira_oauth_authorize_url",
                    format!("{atlassian}/authorize"),
                ),
                (
                    "service.jira_oauth_token_url",
                    format!("{atlassian}/oauth/token"),
                ),
                ("service.jira_api_url", atlassian.clone()),
                ("service.delivery_poll_interval_ms", "50".to_owned()),
            ],
        )
        .await;
        let mut api_gateway = vec![
            ("service.upstreams.auth.url", platform.auth.url("")),
            ("service.upstreams.project.url", platform.project.url("")),
            gateway_helpers::failure_upstream(&failure),
            ("service.upstreams.analytics.url", analytics.url("")),
            ("service.upstreams.integration.url", integration.url("")),
            ("service.poll_interval_ms", "100".to_owned()),
            ("service.anonymous_rate_per_minute", "100000".to_owned()),
            ("service.anonymous_burst", "10000".to_owned()),
            (
                "service.anonymous_global_rate_per_minute",
                "100000".to_owned(),
            ),
            ("service.anonymous_global_burst", "10000".to_owned()),
            // A plan changed in the database (`on_the_largest_plan`) is
            // seen within a second.
            ("service.access_cache_secs", "1".to_owned()),
        ];
        api_gateway.extend(gateway_extra.iter().cloned());
        // The API gateway with every upstream replaces the platform's own.
        platform.gateway = gateway_helpers::gateway(&api_gateway).await;
        let mut web_settings = vec![
            ("service.gateway_url", platform.url("")),
            ("server.port", test_support::later_port().to_string()),
        ];
        web_settings.extend(web_extra.iter().cloned());
        let web = TestApp::spawn_on(
            &web_service::SPEC,
            web_service::build,
            analytics.shared_database(),
            &web_settings,
        )
        .await;
        let mut front = api_gateway;
        front.extend([
            ("service.upstreams.web.url", web.url("")),
            ("service.pages_upstream", "web".to_owned()),
        ]);
        let front = gateway_helpers::gateway(&front).await;
        Self {
            platform,
            front,
            third_parties,
            web: Some(web),
            web_settings,
            _failure: failure,
            _analytics: analytics,
            _integration: integration,
        }
    }

    /// The web service's database (the `web` schema's sessions).
    pub async fn web_database(&self) -> tokio_postgres::Client {
        self.web
            .as_ref()
            .expect("the web service runs")
            .database()
            .admin_client()
            .await
    }

    /// Stops the web service and starts a new one in its place (same
    /// port, same database), as a deployment does.
    pub async fn restart_web(&mut self) {
        let web = self.web.take().expect("the web service runs");
        let database = web.shared_database();
        web.stop().await;
        self.web = Some(
            TestApp::spawn_on(
                &web_service::SPEC,
                web_service::build,
                database,
                &self.web_settings,
            )
            .await,
        );
    }

    /// A second web service replica on the same database, answering on
    /// its own port (pages fetched from it directly).
    pub async fn another_web_replica(&self) -> TestApp {
        let web = self.web.as_ref().expect("the web service runs");
        let settings: Vec<(&'static str, String)> = self
            .web_settings
            .iter()
            .filter(|(key, _)| *key != "server.port")
            .cloned()
            .collect();
        TestApp::spawn_on(
            &web_service::SPEC,
            web_service::build,
            web.shared_database(),
            &settings,
        )
        .await
    }

    /// Waits until the analytics summary of `shop` counts `builds`
    /// finished builds (the failure service's events have arrived). Asks
    /// the API itself, once per 300 ms: a dashboard page costs several
    /// calls against the project plan's rate.
    pub async fn wait_for_analytics(&self, key: &str, builds: i64) {
        let started = std::time::Instant::now();
        loop {
            let summary = self
                .platform
                .send(
                    Method::GET,
                    "/api/v1/projects/shop/analytics/summary?period=30",
                    Some(key),
                    None,
                )
                .await
                .expect(200);
            if summary["period"]["builds"].as_i64() == Some(builds) {
                return;
            }
            assert!(
                started.elapsed() < std::time::Duration::from_secs(30),
                "analytics never counted {builds} builds: {summary}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        }
    }

    /// A browser with no cookies yet.
    pub fn browser(&self) -> Browser {
        Browser {
            base: self.front.url(""),
            http: test_support::http_client(),
            cookies: BTreeMap::new(),
            csrf: String::new(),
            forwarded_for: None,
        }
    }

    /// A browser signed up as `email`, owner of project `shop` with one
    /// build uploaded (one test passing, one failing) through an API key
    /// made on the settings page: the browser, the build's and its failure
    /// group's ids.
    pub async fn project_with_a_build(&self, email: &str) -> (Browser, String, String) {
        let mut browser = self.signed_up(email).await;
        let created = browser
            .post("/projects", &[("name", "Shop"), ("slug", "shop")])
            .await;
        assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.text);
        self.on_the_largest_plan("shop").await;
        let key = browser.new_api_key().await;
        let build = self.platform.create_build(&key, "shop").await;
        let uploaded = self.platform.upload_results(&key, "shop", &build).await;
        assert!(uploaded.status.is_success(), "{}", uploaded.text);
        let build_page = browser.get(&format!("/p/shop/builds/{build}")).await;
        let group = between(&build_page.text, "href=\"/p/shop/groups/", "\"")
            .unwrap()
            .to_owned();
        (browser, build, group)
    }

    /// Puts project `slug` on the largest plan (the gateways see it within
    /// their one-second access cache), so a test that loads many pages
    /// (each page is several API calls) is not cut short by the free
    /// plan's request burst.
    pub async fn on_the_largest_plan(&self, slug: &str) {
        self.platform
            .project
            .database()
            .admin_client()
            .await
            .execute(
                "UPDATE project.projects SET plan = 'enterprise' WHERE slug = $1",
                &[&slug],
            )
            .await
            .unwrap();
    }

    /// A browser signed up (and so signed in) as `email`.
    pub async fn signed_up(&self, email: &str) -> Browser {
        let mut browser = self.browser();
        browser.get("/sign-up").await.expect_page();
        let signed_up = browser
            .post(
                "/sign-up",
                &[
                    ("display_name", "Someone"),
                    ("email", email),
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
        assert_eq!(signed_up.header("location"), Some("/"));
        browser.get("/").await.expect_page();
        browser
    }
}

/// Cookies and the CSRF token of the last page seen.
#[derive(Debug)]
pub struct Browser {
    base: String,
    http: reqwest::Client,
    pub cookies: BTreeMap<String, String>,
    pub csrf: String,
    /// Sent as `X-Forwarded-For`, as a proxy in front of the gateway would.
    pub forwarded_for: Option<String>,
}

/// A page as a test reads it.
pub trait PageReply {
    /// Fails unless the answer is a 200 HTML page.
    fn expect_page(self) -> Reply;
}

impl PageReply for Reply {
    fn expect_page(self) -> Reply {
        assert_eq!(self.status, StatusCode::OK, "{}", self.text);
        assert_eq!(
            self.header("content-type"),
            Some("text/html; charset=utf-8")
        );
        self
    }
}

impl Browser {
    /// Creates an API key (role member) for `shop` on the settings page;
    /// its secret, shown on that answer only.
    pub async fn new_api_key(&mut self) -> String {
        self.get("/p/shop/settings").await.expect_page();
        let key_page = self
            .post(
                "/p/shop/settings/api-keys",
                &[("name", "ci"), ("role", "member"), ("days", "30")],
            )
            .await
            .expect_page();
        between(&key_page.text, "id=\"new-api-key\">", "<")
            .unwrap()
            .to_owned()
    }

    async fn send(&mut self, request: reqwest::RequestBuilder) -> Reply {
        let cookie = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let mut request = request.header("cookie", cookie);
        if let Some(chain) = &self.forwarded_for {
            request = request.header("x-forwarded-for", chain);
        }
        let reply = Reply::from_request(request).await;
        for set in reply.headers.get_all("set-cookie") {
            let set = set.to_str().unwrap();
            let (name, value) = set.split(';').next().unwrap().split_once('=').unwrap();
            if value.is_empty() {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        if let Some(token) = between(&reply.text, "name=\"csrf\" value=\"", "\"") {
            self.csrf = token.to_owned();
        }
        reply
    }

    pub async fn get(&mut self, path: &str) -> Reply {
        let request = self.http.get(format!("{}{path}", self.base));
        self.send(request).await
    }

    /// Posts a form with the CSRF token of the last page seen.
    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Reply {
        let csrf = self.csrf.clone();
        let mut form: Vec<(&str, &str)> = vec![("csrf", csrf.as_str())];
        form.extend_from_slice(fields);
        self.post_raw(path, &form).await
    }

    /// Posts exactly `fields`.
    pub async fn post_raw(&mut self, path: &str, fields: &[(&str, &str)]) -> Reply {
        let request = self
            .http
            .request(Method::POST, format!("{}{path}", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form_body(fields));
        self.send(request).await
    }
}

/// The text between `start` and the next `end`.
pub fn between<'a>(text: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = text.find(start)? + start.len();
    let len = text[from..].find(end)?;
    Some(&text[from..from + len])
}

/// `fields` as `application/x-www-form-urlencoded`.
fn form_body(fields: &[(&str, &str)]) -> String {
    let encode = |text: &str| -> String {
        text.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (b as char).to_string()
                }
                other => format!("%{other:02X}"),
            })
            .collect()
    };
    fields
        .iter()
        .map(|(name, value)| format!("{}={}", encode(name), encode(value)))
        .collect::<Vec<_>>()
        .join("&")
}
