//! The analytics service as it runs in production, on one fresh database
//! with the services it depends on ([`Platform`]): the project service
//! knows the projects and their members, the failure service takes
//! builds, JUnit uploads, triage and labels through its API (real
//! grouping and classification) and publishes its events to analytics
//! through its outbox relay, or to nowhere when a test delivers them
//! itself ([`Relay`]). Every test history goes in through those APIs and
//! every answer comes out of the analytics service's.

#![allow(dead_code, reason = "each test module uses part of this module")]

use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use tenant_core::outbox::OutboxEvent;
use tenant_core::{Db, PrincipalKind, Role, TenantContext};
use test_support::{Reply, TestApp, TestDatabase, contexts};
use uuid::Uuid;

/// How long a test waits for an event to reach the rollups.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// A URL nothing listens on (the discard port): what a relay sends there
/// waits in its queue.
const NOWHERE: &str = "http://127.0.0.1:9";

/// The suite and class every test case of [`junit`] reports belong to.
const SUITE: &str = "shop";
const CLASS: &str = "com.acme.ShopTest";

/// Where the failure service relays the events analytics consumes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relay {
    /// To the analytics service, within a fraction of a second.
    ToAnalytics,
    /// Nowhere: the events wait in the failure service's queue for
    /// analytics until the test delivers them (or never).
    Nowhere,
}

/// The project, failure and analytics services on one database. Outbox
/// relays other than the chosen [`Relay`] point nowhere, so no event
/// leaves the test unless it says so; the reconciliation waits an hour
/// unless a test's settings say otherwise.
pub struct Platform {
    pub database: Arc<TestDatabase>,
    pub project: TestApp,
    pub failure: TestApp,
    pub analytics: TestApp,
}

/// A project the project service knows, and its callers: a CI API key
/// (member) that creates builds and uploads, an admin who triages, labels
/// and writes gate rules, and a viewer who reads.
pub struct Project {
    pub id: Uuid,
    pub admin_id: Uuid,
    pub ci: TenantContext,
    pub admin: TenantContext,
    pub viewer: TenantContext,
}

impl Platform {
    pub async fn start(relay: Relay) -> Self {
        Self::start_with(relay, &[]).await
    }

