//! The one shape every integration test drives a service with: a
//! [`TestApp`] is a real service on port 0 against its own database,
//! called as the gateway would call it (a signed context token) or plainly,
//! answering with a [`Reply`] whose status, headers and body are read once.

use std::future::Future;
use std::sync::{Arc, Once};
use std::time::Duration;

use reqwest::header::HeaderMap;
use reqwest::{Method, RequestBuilder, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::Value;
use tenant_core::config::{ServiceSettings, Settings};
use tenant_core::{Application, ServiceSpec, TenantContext};

use crate::{RunningService, TestDatabase};

/// A service a test started, serving in the background until dropped or
/// [`TestApp::stop`]ped.
#[derive(Debug)]
pub struct TestApp {
    pub spec: &'static ServiceSpec,
    pub service: RunningService,
    pub http: reqwest::Client,
    database: Option<Arc<TestDatabase>>,
}

impl TestApp {
    /// Starts `build` with the test settings of `spec` (see
    /// [`crate::settings`]) on a fresh database when the service keeps
    /// data, with `extra` overrides last.
    pub async fn spawn<S, B, F, E>(
        spec: &'static ServiceSpec,
        build: B,
        extra: &[(&'static str, String)],
    ) -> Self
    where
        S: ServiceSettings,
        B: FnOnce(Settings<S>) -> F,
        F: Future<Output = Result<Application, E>>,
        E: std::fmt::Debug,
    {
        let database = match spec.schema {
            Some(_) => Some(Arc::new(TestDatabase::create().await)),
            None => None,
        };
        Self::spawn_on(spec, build, database, extra).await
    }

    /// [`TestApp::spawn`] on a database the test already has, which
    /// several services of one test share.
    pub async fn spawn_on<S, B, F, E>(
        spec: &'static ServiceSpec,
        build: B,
        database: Option<Arc<TestDatabase>>,
        extra: &[(&'static str, String)],
    ) -> Self
    where
        S: ServiceSettings,
        B: FnOnce(Settings<S>) -> F,
        F: Future<Output = Result<Application, E>>,
        E: std::fmt::Debug,
    {
        init_test_logs();
        let settings = crate::settings(spec, database.as_deref(), extra);
        let app = build(settings)
            .await
            .unwrap_or_else(|error| panic!("{} does not start: {error:?}", spec.name));
        Self {
            spec,
            service: RunningService::spawn(app),
            http: crate::http_client(),
            database,
        }
    }

    /// The database the service runs on.
    pub fn database(&self) -> &TestDatabase {
        self.database
            .as_deref()
            .unwrap_or_else(|| panic!("{} has no database", self.spec.name))
    }

    /// The database as a handle another service of the test can share.
    pub fn shared_database(&self) -> Option<Arc<TestDatabase>> {
        self.database.clone()
    }

    pub fn url(&self, path: &str) -> String {
        self.service.url(path)
    }

    /// A request with no credentials, for what a test adds itself.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.http.request(method, self.url(path))
    }

    /// A request carrying `ctx` as the gateway's signed context token.
    pub fn request_as(&self, method: Method, path: &str, ctx: &TenantContext) -> RequestBuilder {
        self.request(method, path)
            .bearer_auth(crate::context_token(self.spec.name, ctx))
    }

    /// Sends `body` (JSON, when given) as `ctx`.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        ctx: &TenantContext,
        body: Option<Value>,
    ) -> Reply {
        let mut request = self.request_as(method, path, ctx);
        if let Some(body) = body {
            request = request.json(&body);
        }
        Reply::from_request(request).await
    }

    pub async fn get(&self, path: &str, ctx: &TenantContext) -> Reply {
        self.call(Method::GET, path, ctx, None).await
    }

    pub async fn post(&self, path: &str, ctx: &TenantContext, body: Value) -> Reply {
        self.call(Method::POST, path, ctx, Some(body)).await
    }

    pub async fn patch(&self, path: &str, ctx: &TenantContext, body: Value) -> Reply {
        self.call(Method::PATCH, path, ctx, Some(body)).await
    }

    pub async fn put(&self, path: &str, ctx: &TenantContext, body: Value) -> Reply {
        self.call(Method::PUT, path, ctx, Some(body)).await
    }

    pub async fn delete(&self, path: &str, ctx: &TenantContext) -> Reply {
        self.call(Method::DELETE, path, ctx, None).await
    }

    /// The metric `name` on the admin port; fails the test when it is missing.
    pub async fn metric(&self, name: &str) -> f64 {
        let (value, text) = crate::metric(&self.http, &self.service, name).await;
        value.unwrap_or_else(|| panic!("no {name} on {}'s /metrics:\n{text}", self.spec.name))
    }

    /// Waits until the metric `name` satisfies `done`, and returns it.
    pub async fn wait_for_metric(
        &self,
        name: &str,
        timeout: Duration,
        done: impl Fn(f64) -> bool,
    ) -> f64 {
        eventually(
            &format!("{name} on {}", self.spec.name),
            timeout,
            || async {
                let (value, _) = crate::metric(&self.http, &self.service, name).await;
                value.filter(|value| done(*value))
            },
        )
        .await
    }

    /// Rows of `table` in the whole database, read as the admin past RLS.
    pub async fn count_rows(&self, table: &str) -> i64 {
        self.database()
            .admin_client()
            .await
            .query_one(&format!("SELECT count(*) FROM {table}"), &[])
            .await
            .unwrap_or_else(|error| panic!("counting {table}: {error}"))
            .get(0)
    }

    /// Graceful shutdown, waiting until the service has stopped.
    pub async fn stop(self) {
        let name = self.spec.name;
        self.service
            .stop()
            .await
            .unwrap_or_else(|error| panic!("{name} did not stop cleanly: {error}"));
    }
}

/// An answer read once: status, headers and the body as text and, when it
/// is JSON, as a value (`Value::Null` otherwise).
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
    pub body: Value,
}

impl Reply {
    pub async fn from_request(request: RequestBuilder) -> Self {
        let response = request
            .send()
            .await
            .unwrap_or_else(|error| panic!("sending the request: {error}"));
        Self::read(response).await
    }

    pub async fn read(response: reqwest::Response) -> Self {
        let status = response.status();
        let headers = response.headers().clone();
        let text = response
            .text()
            .await
            .unwrap_or_else(|error| panic!("reading the body: {error}"));
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Self {
            status,
            headers,
            text,
            body,
        }
    }

    /// The header's value, `None` when absent or not visible ASCII.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    /// A problem's stable `code`, `""` when the body has none.
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or_default()
    }

    /// The body, after checking the status.
    pub fn expect(self, status: u16) -> Value {
        assert_eq!(self.status.as_u16(), status, "{}", self.text);
        self.body
    }

    /// The body deserialized, after checking the status.
    pub fn expect_json<T: DeserializeOwned>(self, status: u16) -> T {
        let text = self.text.clone();
        serde_json::from_value(self.expect(status))
            .unwrap_or_else(|error| panic!("unexpected body ({error}): {text}"))
    }

    /// Checks a problem+json answer's status and code.
    pub fn expect_problem(&self, status: u16, code: &str) {
        assert_eq!(
            (self.status.as_u16(), self.code()),
            (status, code),
            "{}",
            self.text
        );
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json"),
            "{}",
            self.text
        );
    }
}

/// Polls `probe` every 20 ms until it yields a value, failing the test
/// with `what` after `timeout`: how a test waits for something to happen.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    poll_until(timeout, Duration::from_millis(20), probe)
        .await
        .unwrap_or_else(|| panic!("waited {timeout:?} for {what}"))
}

/// Polls `probe` every `every` until it yields a value, or gives up with
/// `None` once `timeout` has passed (the probe runs at least once).
pub async fn poll_until<T, F, Fut>(timeout: Duration, every: Duration, mut probe: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(value) = probe().await {
            return Some(value);
        }
        if tokio::time::Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(every).await;
    }
}

/// With `TEST_LOG=1`, the services a test starts log to the test's output
/// (`RUST_LOG` filters, `info` by default); otherwise tests stay quiet.
pub fn init_test_logs() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        if std::env::var_os("TEST_LOG").is_some_and(|value| !value.is_empty() && value != "0") {
            let filter = tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
            let _ = tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_test_writer()
                .try_init();
        }
    });
}
