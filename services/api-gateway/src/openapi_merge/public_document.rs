//! The public document as served: backend documents fetched when asked
//! for and kept for [`FRESH_FOR`]; a backend that does not answer is
//! retried after [`RETRY_AFTER`], its last good document (if any) is used
//! meanwhile, and the gateway starts and serves without it.

use std::collections::BTreeMap;
use std::time::Duration;

use actix_web::web;
use serde_json::Value;
use tenant_core::TenantContext;
use tenant_core::context::InternalTokenError;
use tokio::time::Instant;
use uuid::Uuid;

use super::{BACKEND_SPEC_PATH, PUBLISHING_SERVICES, merge};
use crate::gateway::Gateway;

/// How long a fetched backend document is used before it is fetched again.
pub const FRESH_FOR: Duration = Duration::from_secs(60);
/// How long to wait before asking a backend that failed again.
pub const RETRY_AFTER: Duration = Duration::from_secs(5);
const FETCH_TIMEOUT: Duration = Duration::from_secs(2);

/// The merged document and the backend documents it was made of.
#[derive(Debug)]
pub struct PublicDocument {
    http: reqwest::Client,
    service_id: Uuid,
    cache: tokio::sync::Mutex<Cache>,
}

#[derive(Debug, Default)]
struct Cache {
    upstreams: BTreeMap<String, Fetched>,
    merged: Option<web::Bytes>,
}

#[derive(Debug)]
struct Fetched {
    spec: Option<Value>,
    next_fetch: Instant,
}

/// Why a backend's document could not be had this time.
#[derive(Debug, thiserror::Error)]
enum FetchError {
    #[error("cannot mint a token for the OpenAPI fetch")]
    Token(#[from] InternalTokenError),
    #[error("cannot fetch the upstream's OpenAPI document: {0}")]
    Http(#[from] reqwest::Error),
    #[error("the upstream's OpenAPI document has no paths")]
    NoPaths,
}

/// A backend the document is made from: an upstream of the route table
/// whose service publishes a document.
struct Publisher {
    name: String,
    url: String,
    audience: String,
}

impl PublicDocument {
    pub fn new() -> Result<Self, reqwest::Error> {
        Ok(Self {
            http: reqwest::Client::builder()
                .timeout(FETCH_TIMEOUT)
                .connect_timeout(FETCH_TIMEOUT)
                .build()?,
            service_id: Uuid::now_v7(),
            cache: tokio::sync::Mutex::new(Cache::default()),
        })
    }

    /// The merged document, refreshing backend documents that are due.
    pub async fn document(&self, gateway: &Gateway) -> web::Bytes {
        // One refresh at a time; waiting callers then find it done.
        let mut cache = self.cache.lock().await;
        let now = Instant::now();
        let due: Vec<Publisher> = publishers(gateway)
            .into_iter()
            .filter(|publisher| {
                cache
                    .upstreams
                    .get(&publisher.name)
                    .is_none_or(|fetched| fetched.next_fetch <= now)
            })
            .collect();
        if !due.is_empty() {
            let request_id = tenant_core::telemetry::current_request_id().unwrap_or_default();
            let fetches = due
                .iter()
                .map(|publisher| self.fetch(gateway, publisher, &request_id));
            let results = futures_util::future::join_all(fetches).await;
            for (publisher, result) in due.into_iter().zip(results) {
                let entry = cache.upstreams.entry(publisher.name).or_insert(Fetched {
                    spec: None,
                    next_fetch: now,
                });
                match result {
                    Ok(spec) => {
                        entry.spec = Some(spec);
                        entry.next_fetch = now + FRESH_FOR;
                    }
                    Err(_) => entry.next_fetch = now + RETRY_AFTER,
                }
            }
            cache.merged = None;
        }
        if let Some(merged) = &cache.merged {
            return merged.clone();
        }
        let specs: BTreeMap<String, Value> = cache
            .upstreams
            .iter()
            .filter_map(|(name, fetched)| Some((name.clone(), fetched.spec.clone()?)))
            .collect();
        let missing: Vec<String> = cache
            .upstreams
            .iter()
            .filter(|(_, fetched)| fetched.spec.is_none())
            .map(|(name, _)| name.clone())
            .collect();
        let document = merge(&gateway.table, &specs, &missing);
        let bytes = web::Bytes::from(serde_json::to_vec(&document).unwrap_or_default());
        cache.merged = Some(bytes.clone());
        bytes
    }

    /// One backend's own document, asked for with a service context token.
    #[tracing::instrument(skip_all, fields(upstream = %publisher.name), err(level = "warn"))]
    async fn fetch(
        &self,
        gateway: &Gateway,
        publisher: &Publisher,
        request_id: &str,
    ) -> Result<Value, FetchError> {
        let context = TenantContext::service(self.service_id, request_id);
        let token = gateway.issuer.issue(&publisher.audience, &context)?;
        let spec: Value = self
            .http
            .get(format!(
                "{}{BACKEND_SPEC_PATH}",
                publisher.url.trim_end_matches('/')
            ))
            .bearer_auth(token)
            .header("x-request-id", request_id)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)?
            .json()
            .await?;
        if spec.get("paths").is_some_and(Value::is_object) {
            Ok(spec)
        } else {
            Err(FetchError::NoPaths)
        }
    }
}

/// Every upstream the route table uses whose service publishes a document.
fn publishers(gateway: &Gateway) -> Vec<Publisher> {
    let mut names: Vec<&str> = gateway
        .table
        .routes()
        .iter()
        .map(|route| route.upstream.as_str())
        .collect();
    names.sort_unstable();
    names.dedup();
    names
        .into_iter()
        .filter_map(|name| {
            let upstream = gateway.upstreams.get(name)?;
            PUBLISHING_SERVICES
                .contains(&upstream.audience.as_str())
                .then(|| Publisher {
                    name: name.to_owned(),
                    url: upstream.url.clone(),
                    audience: upstream.audience.clone(),
                })
        })
        .collect()
}
