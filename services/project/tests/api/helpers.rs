//! A project service and the auth service it looks users up in, both on a
//! fresh database, and a client that calls them the way the gateway does.

use reqwest::Method;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use tenant_core::{Db, Principal, PrincipalKind, ProjectAccess, Role, TenantContext};
use test_support::{RunningService, TestDatabase};
use uuid::Uuid;

pub struct TestApp {
    pub project: RunningService,
    pub auth: RunningService,
    pub http: reqwest::Client,
    pub settings_overrides: Vec<(&'static str, String)>,
    // Last: services stop using the database before it is dropped.
    pub database: TestDatabase,
}

/// A user of the auth service, as the project service sees callers.
#[derive(Debug, Clone)]
pub struct User {
    pub id: Uuid,
    pub email: String,
    pub platform_admin: bool,
}

impl User {
    /// The context the gateway mints for this user on a route without a
    /// project in it.
    pub fn context(&self) -> TenantContext {
        TenantContext::new(
            Principal {
                id: self.id,
                kind: PrincipalKind::User,
            },
            None,
            format!("test-{}", Uuid::now_v7()),
        )
        .with_platform_admin(self.platform_admin)
    }

    /// A context naming a project and a role, whatever the truth is.
    pub fn claiming(&self, project_id: Uuid, role: Role) -> TenantContext {
        TenantContext::new(
            Principal {
                id: self.id,
                kind: PrincipalKind::User,
            },
            Some(ProjectAccess { project_id, role }),
            format!("test-{}", Uuid::now_v7()),
        )
    }
}

pub fn service_context() -> TenantContext {
    TenantContext::service(Uuid::now_v7(), "test-gateway")
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or("")
    }

    #[track_caller]
    pub fn expect(self, status: u16) -> Value {
        assert_eq!(self.status, status, "unexpected answer: {:#}", self.body);
        self.body
    }

    #[track_caller]
    pub fn expect_problem(&self, status: u16, code: &str) {
        assert_eq!(
            (self.status, self.code()),
            (status, code),
            "unexpected answer: {:#}",
            self.body
        );
    }
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(&[]).await
    }

    pub async fn spawn_with(extra: &[(&'static str, String)]) -> Self {
        let database = TestDatabase::create().await;
        let auth_settings = test_support::settings(&auth_service::SPEC, Some(&database), &[]);
        let auth = auth_service::build(auth_settings)
            .await
            .expect("auth-service starts");
        let auth = RunningService::spawn(auth);
        let mut overrides = vec![("service.auth_url", auth.url(""))];
        overrides.extend(extra.iter().cloned());
        let settings = test_support::settings(&project_service::SPEC, Some(&database), &overrides);
        let project = project_service::build(settings)
            .await
            .expect("project-service starts");
        Self {
            project: RunningService::spawn(project),
            auth,
            http: test_support::http_client(),
            settings_overrides: overrides,
            database,
        }
    }

    /// The service's settings, as this test started it.
    pub fn settings(&self) -> project_service::Settings {
        test_support::settings(
            &project_service::SPEC,
            Some(&self.database),
            &self.settings_overrides,
        )
    }

    /// A pool as the service's runtime role, for tests below the HTTP API.
    pub async fn db(&self) -> Db {
        let settings = self.settings();
        Db::connect(
            settings.database.as_ref().unwrap(),
            "project",
            "project-tests",
        )
        .await
        .unwrap()
    }

    /// A user in the auth service's table, as sign-up would leave it.
    pub async fn user(&self, email: &str) -> User {
        self.insert_user(email, false, false).await
    }

    pub async fn platform_admin(&self, email: &str) -> User {
        self.insert_user(email, true, false).await
    }

    pub async fn disabled_user(&self, email: &str) -> User {
        self.insert_user(email, false, true).await
    }

    async fn insert_user(&self, email: &str, admin: bool, disabled: bool) -> User {
        let id = Uuid::now_v7();
        let email = email.to_lowercase();
        self.database
            .admin_client()
            .await
            .execute(
                "INSERT INTO auth.users (id, email, display_name, password_hash, platform_role, disabled_at)
                 VALUES ($1, $2, $3, 'not-a-real-hash', $4, CASE WHEN $5 THEN now() END)",
                &[
                    &id,
                    &email,
                    &format!("Test {email}"),
                    &if admin { "admin" } else { "user" },
                    &disabled,
                ],
            )
            .await
            .unwrap();
        User {
            id,
            email,
            platform_admin: admin,
        }
    }

    /// Calls the project service with a context token for `ctx`.
    pub async fn call(
        &self,
        ctx: &TenantContext,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Reply {
        self.call_with_headers(ctx, method, path, body, &[]).await
    }

    pub async fn call_with_headers(
        &self,
        ctx: &TenantContext,
        method: Method,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let token = test_support::context_token("project-service", ctx);
        let mut request = self
            .http
            .request(method, self.project.url(path))
            .bearer_auth(token);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Reply {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, user: &User, path: &str) -> Reply {
        self.call(&user.context(), Method::GET, path, None).await
    }

    pub async fn post(&self, user: &User, path: &str, body: Value) -> Reply {
        self.call(&user.context(), Method::POST, path, Some(body))
            .await
    }

    pub async fn patch(&self, user: &User, path: &str, body: Value) -> Reply {
        self.call(&user.context(), Method::PATCH, path, Some(body))
            .await
    }

    pub async fn put(&self, user: &User, path: &str, body: Value) -> Reply {
        self.call(&user.context(), Method::PUT, path, Some(body))
            .await
    }

    pub async fn delete(&self, user: &User, path: &str) -> Reply {
        self.call(&user.context(), Method::DELETE, path, None).await
    }

    /// Creates a project owned by `owner`; returns its body.
    pub async fn create_project(&self, owner: &User, slug: &str, name: &str) -> Value {
        self.post(owner, "/v1/projects", json!({ "slug": slug, "name": name }))
            .await
            .expect(201)
    }

    /// Adds `member` with `role`, as `by` (an owner or admin).
    pub async fn add_member(&self, by: &User, project: &str, member: &User, role: Role) {
        self.post(
            by,
            &format!("/v1/projects/{project}/members"),
            json!({ "email": member.email, "role": role }),
        )
        .await
        .expect(201);
    }

    /// The gateway's access check for a user.
    pub async fn access(&self, user: &User, project: &str) -> Reply {
        self.call(
            &service_context(),
            Method::GET,
            &format!("/internal/v1/access?user={}&project={project}", user.id),
            None,
        )
        .await
    }

    /// The gateway's poll of the change feed.
    pub async fn changes(&self, query: &str) -> Value {
        self.call(
            &service_context(),
            Method::GET,
            &format!("/internal/v1/access/changes{query}"),
            None,
        )
        .await
        .expect(200)
    }

    /// Where the change feed stands now.
    pub async fn latest_change(&self) -> i64 {
        self.changes("").await["latest"].as_i64().unwrap()
    }
}

pub fn id_of(project: &Value) -> String {
    project["id"].as_str().unwrap().to_owned()
}

/// A problem body without the parts that differ per request.
pub fn without_request_id(mut body: Value) -> Value {
    if let Some(object) = body.as_object_mut() {
        object.remove("request_id");
    }
    body
}
