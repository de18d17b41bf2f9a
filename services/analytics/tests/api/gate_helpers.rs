//! The failure service and the analytics service on one fresh database,
//! the way they share it in production: builds and results go in through
//! the failure service's API (real JUnit uploads, real grouping and
//! classification), gates and comparisons come out of the analytics
//! service's.

#![allow(dead_code, reason = "each test module uses part of this module")]

use std::sync::Arc;

use serde_json::{Value, json};
use tenant_core::{PrincipalKind, Role, TenantContext};
use test_support::{Reply, TestApp, TestDatabase, contexts};
use uuid::Uuid;

/// A project's callers: a CI API key (member), an admin and a viewer,
/// the two users members of the project as the project service knows them.
pub struct Project {
    pub id: Uuid,
    pub admin_id: Uuid,
    pub ci: TenantContext,
    pub admin: TenantContext,
    pub viewer: TenantContext,
}

/// One test case of a JUnit report.
#[derive(Debug, Clone, Copy)]
pub enum Case<'a> {
    Pass(&'a str),
    Skip(&'a str),
    /// Fails with a problem of its own kind: the same kind is the same
    /// failure group, in any build.
    Fail(&'a str, &'a str),
    /// Errors (JUnit `<error>`) with a problem of its own kind.
    Error(&'a str, &'a str),
}

/// A JUnit report of `cases`, all in suite `S`, class `com.acme.T`.
pub fn junit(cases: &[Case]) -> String {
    let body: String = cases
        .iter()
        .map(|case| match case {
            Case::Pass(name) => format!("<testcase classname=\"com.acme.T\" name=\"{name}\"/>"),
            Case::Skip(name) => {
                format!("<testcase classname=\"com.acme.T\" name=\"{name}\"><skipped/></testcase>")
            }
            Case::Fail(name, problem) | Case::Error(name, problem) => {
                let element = if matches!(case, Case::Fail(..)) {
                    "failure"
                } else {
                    "error"
                };
                format!(
                    "<testcase classname=\"com.acme.T\" name=\"{name}\">\
                     <{element} message=\"{problem} broke\" type=\"com.acme.{problem}Error\">\
                     com.acme.{problem}Error: {problem} broke\n\tat com.acme.{problem}.run({problem}.java:1)\n\
                     </{element}></testcase>"
                )
            }
        })
        .collect();
    format!("<testsuite name=\"S\">{body}</testsuite>")
}

/// How a test in these reports is named in answers.
pub fn title(name: &str) -> String {
    format!("S › com.acme.T › {name}")
}

pub struct Platform {
    pub database: Arc<TestDatabase>,
    /// Knows the projects and their members (the failure service asks it
    /// whether a group's assignee is a member).
    pub project: TestApp,
    pub failure: TestApp,
    pub analytics: TestApp,
}

impl Platform {
    /// Both services; their outbox relays point at a port nothing listens
    /// on (the discard port), so no event leaves the test.
    pub async fn spawn() -> Self {
        Self::spawn_with(&[]).await
    }

    /// [`Platform::spawn`], with `analytics_extra` overriding the
    /// analytics service's settings.
    pub async fn spawn_with(analytics_extra: &[(&'static str, String)]) -> Self {
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
        let failure = TestApp::spawn_on(
            &failure_service::SPEC,
            failure_service::build,
            Some(database.clone()),
            &[
                (
                    "service.integration_gateway_url",
                    "http://127.0.0.1:9".to_owned(),
                ),
                ("service.project_url", project.url("")),
            ],
        )
        .await;
        let mut settings = vec![(
            "service.integration_gateway_url",
            "http://127.0.0.1:9".to_owned(),
        )];
        settings.extend(analytics_extra.iter().cloned());
        let analytics = TestApp::spawn_on(
            &analytics_service::SPEC,
            analytics_service::build,
            Some(database.clone()),
            &settings,
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
        let admin = self.database.admin_client().await;
        let slug = format!("p-{}", &id.simple().to_string()[20..]);
        admin
            .execute(
                "INSERT INTO project.projects (id, slug, name) VALUES ($1, $2, $2)",
                &[&id, &slug],
            )
            .await
            .unwrap();
        admin
            .execute(
                "INSERT INTO project.memberships (project_id, user_id, role)
                 VALUES ($1, $2, 'admin'), ($1, $3, 'viewer')",
                &[&id, &admin_id, &viewer_id],
            )
            .await
            .unwrap();
        Project {
            id,
            admin_id,
            ci: contexts::api_key(id, Role::Member),
            admin: contexts::in_project(admin_id, PrincipalKind::User, id, Role::Admin),
            viewer: contexts::in_project(viewer_id, PrincipalKind::User, id, Role::Viewer),
        }
    }

    /// Creates a build of `job` on `branch` (none when `None`).
    pub async fn build(
        &self,
        project: &Project,
        job: &str,
        external_id: &str,
        branch: Option<&str>,
    ) -> Uuid {
        let body = json!({"job_name": job, "external_id": external_id, "branch": branch});
        let reply = self
            .failure
            .post(
                &format!("/v1/projects/{}/builds", project.id),
                &project.ci,
                body,
            )
            .await;
        assert!(reply.status.is_success(), "{}", reply.text);
        reply.body["id"].as_str().unwrap().parse().unwrap()
    }

    /// Uploads a JUnit report of `cases` to `build`.
    pub async fn upload(&self, project: &Project, build: Uuid, cases: &[Case<'_>]) {
        let request = self
            .failure
            .request_as(
                reqwest::Method::POST,
                &format!("/v1/projects/{}/builds/{build}/results", project.id),
                &project.ci,
            )
            .header("content-type", "application/xml")
            .body(junit(cases));
        let reply = Reply::from_request(request).await;
        assert_eq!(reply.status, 201, "{}", reply.text);
    }

    /// Sets the build's finished status (`passed`, `failed`, ...).
    pub async fn finish(&self, project: &Project, build: Uuid, status: &str) {
        let path = format!("/v1/projects/{}/builds/{build}", project.id);
        self.failure
            .patch(&path, &project.ci, json!({ "status": status }))
            .await
            .expect(200);
    }

    /// A build of job `ci` with `cases`, finished as `status`.
    pub async fn finished_build(
        &self,
        project: &Project,
        external_id: &str,
        branch: &str,
        cases: &[Case<'_>],
        status: &str,
    ) -> Uuid {
        let build = self.build(project, "ci", external_id, Some(branch)).await;
        self.upload(project, build, cases).await;
        self.finish(project, build, status).await;
        build
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

    /// Gives a group a member's label.
    pub async fn label_group(&self, project: &Project, group: Uuid, label: &str) {
        let path = format!("/v2/projects/{}/failures/{group}/label", project.id);
        self.failure
            .put(&path, &project.admin, json!({ "label": label }))
            .await
            .expect(200);
    }

    /// Mutes a group, assigned to the project's admin (a member, as the
    /// project service confirms).
    pub async fn mute_group(&self, project: &Project, group: Uuid) {
        let path = format!("/v2/projects/{}/failures/{group}", project.id);
        let body = json!({ "status": "muted", "assignee_id": project.admin_id });
        self.failure
            .patch(&path, &project.admin, body)
            .await
            .expect(200);
    }

    /// Puts a test in quarantine.
    pub async fn quarantine(&self, project: &Project, test: Uuid) {
        let path = format!("/v1/projects/{}/quarantine/{test}", project.id);
        let reply = self.failure.put(&path, &project.admin, json!({})).await;
        assert!(reply.status.is_success(), "{}", reply.text);
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