    /// [`Platform::start`], with `analytics_extra` overriding the
    /// analytics service's settings.
    pub async fn start_with(relay: Relay, analytics_extra: &[(&'static str, String)]) -> Self {
        let database = Arc::new(TestDatabase::create().await);
        let project = TestApp::spawn_on(
            &project_service::SPEC,
            project_service::build,
            Some(database.clone()),
            // Nothing here reports access changes to an auth service.
            &[(
                "service.key_creator_relay_interval_ms",
                "3600000".to_owned(),
            )],
        )
        .await;
        let mut settings = vec![
            ("service.reconcile_interval_secs", "3600".to_owned()),
            ("service.integration_gateway_url", NOWHERE.to_owned()),
            ("service.project_url", base_url(&project)),
        ];
        settings.extend(analytics_extra.iter().cloned());
        let analytics = TestApp::spawn_on(
            &analytics_service::SPEC,
            analytics_service::build,
            Some(database.clone()),
            &settings,
        )
        .await;
        let analytics_url = match relay {
            Relay::ToAnalytics => base_url(&analytics),
            Relay::Nowhere => NOWHERE.to_owned(),
        };
        let failure = TestApp::spawn_on(
            &failure_service::SPEC,
            failure_service::build,
            Some(database.clone()),
            &[
                ("service.integration_gateway_url", NOWHERE.to_owned()),
                ("service.analytics_url", analytics_url),
                ("service.project_url", base_url(&project)),
                ("service.outbox_relay_interval_ms", "50".to_owned()),
                ("service.outbox_backoff_base_ms", "100".to_owned()),
                ("service.outbox_backoff_max_secs", "1".to_owned()),
            ],
        )
        .await;
        Self {
            database,
            project,
            failure,
            analytics,
        }
    }

    /// A new project, written where the project service keeps it, with
    /// an admin and a viewer as members.
    pub async fn new_project(&self) -> Project {
        let id = Uuid::now_v7();
        let (admin_id, viewer_id) = (Uuid::now_v7(), Uuid::now_v7());
        let slug = format!("p-{}", &id.simple().to_string()[20..]);
        self.database
            .admin_client()
            .await
            .execute(
                "INSERT INTO project.projects (id, slug, name) VALUES ($1, $2, $2)",
                &[&id, &slug],
            )
            .await
            .unwrap();
        self.add_member(id, admin_id, Role::Admin).await;
        self.add_member(id, viewer_id, Role::Viewer).await;
        Project {
            id,
            admin_id,
            ci: contexts::api_key(id, Role::Member),
            admin: contexts::in_project(admin_id, PrincipalKind::User, id, Role::Admin),
            viewer: contexts::in_project(viewer_id, PrincipalKind::User, id, Role::Viewer),
        }
    }

    /// Makes `user` a member of `project` with `role`.
    pub async fn add_member(&self, project: Uuid, user: Uuid, role: Role) {
        self.database
            .admin_client()
            .await
            .execute(
                "INSERT INTO project.memberships (project_id, user_id, role) VALUES ($1, $2, $3)",
                &[&project, &user, &role.as_str()],
            )
            .await
            .unwrap();
    }

    /// A pool as the analytics service's runtime role, for calling its
    /// jobs and repositories directly.
    pub async fn analytics_db(&self) -> Db {
        let settings: analytics_service::Settings =
            test_support::settings(&analytics_service::SPEC, Some(&self.database), &[]);
        tenant_core::server::connect_database(&analytics_service::SPEC, &settings)
            .await
            .unwrap()
            .unwrap()
    }

    /// Registers a build of `job` on `branch` and returns its id.
    pub async fn create_build(&self, project: &Project, job: &str, branch: &str) -> Uuid {
        let path = format!("/v1/projects/{}/builds", project.id);
        let body = json!({
            "job_name": job,
            "external_id": Uuid::now_v7().to_string(),
            "branch": branch,
        });
        let body = self
            .failure
            .post(&path, &project.ci, body)
            .await
            .expect(201);
        body["id"].as_str().unwrap().parse().unwrap()
    }

    /// Uploads a JUnit report of `cases` to `build`.
    pub async fn upload(&self, project: &Project, build: Uuid, cases: &[Case]) {
        let path = format!("/v1/projects/{}/builds/{build}/results", project.id);
        let request = self
            .failure
            .request_as(Method::POST, &path, &project.ci)
            .header("content-type", "application/xml")
            .body(junit(cases));
        let reply = Reply::from_request(request).await;
        assert_eq!(reply.status, 201, "{}", reply.text);
    }

    /// Moves `build` to `status` (`passed`, `failed`, ...), publishing
    /// `build.completed`.
    pub async fn finish(&self, project: &Project, build: Uuid, status: &str) {
        let path = format!("/v1/projects/{}/builds/{build}", project.id);
        self.failure
            .patch(&path, &project.ci, json!({ "status": status }))
            .await
            .expect(200);
    }

    /// A build of `job` on `branch` with `cases`, finished as `status`.
    pub async fn build(
        &self,
        project: &Project,
        job: &str,
        branch: &str,
        cases: &[Case],
        status: &str,
    ) -> Uuid {
        let build = self.create_build(project, job, branch).await;
        self.upload(project, build, cases).await;
        self.finish(project, build, status).await;
        build
    }

    /// The project's failure groups as the failure service lists them.
    pub async fn groups(&self, project: &Project) -> Vec<Value> {
        let path = format!("/v2/projects/{}/failures", project.id);
        let body = self.failure.get(&path, &project.viewer).await.expect(200);
        body["items"].as_array().unwrap().clone()
    }

    /// The id of the group whose exception type is `exception_type`.
    pub async fn group_of(&self, project: &Project, exception_type: &str) -> Uuid {
        let groups = self.groups(project).await;
        let group = groups
            .iter()
            .find(|g| g["exception_type"] == exception_type)
            .unwrap_or_else(|| panic!("no group of {exception_type} in {groups:?}"));
        group["id"].as_str().unwrap().parse().unwrap()
    }

    /// The build's failures as the failure service lists them.
    pub async fn failures(&self, project: &Project, build: Uuid) -> Vec<Value> {
        let path = format!("/v1/projects/{}/failures?build={build}", project.id);
        let body = self.failure.get(&path, &project.viewer).await.expect(200);
        body["items"].as_array().unwrap().clone()
    }

    /// The failure of test `name` in `build`: (failure id, group id, test id).
    pub async fn failure_of(
        &self,
        project: &Project,
        build: Uuid,
        name: &str,
    ) -> (Uuid, Uuid, Uuid) {
        let failures = self.failures(project, build).await;
        let failure = failures
            .iter()
            .find(|f| f["test"]["name"] == name)
            .unwrap_or_else(|| panic!("no failure of {name} in {failures:?}"));
        let id = |value: &Value| value.as_str().unwrap().parse::<Uuid>().unwrap();
        (
            id(&failure["id"]),
            id(&failure["group_id"]),
            id(&failure["test"]["id"]),
        )
    }

    /// Moves a group to a triage status; returns the group as answered.
    pub async fn set_status(&self, project: &Project, group: Uuid, status: &str) -> Value {
        self.change_group(project, group, json!({ "status": status }))
            .await
    }

    /// Mutes a group, assigned to the project's admin (a member, as the
    /// project service confirms).
    pub async fn mute(&self, project: &Project, group: Uuid) {
        let body = json!({ "status": "muted", "assignee_id": project.admin_id });
        self.change_group(project, group, body).await;
    }

    async fn change_group(&self, project: &Project, group: Uuid, body: Value) -> Value {
        let path = format!("/v2/projects/{}/failures/{group}", project.id);
        self.failure
            .patch(&path, &project.admin, body)
            .await
            .expect(200)
    }

    /// Gives a group a member's label.
    pub async fn label(&self, project: &Project, group: Uuid, label: &str) {
        let path = format!("/v2/projects/{}/failures/{group}/label", project.id);
        self.failure
            .put(&path, &project.admin, json!({ "label": label }))
            .await
            .expect(200);
    }

    /// Puts a test in quarantine.
    pub async fn quarantine(&self, project: &Project, test: Uuid) {
        let path = format!("/v1/projects/{}/quarantine/{test}", project.id);
        let reply = self.failure.put(&path, &project.admin, json!({})).await;
        assert!(reply.status.is_success(), "{}", reply.text);
    }

    /// `GET /v1/projects/{project}/analytics/{what}?{query}`, as a viewer.
    pub async fn dashboard(&self, project: &Project, what: &str, query: &str) -> Reply {
        let path = format!("/v1/projects/{}/analytics/{what}?{query}", project.id);
        self.analytics.get(&path, &project.viewer).await
    }

    /// Waits until the summary counts `builds` finished builds.
    pub async fn wait_for_builds(&self, project: &Project, builds: u64) -> Value {
        test_support::eventually("the builds to reach the rollups", DEADLINE, || async {
            let body = self.dashboard(project, "summary", "").await.expect(200);
            (body["period"]["builds"] == builds).then_some(body)
        })
        .await
    }

    /// Waits until every event the failure service published has been
    /// delivered to analytics.
    pub async fn wait_for_delivery(&self) {
        self.wait_for_count(
            "every event to reach analytics",
            "SELECT count(*) FROM failure.outbox_analytics WHERE delivered_at IS NULL",
            0,
        )
        .await;
    }

    /// Waits until the `SELECT count(*)` query, run as the admin, answers
    /// `expected`.
    pub async fn wait_for_count(&self, what: &str, query: &str, expected: i64) {
        let admin = self.database.admin_client().await;
        test_support::eventually(what, DEADLINE, || async {
            (count(&admin, query).await == expected).then_some(())
        })
        .await;
    }

    /// Creates a gate rule as the project's admin; returns it.
    pub async fn rule(
        &self,
        project: &Project,
        name: &str,
        kind: &str,
        threshold: Option<f64>,
        branches: &str,
    ) -> Value {
        let mut body = json!({"name": name, "kind": kind, "branch_pattern": branches});
        if let Some(threshold) = threshold {
            body["threshold"] = json!(threshold);
        }
        self.analytics
            .post(&rules_path(project), &project.admin, body)
            .await
            .expect(201)
    }

    /// The build's gate, as a CI step asks for it (an API key).
    pub async fn gate(&self, project: &Project, build: Uuid) -> Reply {
        self.analytics
            .get(&gate_path(project.id, build), &project.ci)
            .await
    }

    /// The build's comparison (`with` another build, or its baseline).
    pub async fn comparison(&self, project: &Project, build: Uuid, with: Option<Uuid>) -> Reply {
        let mut path = format!("/v1/projects/{}/builds/{build}/comparison", project.id);
        if let Some(with) = with {
            path.push_str(&format!("?with={with}"));
        }
        self.analytics.get(&path, &project.viewer).await
    }

    /// Delivers `events` to analytics as the failure service's relay does.
    pub async fn deliver(&self, project_id: Uuid, events: &[OutboxEvent]) -> Reply {
        let ctx = TenantContext::service_in_project(Uuid::now_v7(), project_id, "test-relay");
        let batch = json!({"source": "failure-service", "events": events});
        self.analytics
            .post("/internal/v1/events", &ctx, batch)
            .await
    }
}

/// The address of `app` for another service's settings.
fn base_url(app: &TestApp) -> String {
    app.url("").trim_end_matches('/').to_owned()
}

/// The single count a `SELECT count(*)` query answers.
pub async fn count(admin: &tokio_postgres::Client, query: &str) -> i64 {
    admin.query_one(query, &[]).await.unwrap().get(0)
}

pub fn rules_path(project: &Project) -> String {
    format!("/v1/projects/{}/quality-gate-rules", project.id)
}

pub fn gate_path(project: Uuid, build: Uuid) -> String {
    format!("/v1/projects/{project}/builds/{build}/quality-gate")
}

/// The rule result of `kind` in a gate answer.
pub fn rule_of<'a>(gate: &'a Value, kind: &str) -> &'a Value {
    gate["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|rule| rule["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} rule in {gate}"))
}

