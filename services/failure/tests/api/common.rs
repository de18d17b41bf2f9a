//! A failure service on a fresh database, and helpers that call it with
//! context tokens as the gateway would.

#![allow(dead_code, reason = "each test module uses part of this module")]

use std::io::Write;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tenant_core::{Principal, PrincipalKind, ProjectAccess, Role, TenantContext};
use test_support::{RunningService, TestDatabase};
use uuid::Uuid;

pub struct TestFailure {
    pub service: RunningService,
    pub database: TestDatabase,
    pub http: reqwest::Client,
}

pub async fn spawn() -> TestFailure {
    spawn_with(&[]).await
}

pub async fn spawn_with(extra: &[(&'static str, String)]) -> TestFailure {
    let database = TestDatabase::create().await;
    let settings = test_support::settings(&failure_service::SPEC, Some(&database), extra);
    let app = failure_service::build(settings)
        .await
        .expect("failure-service starts");
    TestFailure {
        service: RunningService::spawn(app),
        database,
        http: test_support::http_client(),
    }
}

/// A CI uploader: an API key with the member role in `project_id`.
pub fn uploader(project_id: Uuid) -> TenantContext {
    TenantContext::new(
        Principal {
            id: Uuid::now_v7(),
            kind: PrincipalKind::ApiKey,
        },
        Some(ProjectAccess {
            project_id,
            role: Role::Member,
        }),
        "test-request",
    )
}

pub fn viewer(project_id: Uuid) -> TenantContext {
    TenantContext::new(
        Principal {
            id: Uuid::now_v7(),
            kind: PrincipalKind::User,
        },
        Some(ProjectAccess {
            project_id,
            role: Role::Viewer,
        }),
        "test-request",
    )
}

pub struct Body {
    pub bytes: Vec<u8>,
    pub content_type: &'static str,
    pub content_encoding: Option<&'static str>,
}

impl Body {
    pub fn xml(text: impl Into<Vec<u8>>) -> Self {
        Self {
            bytes: text.into(),
            content_type: "application/xml",
            content_encoding: None,
        }
    }

    pub fn json(value: &Value) -> Self {
        Self {
            bytes: serde_json::to_vec(value).unwrap(),
            content_type: "application/json",
            content_encoding: None,
        }
    }
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

pub fn zip_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    zip_with(files, zip::CompressionMethod::Deflated)
}

pub fn stored_zip_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    zip_with(files, zip::CompressionMethod::Stored)
}

fn zip_with(files: &[(&str, &[u8])], method: zip::CompressionMethod) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().compression_method(method);
    for (name, bytes) in files {
        writer.start_file(*name, options).unwrap();
        writer.write_all(bytes).unwrap();
    }
    writer.finish().unwrap().into_inner()
}

/// A zip archive as streaming writers make it: each entry's sizes and
/// CRC after its data, in a data descriptor.
pub fn streamed_zip_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new_stream(Vec::new());
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in files {
        if name.ends_with('/') {
            writer.add_directory(*name, options).unwrap();
        } else {
            writer.start_file(*name, options).unwrap();
            writer.write_all(bytes).unwrap();
        }
    }
    writer.finish().unwrap().into_inner()
}

impl TestFailure {
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        ctx: &TenantContext,
        body: Option<Value>,
    ) -> reqwest::Response {
        let token = test_support::context_token("failure-service", ctx);
        let mut request = self
            .http
            .request(method, self.service.url(path))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.unwrap()
    }

    pub async fn get_json(&self, path: &str, ctx: &TenantContext) -> (StatusCode, Value) {
        let response = self.call(Method::GET, path, ctx, None).await;
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Creates a build and returns its id.
    pub async fn create_build(&self, ctx: &TenantContext, external_id: &str) -> Uuid {
        let project = ctx.project().unwrap().project_id;
        let response = self
            .call(
                Method::POST,
                &format!("/v1/projects/{project}/builds"),
                ctx,
                Some(json!({"job_name": "ci", "external_id": external_id, "branch": "main"})),
            )
            .await;
        assert!(response.status().is_success(), "{:?}", response.status());
        let body: Value = response.json().await.unwrap();
        body["id"].as_str().unwrap().parse().unwrap()
    }

    pub async fn upload(
        &self,
        ctx: &TenantContext,
        build: Uuid,
        body: Body,
        idempotency_key: Option<&str>,
    ) -> (StatusCode, Value) {
        let project = ctx.project().unwrap().project_id;
        let token = test_support::context_token("failure-service", ctx);
        let mut request = self
            .http
            .post(
                self.service
                    .url(&format!("/v1/projects/{project}/builds/{build}/results")),
            )
            .bearer_auth(token)
            .header("content-type", body.content_type)
            .body(body.bytes);
        if let Some(encoding) = body.content_encoding {
            request = request.header("content-encoding", encoding);
        }
        if let Some(key) = idempotency_key {
            request = request.header("idempotency-key", key);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// A metric's value from the admin port.
    pub async fn metric(&self, name: &str) -> f64 {
        let (value, text) = test_support::metric(&self.http, &self.service, name).await;
        value.unwrap_or_else(|| panic!("no {name} in {text}"))
    }

    /// Rows of `table` in the whole database (as the admin, past RLS).
    pub async fn count_rows(&self, table: &str) -> i64 {
        let admin = self.database.admin_client().await;
        admin
            .query_one(&format!("SELECT count(*) FROM {table}"), &[])
            .await
            .unwrap()
            .get(0)
    }

    /// The statement counter from `/metrics`.
    pub async fn statements(&self) -> u64 {
        self.metric("failure_db_statements_total").await as u64
    }
}

pub fn counts(body: &Value) -> [u64; 6] {
    ["tests", "passed", "failures", "errors", "skipped", "flaky"].map(|key| {
        body[key]
            .as_u64()
            .unwrap_or_else(|| panic!("no {key} in {body}"))
    })
}
