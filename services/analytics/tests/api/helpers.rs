//! The analytics service with the real failure service on one database
//! ([`Stack`]): history is made through the failure service's API (builds,
//! JUnit uploads, triage, labels) and reaches analytics through the
//! failure service's outbox relay, as in production.

#![allow(dead_code, reason = "each test module uses part of this module")]

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use tenant_core::{Role, TenantContext};
use test_support::{Reply, TestApp, contexts};
use uuid::Uuid;

/// How long a test waits for an event to reach the rollups.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// The analytics service and, on the same database, the failure service
/// relaying its events to it (and to an integration gateway that is not
/// there: each receiver has its own queue, so analytics gets them anyway).
pub struct Stack {
    pub analytics: TestApp,
    pub failure: TestApp,
}

/// Failure-service settings that relay to `analytics` quickly.
pub fn relay_to(analytics: &TestApp) -> Vec<(&'static str, String)> {
    vec![
        (
            "service.integration_gateway_url",
            "http://127.0.0.1:9".to_owned(),
        ),
        (
            "service.analytics_url",
            analytics.url("").trim_end_matches('/').to_owned(),
        ),
        ("service.outbox_relay_interval_ms", "50".to_owned()),
        ("service.outbox_backoff_base_ms", "100".to_owned()),
        ("service.outbox_backoff_max_secs", "1".to_owned()),
    ]
}

impl Stack {
    pub async fn start() -> Self {
        Self::start_with(&[]).await
    }