/// The tests a rule listed as breaking it.
pub fn failing_tests(rule: &Value) -> Vec<String> {
    rule["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["test"].as_str().unwrap().to_owned())
        .collect()
}

/// One test case of a JUnit report.
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
    Skip,
    /// Fails (JUnit `<failure>`) with an exception of this type: the same
    /// type is the same failure group, in any build.
    Fail(String),
    /// Errors (JUnit `<error>`) with an exception of this type.
    Error(String),
    /// Failed once with this exception type, passed on a rerun.
    Flaky(String),
}

impl Case {
    /// The same case, taking `millis` milliseconds.
    pub fn taking(self, millis: u64) -> Self {
        Self { millis, ..self }
    }
}

pub fn case(name: &str, outcome: Outcome, millis: u64) -> Case {
    Case {
        name: name.to_owned(),
        outcome,
        millis,
    }
}

/// The cases below take 10 ms unless [`Case::taking`] says otherwise.
pub fn pass(name: &str) -> Case {
    case(name, Outcome::Pass, 10)
}

pub fn skip(name: &str) -> Case {
    case(name, Outcome::Skip, 10)
}

pub fn fail(name: &str, exception: &str) -> Case {
    case(name, Outcome::Fail(exception.to_owned()), 10)
}

pub fn error(name: &str, exception: &str) -> Case {
    case(name, Outcome::Error(exception.to_owned()), 10)
}

