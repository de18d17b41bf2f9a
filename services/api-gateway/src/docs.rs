//! The documentation endpoints, public and outside the route table:
//!
//! - `GET /api/openapi.json`: one OpenAPI 3.1 document merged from the
//!   backends' own documents (`GET /internal/v1/openapi.json` on each,
//!   called with a service context token). Each backend path becomes the
//!   public path the route table maps onto it, and only the operations the
//!   route table exposes are kept.
//! - `GET /api/docs`: Swagger UI on that document, from assets built into
//!   the binary.
//!
//! Backend documents are fetched when asked for and kept for
//! [`FRESH_FOR`]; a backend that does not answer is retried after
//! [`RETRY_AFTER`], its last good document (if any) is used meanwhile, and
//! the gateway starts and serves without it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Map, Value, json};
use tenant_core::{Problem, TenantContext};
use tokio::time::Instant;
use utoipa_swagger_ui::Config;
use uuid::Uuid;

use crate::pipeline::Gateway;
use crate::route_table::{AuthMode, ProjectSource, Route, RouteTable};

pub const OPENAPI_PATH: &str = "/api/openapi.json";
pub const DOCS_PATH: &str = "/api/docs";
/// Where each publishing backend serves its own document.
pub const BACKEND_SPEC_PATH: &str = "/internal/v1/openapi.json";

/// Services (by the audience of their context tokens) that publish a
/// document at [`BACKEND_SPEC_PATH`]. Upstreams of other services are not
/// asked, and their routes are not in the merged document.
pub const PUBLISHING_SERVICES: &[&str] = &["auth-service", "project-service", "failure-service"];

/// How long a fetched backend document is used before it is fetched again.
pub const FRESH_FOR: Duration = Duration::from_secs(60);
/// How long to wait before asking a backend that failed again.
pub const RETRY_AFTER: Duration = Duration::from_secs(5);
const FETCH_TIMEOUT: Duration = Duration::from_secs(2);

/// The security scheme of the merged document.
pub const BEARER: &str = "bearer";

/// State of the documentation endpoints.
#[derive(Debug)]
pub struct Docs {
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

/// Registers the two documentation paths (before the gateway's catch-all).
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource(OPENAPI_PATH).get(openapi_json))
        .service(web::resource(DOCS_PATH).get(swagger_ui))
        .service(web::resource(format!("{DOCS_PATH}/{{file:.*}}")).get(swagger_ui));
}

impl Docs {
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
        let due: Vec<(String, String, String)> = publishing_upstreams(gateway)
            .into_iter()
            .filter(|(name, _, _)| {
                cache
                    .upstreams
                    .get(name)
                    .is_none_or(|fetched| fetched.next_fetch <= now)
            })
            .collect();
        if !due.is_empty() {
            let request_id = tenant_core::telemetry::current_request_id().unwrap_or_default();
            let fetches = due
                .iter()
                .map(|(name, url, audience)| self.fetch(gateway, name, url, audience, &request_id));
            let results = futures_util::future::join_all(fetches).await;
            for ((name, _, _), result) in due.into_iter().zip(results) {
                let entry = cache.upstreams.entry(name).or_insert(Fetched {
                    spec: None,
                    next_fetch: now,
                });
                match result {
                    Some(spec) => {
                        entry.spec = Some(spec);
                        entry.next_fetch = now + FRESH_FOR;
                    }
                    None => entry.next_fetch = now + RETRY_AFTER,
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

    async fn fetch(
        &self,
        gateway: &Gateway,
        name: &str,
        url: &str,
        audience: &str,
        request_id: &str,
    ) -> Option<Value> {
        let context = TenantContext::service(self.service_id, request_id);
        let token = match gateway.issuer.issue(audience, &context) {
            Ok(token) => token,
            Err(error) => {
                tracing::warn!(upstream = name, %error, "cannot mint a token for the OpenAPI fetch");
                return None;
            }
        };
        let answer = self
            .http
            .get(format!("{}{BACKEND_SPEC_PATH}", url.trim_end_matches('/')))
            .bearer_auth(token)
            .header("x-request-id", request_id)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status);
        let result = match answer {
            Ok(response) => response.json::<Value>().await,
            Err(error) => Err(error),
        };
        match result {
            Ok(spec) if spec.get("paths").is_some_and(Value::is_object) => Some(spec),
            Ok(_) => {
                tracing::warn!(
                    upstream = name,
                    "the upstream's OpenAPI document has no paths"
                );
                None
            }
            Err(error) => {
                tracing::warn!(upstream = name, %error, "cannot fetch the upstream's OpenAPI document");
                None
            }
        }
    }
}

/// `(name, url, audience)` of every upstream the route table uses whose
/// service publishes a document.
fn publishing_upstreams(gateway: &Gateway) -> Vec<(String, String, String)> {
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
                .then(|| {
                    (
                        name.to_owned(),
                        upstream.url.clone(),
                        upstream.audience.clone(),
                    )
                })
        })
        .collect()
}

