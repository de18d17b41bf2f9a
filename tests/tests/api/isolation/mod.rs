//! Two tenants on the whole platform, attacked through the gateway the way
//! a malicious tenant would: every public route of the route table, every
//! kind of caller, each project's objects under the other's path.

mod matrix;
mod seed;

use reqwest::Method;
use serde_json::Value;
use test_support::{Reply, TestApp};

use crate::faults::balancer::Balancer;
use crate::gateway_helpers::{self, Platform, User};

pub use seed::{Tenant, seed_tenant};

/// auth, project, failure, analytics and integration behind one gateway:
/// the gateway's test platform with the failure and analytics services (on
/// one database of their own) and the integration gateway as upstreams.
#[derive(Debug)]
pub struct FullPlatform {
    pub platform: Platform,
    pub failure: TestApp,
    /// Kept running for the gateway's `analytics` upstream.
    _analytics: TestApp,
    _to_analytics: Balancer,
    /// Kept running for the gateway's `integration` upstream.
    pub integration: gateway_helpers::IntegrationBackend,
    /// What the platform's gateway was started with on top of the
    /// gateway test platform's own settings.
    gateway_extra: Vec<(&'static str, String)>,
}

impl FullPlatform {
    /// Starts every backend the route table names, with `gateway_extra`
    /// on the gateway's settings.
    pub async fn start(gateway_extra: &[(&'static str, String)]) -> Self {
        let failure = TestApp::spawn(&failure_service::SPEC, failure_service::build, &[]).await;
        Self::start_with(failure, gateway_extra).await
    }

    /// [`FullPlatform::start`] around a failure service the test started
    /// (behind a proxy of its own, say); `gateway_extra` comes last, so it
    /// may point the gateway's `failure` upstream elsewhere.
    pub async fn start_with(failure: TestApp, gateway_extra: &[(&'static str, String)]) -> Self {
        // The analytics service asks the project service, which starts with
        // the gateway: the gateway reaches analytics through a balancer that
        // gets its endpoint once analytics is up.
        let to_analytics = Balancer::start().await;
        // Receivers on this machine (the seed's), retried within tens of
        // milliseconds.
        let integration = gateway_helpers::IntegrationBackend {
            service: TestApp::spawn(
                &integration_gateway::SPEC,
                integration_gateway::build,
                &[
                    ("service.allow_http", "true".to_owned()),
                    ("service.allow_loopback", "true".to_owned()),
                    ("service.delivery_poll_interval_ms", "50".to_owned()),
                ],
            )
            .await,
        };
        let mut gateway = vec![
            gateway_helpers::failure_upstream(&failure),
            ("service.upstreams.analytics.url", to_analytics.url()),
            integration.upstream_override(),
            // The matrix sends hundreds of requests per caller in seconds.
            ("service.principal_rate_per_minute", "1000000".to_owned()),
            ("service.principal_burst", "100000".to_owned()),
        ];
        gateway.extend(gateway_extra.iter().cloned());
        let platform = gateway_helpers::spawn(&gateway).await;
        let gateway_extra = gateway;
        let analytics = TestApp::spawn_on(
            &analytics_service::SPEC,
            analytics_service::build,
            failure.shared_database(),
            &[
                (
                    "service.integration_gateway_url",
                    "http://127.0.0.1:9".to_owned(),
                ),
                ("service.project_url", platform.project.url("")),
            ],
        )
        .await;
        to_analytics.add(&analytics.url(""));
        Self {
            platform,
            failure,
            _analytics: analytics,
            _to_analytics: to_analytics,
            integration,
            gateway_extra,
        }
    }

    /// Another gateway replica, set as the platform's with `extra` last
    /// (an upstream pointed elsewhere, say).
    pub async fn another_gateway_with(&self, extra: &[(&'static str, String)]) -> TestApp {
        let mut overrides = vec![
            ("service.upstreams.auth.url", self.platform.auth.url("")),
            (
                "service.upstreams.project.url",
                self.platform.project.url(""),
            ),
            ("service.poll_interval_ms", "100".to_owned()),
        ];
        overrides.extend(self.gateway_extra.iter().cloned());
        overrides.extend(extra.iter().cloned());
        gateway_helpers::gateway(&overrides).await
    }

    /// A signed-in platform admin, who may change plans.
    pub async fn platform_admin(&self) -> User {
        let admin = self
            .platform
            .sign_up_and_log_in(&format!(
                "platform-admin-{}@example.com",
                uuid::Uuid::new_v4()
            ))
            .await;
        self.platform
            .database
            .admin_client()
            .await
            .execute(
                "UPDATE auth.users SET platform_role = 'admin' WHERE email = $1",
                &[&admin.email],
            )
            .await
            .unwrap();
        self.log_in(&admin).await
    }

    /// Puts project `slug` on the largest plan, so that tests sending many
    /// requests or uploads measure what they test and not the plan's limit.
    pub async fn raise_plan(&self, admin: &User, slug: &str) {
        self.send(
            Method::PUT,
            &format!("/api/v1/projects/{slug}/plan"),
            Some(&admin.access_token),
            Some(serde_json::json!({"plan": "enterprise"})),
        )
        .await
        .expect(200);
    }

    /// Sends `method path` through the gateway with `token` and an
    /// optional body (`content_type`, bytes).
    pub async fn send_raw(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<(&'static str, Vec<u8>)>,
    ) -> Reply {
        let mut request = self.platform.request(method, path);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some((content_type, bytes)) = body {
            request = request.header("content-type", content_type).body(bytes);
        }
        Reply::from_request(request).await
    }

    /// `user` signed in again: a new access token with what the auth
    /// service now knows of them (a platform role given since).
    pub async fn log_in(&self, user: &User) -> User {
        let tokens = self
            .send(
                Method::POST,
                "/api/v1/auth/login",
                None,
                Some(serde_json::json!({ "email": user.email, "password": gateway_helpers::PASSWORD })),
            )
            .await
            .expect(200);
        User {
            access_token: tokens["access_token"].as_str().unwrap().to_owned(),
            refresh_token: tokens["refresh_token"].as_str().unwrap().to_owned(),
            ..user.clone()
        }
    }

    pub async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        self.platform.send(method, path, token, body).await
    }
}