pub fn flaky(name: &str, exception: &str) -> Case {
    case(name, Outcome::Flaky(exception.to_owned()), 10)
}

/// A JUnit XML report of `cases`, all in suite [`SUITE`], class [`CLASS`].
pub fn junit(cases: &[Case]) -> String {
    let mut xml = format!("<testsuite name=\"{SUITE}\">");
    for case in cases {
        let secs = format!("{}.{:03}", case.millis / 1000, case.millis % 1000);
        xml.push_str(&format!(
            "<testcase classname=\"{CLASS}\" name=\"{}\" time=\"{secs}\">",
            case.name
        ));
        match &case.outcome {
            Outcome::Pass => {}
            Outcome::Skip => xml.push_str("<skipped/>"),
            Outcome::Fail(exception) => xml.push_str(&failure_element("failure", exception)),
            Outcome::Error(exception) => xml.push_str(&failure_element("error", exception)),
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
    let trace = format!(
        "{exception}: {message}\n\
         \tat com.acme.{short}Handler.handle({short}Handler.java:17)\n\
         \tat com.acme.{short}Service.run({short}Service.java:29)\n"
    );
    // Surefire writes a rerun's failure inside a `<stackTrace>` element.
    let trace = if element == "flakyFailure" {
        format!("<stackTrace>{trace}</stackTrace>")
    } else {
        trace
    };
    format!("<{element} message=\"{message}\" type=\"{exception}\">{trace}</{element}>")
}

/// How a test of these reports is named in answers.
pub fn title(name: &str) -> String {
    format!("{SUITE} › {CLASS} › {name}")
}

/// The failure service's id of test `name` of these reports.
pub fn test_id(project_id: Uuid, name: &str) -> Uuid {
    failure_service::domain::test_id(project_id, SUITE, CLASS, name)
}

/// The rollup tables a snapshot compares (`rollup_slices` only orders
/// the reconciliation).
pub const ROLLUP_TABLES: [&str; 10] = [
    "build_rollups",
    "daily_rollups",
    "daily_label_rollups",
    "test_daily_rollups",
    "test_weekly_rollups",
    "test_daily_totals",
    "test_weekly_totals",
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
pub async fn kept_events(admin: &tokio_postgres::Client, project_id: Uuid) -> Vec<OutboxEvent> {
    admin
        .query(
            "SELECT event_id, kind, occurred_at, payload FROM analytics.event_inbox
              WHERE project_id = $1 ORDER BY event_id",
            &[&project_id],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| OutboxEvent {
            id: row.get("event_id"),
            project_id,
            kind: row.get("kind"),
            occurred_at: row.get("occurred_at"),
            payload: row.get("payload"),
        })
        .collect()
}