async fn openapi_json(gateway: web::Data<Gateway>, docs: web::Data<Docs>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(docs.document(&gateway).await)
}

async fn swagger_ui(req: HttpRequest) -> Result<HttpResponse, Problem> {
    let file = req.match_info().get("file").unwrap_or("");
    let not_found = || Problem::not_found("route.not_found", "no such file");
    let served = utoipa_swagger_ui::serve(file, Arc::new(Config::from(OPENAPI_PATH)))
        .map_err(|error| Problem::internal(std::io::Error::other(error.to_string())))?
        .ok_or_else(not_found)?;
    let body = if served.content_type.starts_with("text/html") {
        // Served at /api/docs and /api/docs/ alike: the page's relative
        // links resolve against /api/docs/.
        let html = String::from_utf8_lossy(&served.bytes).replacen(
            "<head>",
            &format!("<head>\n    <base href=\"{DOCS_PATH}/\">"),
            1,
        );
        web::Bytes::from(html)
    } else {
        web::Bytes::from(served.bytes.into_owned())
    };
    Ok(HttpResponse::Ok()
        .content_type(served.content_type)
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .body(body))
}

fn problem_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": {
            tenant_core::error::PROBLEM_CONTENT_TYPE: {
                "schema": { "$ref": "#/components/schemas/Problem" }
            }
        }
    })
}

/// The `Retry-After` header of a problem the client may retry.
fn retry_after_header() -> Value {
    json!({
        "description": "Seconds to wait before retrying",
        "schema": { "type": "integer", "minimum": 0 }
    })
}

/// Declares that `status` may also come from the gateway: a new problem
/// response, or the gateway's reason added to the backend's description
/// of the same status.
fn add_gateway_answer(
    responses: &mut Map<String, Value>,
    status: &str,
    description: &str,
    retry_after: bool,
) {
    let response = responses
        .entry(status)
        .or_insert_with(|| problem_response(description));
    let Some(response) = response.as_object_mut() else {
        return;
    };
    match response.get_mut("description") {
        Some(Value::String(existing)) if !existing.contains(description) => {
            existing.push_str("; or ");
            let mut chars = description.chars();
            existing.extend(chars.next().map(|c| c.to_ascii_lowercase()));
            existing.push_str(chars.as_str());
        }
        Some(_) => {}
        None => {
            response.insert("description".into(), Value::String(description.into()));
        }
    }
    if retry_after
        && let Some(headers) = response
            .entry("headers")
            .or_insert_with(|| Value::Object(Map::new()))
            .as_object_mut()
    {
        headers
            .entry("retry-after")
            .or_insert_with(retry_after_header);
    }
}

/// The parameter names of a route, in path order.
fn route_params(route: &Route) -> Vec<String> {
    route
        .path
        .split('/')
        .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
        .map(str::to_owned)
        .collect()
}

/// `/v1/projects/{project}` matches `/v1/projects/{id}`: the same
/// literals and parameters in the same places. Returns the backend's
/// parameter names mapped to the template's.
fn match_template(template: &str, candidate: &str) -> Option<BTreeMap<String, String>> {
    let param = |s: &str| -> Option<String> {
        s.strip_prefix('{')
            .and_then(|s| s.strip_suffix('}'))
            .map(str::to_owned)
    };
    let ours: Vec<&str> = template.split('/').collect();
    let theirs: Vec<&str> = candidate.split('/').collect();
    if ours.len() != theirs.len() {
        return None;
    }
    let mut renames = BTreeMap::new();
    for (a, b) in ours.iter().zip(&theirs) {
        match (param(a), param(b)) {
            (Some(public), Some(backend)) => {
                renames.insert(backend, public);
            }
            (None, None) if a == b => {}
            _ => return None,
        }
    }
    Some(renames)
}