    /// With `analytics_extra` settings for the analytics service (the
    /// project service's URL, the reconciliation).
    pub async fn start_with(analytics_extra: &[(&'static str, String)]) -> Self {
        let mut settings = vec![("service.reconcile_interval_secs", "3600".to_owned())];
        settings.extend(analytics_extra.iter().cloned());
        let analytics = TestApp::spawn(
            &analytics_service::SPEC,
            analytics_service::build,
            &settings,
        )
        .await;
        let failure = TestApp::spawn_on(
            &failure_service::SPEC,
            failure_service::build,
            analytics.shared_database(),
            &relay_to(&analytics),
        )
        .await;
        Self { analytics, failure }
    }

    /// As [`Stack::start`], but the failure service's relay to analytics
    /// points nowhere: the test delivers the events itself.
    pub async fn start_undelivered() -> Self {
        let settings = [("service.reconcile_interval_secs", "3600".to_owned())];
        let analytics = TestApp::spawn(
            &analytics_service::SPEC,
            analytics_service::build,
            &settings,
        )
        .await;
        let mut relay = relay_to(&analytics);
        relay.retain(|(key, _)| *key != "service.analytics_url");
        relay.push(("service.analytics_url", "http://127.0.0.1:9".to_owned()));
        let failure = TestApp::spawn_on(
            &failure_service::SPEC,
            failure_service::build,
            analytics.shared_database(),
            &relay,
        )
        .await;
        Self { analytics, failure }
    }

    /// Registers a build of `job` on `branch` and returns its id.
    pub async fn create_build(
        &self,
        ctx: &TenantContext,
        job: &str,
        branch: &str,
        external_id: &str,
    ) -> Uuid {
        let path = format!("/v1/projects/{}/builds", project_of(ctx));
        let body = json!({"job_name": job, "external_id": external_id, "branch": branch});
        let body = self.failure.post(&path, ctx, body).await.expect(201);
        body["id"].as_str().unwrap().parse().unwrap()
    }

    /// Uploads a JUnit report of `cases` to `build`.
    pub async fn upload(&self, ctx: &TenantContext, build: Uuid, cases: &[Case]) {
        let path = format!("/v1/projects/{}/builds/{build}/results", project_of(ctx));
        let reply = Reply::from_request(
            self.failure
                .request_as(Method::POST, &path, ctx)
                .header("content-type", "application/xml")
                .body(junit(cases)),
        )
        .await;
        assert!(reply.status.is_success(), "{}", reply.text);
    }

    /// Moves `build` to `status` (publishing `build.completed`).
    pub async fn finish(&self, ctx: &TenantContext, build: Uuid, status: &str) {
        let path = format!("/v1/projects/{}/builds/{build}", project_of(ctx));
        let reply = self
            .failure
            .patch(&path, ctx, json!({"status": status}))
            .await;
        assert!(reply.status.is_success(), "{}", reply.text);
    }

    /// A build of `job` on `branch` with `cases`, finished as `status`.
    pub async fn build(
        &self,
        ctx: &TenantContext,
        job: &str,
        branch: &str,
        cases: &[Case],
        status: &str,
    ) -> Uuid {
        let build = self
            .create_build(ctx, job, branch, &Uuid::now_v7().to_string())
            .await;
        self.upload(ctx, build, cases).await;
        self.finish(ctx, build, status).await;
        build
    }

    /// The project's failure groups as the failure service lists them.
    pub async fn groups(&self, ctx: &TenantContext) -> Vec<Value> {
        let path = format!("/v2/projects/{}/failures", project_of(ctx));
        let body = self.failure.get(&path, ctx).await.expect(200);
        body["items"].as_array().unwrap().clone()
    }

    /// The id of the group whose exception type is `exception_type`.
    pub async fn group_of(&self, ctx: &TenantContext, exception_type: &str) -> Uuid {
        let groups = self.groups(ctx).await;
        let group = groups
            .iter()
            .find(|g| g["exception_type"] == exception_type)
            .unwrap_or_else(|| panic!("no group of {exception_type} in {groups:?}"));
        group["id"].as_str().unwrap().parse().unwrap()
    }

    /// Moves a group to a triage status; returns the group as answered.
    pub async fn set_status(&self, ctx: &TenantContext, group: Uuid, status: &str) -> Value {
        let path = format!("/v2/projects/{}/failures/{group}", project_of(ctx));
        self.failure
            .patch(&path, ctx, json!({"status": status}))
            .await
            .expect(200)
    }

    /// Gives a group a member's label.
    pub async fn label(&self, ctx: &TenantContext, group: Uuid, label: &str) {
        let path = format!("/v2/projects/{}/failures/{group}/label", project_of(ctx));
        self.failure
            .put(&path, ctx, json!({"label": label}))
            .await
            .expect(200);
    }

    /// `GET /v1/projects/{project}/analytics/{what}?{query}` on analytics.
    pub async fn dashboard(&self, ctx: &TenantContext, what: &str, query: &str) -> Reply {
        let path = format!("/v1/projects/{}/analytics/{what}?{query}", project_of(ctx));
        self.analytics.get(&path, ctx).await
    }

    /// Waits until the summary counts `builds` finished builds.
    pub async fn wait_for_builds(&self, ctx: &TenantContext, builds: u64) -> Value {
        test_support::eventually("the builds to reach the rollups", DEADLINE, || async {
            let body = self.dashboard(ctx, "summary", "").await.expect(200);
            (body["period"]["builds"] == builds).then_some(body)
        })
        .await
    }

    /// Waits until every event the failure service published has been
    /// delivered to analytics.
    pub async fn wait_for_delivery(&self) {
        let admin = self.analytics.database().admin_client().await;
        test_support::eventually("every event to reach analytics", DEADLINE, || async {
            let row = admin
                .query_one(
                    "SELECT count(*) FROM failure.outbox_analytics WHERE delivered_at IS NULL",
                    &[],
                )
                .await
                .unwrap();
            (row.get::<_, i64>(0) == 0).then_some(())
        })
        .await;
    }
}

pub fn viewer(project_id: Uuid) -> TenantContext {
    contexts::user(project_id, Role::Viewer)
}

/// A member: uploads, triages and labels.
pub fn member(project_id: Uuid) -> TenantContext {
    contexts::user(project_id, Role::Member)
}

pub fn project_of(ctx: &TenantContext) -> Uuid {
    ctx.project().expect("a context in a project").project_id
}

/// One test case of a report.
#[derive(Debug, Clone)]
pub struct Case {
    pub name: String,
    pub outcome: Outcome,
    /// Duration in milliseconds.
    pub millis: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Pass,
    /// Fails with an exception of this type (one failure group per type).
    Fail(String),
    Skip,
    /// Failed once, passed on a rerun, with this exception type.
    Flaky(String),
}

pub fn case(name: &str, outcome: Outcome, millis: u64) -> Case {
    Case {
        name: name.to_owned(),
        outcome,
        millis,
    }
}

pub fn pass(name: &str, millis: u64) -> Case {
    case(name, Outcome::Pass, millis)
}

pub fn fail(name: &str, exception: &str) -> Case {
    case(name, Outcome::Fail(exception.to_owned()), 10)
}

/// A JUnit XML report of `cases` in suite `shop`, class `com.acme.ShopTest`.
pub fn junit(cases: &[Case]) -> String {
    let mut xml = String::from("<testsuite name=\"shop\">");
    for case in cases {
        let secs = format!("{}.{:03}", case.millis / 1000, case.millis % 1000);
        xml.push_str(&format!(
            "<testcase classname=\"com.acme.ShopTest\" name=\"{}\" time=\"{secs}\">",
            case.name
        ));
        match &case.outcome {
            Outcome::Pass => {}
            Outcome::Skip => xml.push_str("<skipped/>"),
            Outcome::Fail(exception) => xml.push_str(&failure_element("failure", exception)),
            Outcome::Flaky(exception) => xml.push_str(&failure_element("flakyFailure", exception)),
        }
        xml.push_str("</testcase>");
    }
    xml.push_str("</testsuite>");
    xml
}

/// A failure of `exception` whose stack differs per exception type, so
/// each type makes a group of its own.
fn failure_element(element: &str, exception: &str) -> String {
    let short = exception.rsplit('.').next().unwrap_or(exception);
    let message = format!("{short} raised by the {short} handler");
    if element == "failure" {
        format!(
            "<failure message=\"{message}\" type=\"{exception}\">{exception}: {message}\n\
             \tat com.acme.{short}Handler.handle({short}Handler.java:17)\n\
             \tat com.acme.{short}Service.run({short}Service.java:29)\n</failure>"
        )
    } else {
        format!(
            "<{element} message=\"{message}\" type=\"{exception}\">\
             <stackTrace>{exception}: {message}\n\
             \tat com.acme.{short}Handler.handle({short}Handler.java:17)\n\
             \tat com.acme.{short}Service.run({short}Service.java:29)\n</stackTrace></{element}>"
        )
    }
}

/// The failure service's id of test `name` of this module's reports.
pub fn test_id(project_id: Uuid, name: &str) -> Uuid {
    failure_service::domain::test_id(project_id, "shop", "com.acme.ShopTest", name)
}

/// The rollup tables a snapshot compares (`rollup_slices` only orders
/// the reconciliation).
pub const ROLLUP_TABLES: [&str; 8] = [
    "build_rollups",
    "daily_rollups",
    "daily_label_rollups",
    "test_daily_rollups",
    "test_weekly_rollups",
    "group_daily_rollups",
    "group_rollups",
    "project_rollups",
];

/// Every rollup row of `project_id` as JSON text without the time it was
/// computed, sorted: two snapshots are equal when the rollups are.
pub async fn rollups_snapshot(admin: &tokio_postgres::Client, project_id: Uuid) -> Vec<String> {
    let mut rows = Vec::new();
    for table in ROLLUP_TABLES {
        let found = admin
            .query(
                &format!(
                    "SELECT '{table} ' || (to_jsonb(t) - 'refreshed_at')::text AS r
                       FROM analytics.{table} t WHERE t.project_id = $1 ORDER BY r"
                ),
                &[&project_id],
            )
            .await
            .unwrap();
        rows.extend(found.iter().map(|row| row.get::<_, String>("r")));
    }
    rows
}

/// The events analytics kept for `project_id`, oldest first.
pub async fn kept_events(
    admin: &tokio_postgres::Client,
    project_id: Uuid,
) -> Vec<tenant_core::outbox::OutboxEvent> {
    admin
        .query(
            "SELECT event_id, kind, occurred_at, payload FROM analytics.event_inbox
              WHERE project_id = $1 ORDER BY event_id",
            &[&project_id],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| tenant_core::outbox::OutboxEvent {
            id: row.get("event_id"),
            project_id,
            kind: row.get("kind"),
            occurred_at: row.get("occurred_at"),
            payload: row.get("payload"),
        })
        .collect()
}

/// Delivers `events` to analytics as the failure service's relay does.
pub async fn deliver(
    analytics: &TestApp,
    project_id: Uuid,
    events: &[tenant_core::outbox::OutboxEvent],
) -> Reply {
    let ctx = TenantContext::service_in_project(Uuid::now_v7(), project_id, "test-relay");
    let batch = json!({"source": "failure-service", "events": events});
    analytics.post("/internal/v1/events", &ctx, batch).await
}
