//! The failure service on a fresh database ([`TestApp`]), the callers the
//! gateway would send, and what an upload is made of.

#![allow(dead_code, reason = "each test module uses part of this module")]

use std::io::Write;

use reqwest::Method;
use serde_json::{Value, json};
use tenant_core::{Role, TenantContext};
use test_support::{Reply, TestApp, TestDatabase, contexts};
use uuid::Uuid;

pub async fn spawn() -> TestApp {
    spawn_with(&[]).await
}

/// The outbox relay is pointed at a port nothing listens on (the discard
/// port) unless `extra` says otherwise: a test's events never reach an
/// integration gateway it did not start.
pub async fn spawn_with(extra: &[(&'static str, String)]) -> TestApp {
    let mut settings = vec![
        (
            "service.integration_gateway_url",
            "http://127.0.0.1:9".to_owned(),
        ),
        ("service.analytics_url", "http://127.0.0.1:9".to_owned()),
    ];
    settings.extend(extra.iter().cloned());
    TestApp::spawn(&failure_service::SPEC, failure_service::build, &settings).await
}

/// A fresh database with the failure schema migrated as far as `spec`'s
/// migrations go, and the settings that migrate it the rest of the way
/// (`tenant_core::server::migrate_schema(&failure_service::SPEC, ..)`).
pub async fn migrated_through(
    spec: &tenant_core::ServiceSpec,
) -> (TestDatabase, tenant_core::config::DatabaseSettings) {
    let database = TestDatabase::create_bootstrapped().await;
    let settings: failure_service::Settings =
        test_support::settings(&failure_service::SPEC, Some(&database), &[]);
    let db = settings.database.unwrap();
    tenant_core::server::migrate_schema(spec, &db)
        .await
        .unwrap();
    (database, db)
}

/// Whether row level security is forced on every one of `tables` (a
/// migration that lifts it for a backfill must force it again).
pub async fn row_level_security_forced(database: &TestDatabase, tables: &[&str]) -> bool {
    let tables: Vec<String> = tables.iter().map(|table| (*table).to_owned()).collect();
    database
        .admin_client()
        .await
        .query_one(
            "SELECT bool_and(relforcerowsecurity) FROM pg_class
              WHERE oid IN (SELECT t::regclass FROM unnest($1::text[]) AS t)",
            &[&tables],
        )
        .await
        .unwrap()
        .try_get(0)
        .unwrap()
}

/// A CI uploader: an API key with the member role in `project_id`.
pub fn uploader(project_id: Uuid) -> TenantContext {
    contexts::api_key(project_id, Role::Member)
}

pub fn viewer(project_id: Uuid) -> TenantContext {
    contexts::user(project_id, Role::Viewer)
}

/// The project of a context built here.
pub fn project_of(ctx: &TenantContext) -> Uuid {
    ctx.project().expect("a context in a project").project_id
}

/// `/v1/projects/{project}/builds/{build}/results` of `ctx`'s project.
pub fn results_path(ctx: &TenantContext, build: Uuid) -> String {
    format!("/v1/projects/{}/builds/{build}/results", project_of(ctx))
}

pub struct Body {
    pub bytes: Vec<u8>,
    pub content_type: &'static str,
    pub content_encoding: Option<&'static str>,
}

impl Body {
    pub fn xml(text: impl Into<Vec<u8>>) -> Self {
        Self::typed("application/xml", text.into())
    }

    pub fn json(value: &Value) -> Self {
        Self::typed("application/json", serde_json::to_vec(value).unwrap())
    }

    pub fn gzip(bytes: Vec<u8>) -> Self {
        Self::typed("application/gzip", bytes)
    }

    pub fn zip(bytes: Vec<u8>) -> Self {
        Self::typed("application/zip", bytes)
    }

    pub fn typed(content_type: &'static str, bytes: Vec<u8>) -> Self {
        Self {
            bytes,
            content_type,
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

/// The failure service's own calls, on a [`TestApp`] running it.
pub trait FailureApp {
    /// Creates a build of the job `ci` on `main` and returns its id.
    async fn create_build(&self, ctx: &TenantContext, external_id: &str) -> Uuid;

    /// Uploads `body` to `build` of `ctx`'s project.
    async fn upload(
        &self,
        ctx: &TenantContext,
        build: Uuid,
        body: Body,
        idempotency_key: Option<&str>,
    ) -> Reply;

    /// The statement counter from `/metrics`.
    async fn statements(&self) -> u64;
}

impl FailureApp for TestApp {
    async fn create_build(&self, ctx: &TenantContext, external_id: &str) -> Uuid {
        let path = format!("/v1/projects/{}/builds", project_of(ctx));
        let body = json!({"job_name": "ci", "external_id": external_id, "branch": "main"});
        let reply = self.post(&path, ctx, body).await;
        assert!(reply.status.is_success(), "{}", reply.text);
        reply.body["id"].as_str().unwrap().parse().unwrap()
    }

    async fn upload(
        &self,
        ctx: &TenantContext,
        build: Uuid,
        body: Body,
        idempotency_key: Option<&str>,
    ) -> Reply {
        let mut request = self
            .request_as(Method::POST, &results_path(ctx, build), ctx)
            .header("content-type", body.content_type)
            .body(body.bytes);
        if let Some(encoding) = body.content_encoding {
            request = request.header("content-encoding", encoding);
        }
        if let Some(key) = idempotency_key {
            request = request.header("idempotency-key", key);
        }
        Reply::from_request(request).await
    }

    async fn statements(&self) -> u64 {
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