/// Replaces `$ref`s found in `refs` anywhere in `value`.
fn rewrite_refs(value: &mut Value, refs: &BTreeMap<String, String>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map.iter_mut() {
                if key == "$ref"
                    && let Value::String(target) = inner
                    && let Some(renamed) = refs.get(target.as_str())
                {
                    *target = renamed.clone();
                } else {
                    rewrite_refs(inner, refs);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|item| rewrite_refs(item, refs)),
        _ => {}
    }
}

/// The public document: every operation of `specs` (backend documents by
/// upstream name) that the route table exposes, at its public path.
/// `missing` names upstreams whose document could not be had.
pub fn merge(table: &RouteTable, specs: &BTreeMap<String, Value>, missing: &[String]) -> Value {
    // Components: shared when identical, else prefixed with the upstream.
    let mut components: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
    let mut tags: Vec<Value> = Vec::new();
    let mut rewritten: BTreeMap<&str, Value> = BTreeMap::new();
    for (upstream, spec) in specs {
        let mut spec = spec.clone();
        let mut refs = BTreeMap::new();
        let mut incoming: Vec<(String, String, Value)> = Vec::new();
        if let Some(own) = spec.get("components").and_then(Value::as_object) {
            for (kind, entries) in own {
                if kind == "securitySchemes" {
                    continue;
                }
                for (name, value) in entries.as_object().into_iter().flatten() {
                    let existing = components.get(kind).and_then(|m| m.get(name));
                    let target = match existing {
                        Some(existing) if existing != value => {
                            let renamed = format!("{upstream}.{name}");
                            refs.insert(
                                format!("#/components/{kind}/{name}"),
                                format!("#/components/{kind}/{renamed}"),
                            );
                            renamed
                        }
                        _ => name.clone(),
                    };
                    incoming.push((kind.clone(), target, value.clone()));
                }
            }
        }
        rewrite_refs(&mut spec, &refs);
        for (kind, name, mut value) in incoming {
            rewrite_refs(&mut value, &refs);
            components.entry(kind).or_default().insert(name, value);
        }
        for tag in spec
            .get("tags")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if !tags.iter().any(|t| t.get("name") == tag.get("name")) {
                tags.push(tag.clone());
            }
        }
        rewritten.insert(upstream.as_str(), spec);
    }
    // The gateway's own answers are problems too, whether or not a
    // backend published the schema.
    let schemas = components.entry("schemas".into()).or_default();
    for (name, schema) in tenant_core::openapi::problem_schemas() {
        schemas.entry(name).or_insert(schema);
    }

    let mut paths = Map::new();
    for route in table.routes() {
        let Some(spec) = rewritten.get(route.upstream.as_str()) else {
            continue;
        };
        let placeholders: Vec<(String, String)> = route_params(route)
            .into_iter()
            .map(|name| {
                let placeholder = format!("{{{name}}}");
                (name, placeholder)
            })
            .collect();
        let template = route.upstream_path(&placeholders);
        let Some((item, renames)) = spec
            .get("paths")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .find_map(|(path, item)| Some((item, match_template(&template, path)?)))
        else {
            continue;
        };
        let public_path = format!("/api/v{}{}", route.version, route.path);
        for method in &route.methods {
            let key = method.as_str().to_ascii_lowercase();
            let Some(operation) = item.get(&key).and_then(Value::as_object) else {
                continue;
            };
            let operation = public_operation(route, method, operation, item, &renames);
            let entry = paths
                .entry(public_path.clone())
                .or_insert_with(|| Value::Object(Map::new()));
            if let Some(entry) = entry.as_object_mut() {
                entry.insert(key, Value::Object(operation));
            }
        }
    }

    let mut description = String::from(
        "The Faultline API through its gateway. Authenticate with `Authorization: Bearer` \
         and an access token from `POST /api/v1/auth/login`, or an API key (`flt_...`) \
         where a route allows one. Errors are `application/problem+json`.",
    );
    if !missing.is_empty() {
        description.push_str(&format!(
            "\n\nNot included right now (their services did not answer): {}.",
            missing.join(", ")
        ));
    }
    let mut components: Map<String, Value> = components
        .into_iter()
        .map(|(kind, entries)| (kind, Value::Object(entries)))
        .collect();
    components.insert(
        "securitySchemes".into(),
        json!({
            BEARER: {
                "type": "http",
                "scheme": "bearer",
                "description": "An access token (JWT) from the auth service, or an API key (`flt_...`) on routes that accept one"
            }
        }),
    );
    let mut document = json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Faultline API",
            "version": "1",
            "description": description,
        },
        "paths": paths,
        "components": components,
        "tags": tags,
    });
    if !missing.is_empty()
        && let Some(map) = document.as_object_mut()
    {
        map.insert("x-unavailable-upstreams".into(), json!(missing));
    }
    document
}

