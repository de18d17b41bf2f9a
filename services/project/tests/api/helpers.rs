//! The project service and the auth service it looks users up in, both on
//! one fresh database, called the way the gateway calls them. Starting,
//! calling and reading answers is `test_support`'s; what is here is the
//! project service's own vocabulary: users in the auth service's table,
//! projects, members and the access API.

use reqwest::Method;
use serde_json::{Value, json};
use tenant_core::{Db, PrincipalKind, Role, TenantContext};
use test_support::{Reply, TestApp, contexts};
use uuid::Uuid;

/// A project service and the auth service it calls, sharing a database.
pub struct ProjectApp {
    /// The project service: `call`, `request_as`, `count_rows`, ... are
    /// the shared ones.
    pub project: TestApp,
    /// The auth service, where users live and member changes are relayed.
    pub auth: TestApp,
    overrides: Vec<(&'static str, String)>,
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
        contexts::signed_in(self.id).with_platform_admin(self.platform_admin)
    }

    /// A context naming a project and a role, whatever the truth is.
    pub fn claiming(&self, project_id: Uuid, role: Role) -> TenantContext {
        contexts::in_project(self.id, PrincipalKind::User, project_id, role)
    }
}

impl ProjectApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(&[]).await
    }

    /// Both services, the project service with `extra` settings (which may
    /// override `service.auth_url`).
    pub async fn spawn_with(extra: &[(&'static str, String)]) -> Self {
        let auth = TestApp::spawn(&auth_service::SPEC, auth_service::build, &[]).await;
        let mut overrides = vec![("service.auth_url", auth.url(""))];
        overrides.extend(extra.iter().cloned());
        let project = TestApp::spawn_on(
            &project_service::SPEC,
            project_service::build,
            auth.shared_database(),
            &overrides,
        )
        .await;
        Self {
            project,
            auth,
            overrides,
        }
    }

    /// The service's settings, as this test started it.
    pub fn settings(&self) -> project_service::Settings {
        test_support::settings(
            &project_service::SPEC,
            Some(self.project.database()),
            &self.overrides,
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

    /// A superuser connection to the database, past row level security.
    pub async fn admin(&self) -> tokio_postgres::Client {
        self.project.database().admin_client().await
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
        self.admin()
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

    pub async fn get(&self, user: &User, path: &str) -> Reply {
        self.project.get(path, &user.context()).await
    }

    pub async fn post(&self, user: &User, path: &str, body: Value) -> Reply {
        self.project.post(path, &user.context(), body).await
    }

    pub async fn patch(&self, user: &User, path: &str, body: Value) -> Reply {
        self.project.patch(path, &user.context(), body).await
    }

    pub async fn put(&self, user: &User, path: &str, body: Value) -> Reply {
        self.project.put(path, &user.context(), body).await
    }

    pub async fn delete(&self, user: &User, path: &str) -> Reply {
        self.project.delete(path, &user.context()).await
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
        self.internal(&format!(
            "/internal/v1/access?user={}&project={project}",
            user.id
        ))
        .await
    }

    /// A GET of an internal route, as the gateway.
    pub async fn internal(&self, path: &str) -> Reply {
        self.project
            .call(Method::GET, path, &contexts::service(), None)
            .await
    }

    /// The gateway's poll of the change feed.
    pub async fn changes(&self, query: &str) -> Value {
        self.internal(&format!("/internal/v1/access/changes{query}"))
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