/// A backend operation as the gateway exposes it: parameters renamed to
/// the public path's, security and the gateway's own answers from the
/// route table, a unique operation id.
fn public_operation(
    route: &Route,
    method: &actix_web::http::Method,
    operation: &Map<String, Value>,
    item: &Value,
    renames: &BTreeMap<String, String>,
) -> Map<String, Value> {
    let mut operation = operation.clone();
    // Path-item parameters apply to every operation under it.
    let mut parameters: Vec<Value> = item
        .get("parameters")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if let Some(own) = operation.get("parameters").and_then(Value::as_array) {
        parameters.retain(|shared| {
            !own.iter()
                .any(|p| p.get("name") == shared.get("name") && p.get("in") == shared.get("in"))
        });
        parameters.extend(own.iter().cloned());
    }
    for parameter in &mut parameters {
        if parameter.get("in").and_then(Value::as_str) == Some("path")
            && let Some(name) = parameter.get("name").and_then(Value::as_str)
            && let Some(public) = renames.get(name)
            && let Some(map) = parameter.as_object_mut()
        {
            map.insert("name".into(), Value::String(public.clone()));
        }
    }
    if matches!(
        route.project,
        ProjectSource::Required | ProjectSource::Default
    ) {
        parameters.push(json!({
            "name": "X-Project-Id", "in": "header", "required": false,
            "description": "The project (id or slug)", "schema": { "type": "string" }
        }));
        parameters.push(json!({
            "name": "project_id", "in": "query", "required": false,
            "description": "The project (id or slug), when no X-Project-Id is sent",
            "schema": { "type": "string" }
        }));
    }
    if !parameters.is_empty() {
        operation.insert("parameters".into(), Value::Array(parameters));
    }

    let security = match route.auth {
        AuthMode::Public => json!([]),
        AuthMode::User | AuthMode::Any => json!([{ BEARER: [] }]),
    };
    operation.insert("security".into(), security);
    let id = format!(
        "{}_v{}{}",
        method.as_str().to_ascii_lowercase(),
        route.version,
        route.path.replace(['{', '}'], "").replace(['/', '-'], "_")
    );
    operation.insert("operationId".into(), Value::String(id));
    if !route.deprecation_headers.is_empty() {
        operation.insert("deprecated".into(), Value::Bool(true));
    }

    let has_path_parameters = !route_params(route).is_empty();
    let responses = operation
        .entry("responses")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Some(responses) = responses.as_object_mut() {
        let mut add = |status: &str, description: &str| {
            responses
                .entry(status)
                .or_insert_with(|| problem_response(description));
        };
        if route.auth != AuthMode::Public {
            add(
                "401",
                "No or an invalid credential (`auth.required`, `auth.invalid_token`, `api_key.invalid`)",
            );
        }
        // Callers without credentials are limited per address and in total.
        add(
            "429",
            "Rate limited (`gateway.rate_limited`); see `Retry-After`",
        );
        if route.auth == AuthMode::User {
            add("403", "API keys are refused here (`gateway.user_required`)");
        }
        if route.project != ProjectSource::None {
            add(
                "403",
                "The caller's project role is too low (`gateway.role_too_low`)",
            );
            add(
                "404",
                "No such project, or not a member (`project.not_found`)",
            );
            add(
                "400",
                "The project sources disagree (`gateway.project_conflict`)",
            );
        }
        if operation_has_body(method) {
            add("413", "The body is too large (`request.body_too_large`)");
        }
        add(
            "503",
            "The service is unavailable (`gateway.upstream_unavailable`); see `Retry-After`",
        );
        add(
            "504",
            "The service did not answer in time (`gateway.upstream_timeout`)",
        );
        // Every route is rate limited, anonymous ones by client address.
        add_gateway_answer(
            responses,
            "429",
            "Rate limited by the gateway (`gateway.rate_limited`); retry after `Retry-After`",
            true,
        );
        if has_path_parameters {
            add_gateway_answer(
                responses,
                "400",
                "A path parameter is `.` or `..`, or has an encoded `/`, `\\` or `.` (`request.invalid_path_parameter`)",
                false,
            );
        }
    }
    operation
}

fn operation_has_body(method: &actix_web::http::Method) -> bool {
    use actix_web::http::Method;
    [Method::POST, Method::PUT, Method::PATCH].contains(method)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_match_by_shape_and_map_parameter_names() {
        let renames = match_template(
            "/v1/projects/{project_ref}/plan",
            "/v1/projects/{project}/plan",
        )
        .unwrap();
        assert_eq!(
            renames.get("project").map(String::as_str),
            Some("project_ref")
        );
        assert!(match_template("/v1/projects/{p}/plan", "/v1/projects/{p}/members").is_none());
        assert!(match_template("/v1/projects/{p}", "/v1/projects/{p}/plan").is_none());
        assert!(match_template("/v1/projects/x", "/v1/projects/{p}").is_none());
    }

    #[test]
    fn colliding_components_are_prefixed_and_their_refs_follow() {
        let upstreams = ["a", "b"]
            .into_iter()
            .map(|n| {
                (
                    n.to_owned(),
                    crate::settings::Upstream {
                        url: "http://127.0.0.1:1".into(),
                        audience: n.into(),
                    },
                )
            })
            .collect();
        let table = RouteTable::parse(
            r#"
[defaults]
body_limit_bytes = 100
timeout_ms = 1000
rate_cost = 1

[[route]]
path = "/things/{thing}"
version = 1
methods = ["GET"]
upstream = "a"
auth = "public"
project = "none"

[[route]]
path = "/others/{other}"
version = 2
methods = ["GET"]
upstream = "b"
upstream_path = "/internal-name/{other}"
auth = "user"
project = "none"
"#,
            &upstreams,
        )
        .unwrap();
        let op = |schema: &str| {
            json!({ "get": {
                "parameters": [{ "name": "id", "in": "path", "required": true, "schema": { "type": "string" } }],
                "responses": { "200": { "description": "ok", "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{schema}") } } } } }
            }})
        };
        let specs = BTreeMap::from([
            (
                "a".to_owned(),
                json!({ "paths": { "/v1/things/{id}": op("Thing"), "/v1/hidden": op("Thing") },
                        "components": { "schemas": { "Thing": { "type": "string" } } } }),
            ),
            (
                "b".to_owned(),
                json!({ "paths": { "/internal-name/{id}": op("Thing") },
                        "components": { "schemas": { "Thing": { "type": "integer" } } } }),
            ),
        ]);
        let merged = merge(&table, &specs, &[]);
        let paths = merged["paths"].as_object().unwrap();
        assert_eq!(
            paths.keys().collect::<Vec<_>>(),
            ["/api/v1/things/{thing}", "/api/v2/others/{other}"]
        );
        let other = &paths["/api/v2/others/{other}"]["get"];
        assert_eq!(other["parameters"][0]["name"], "other");
        assert_eq!(
            other["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/b.Thing"
        );
        assert_eq!(other["security"], json!([{ "bearer": [] }]));
        assert_eq!(
            paths["/api/v1/things/{thing}"]["get"]["security"],
            json!([])
        );
        assert_eq!(
            merged["components"]["schemas"]["b.Thing"]["type"],
            "integer"
        );
        assert_eq!(merged["components"]["schemas"]["Thing"]["type"], "string");
    }
}
