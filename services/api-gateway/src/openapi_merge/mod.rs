//! `GET /api/openapi.json`: one OpenAPI 3.1 document merged from the
//! backends' own documents (`GET /internal/v1/openapi.json` on each,
//! called with a service context token). Each backend path becomes the
//! public path the route table maps onto it, and only the operations the
//! route table exposes are kept ([`merge`], `operation`); the document is
//! fetched and kept by [`PublicDocument`].

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::domain::route_table::RouteTable;

mod links;
mod operation;
mod public_document;

use operation::{match_template, public_operation, route_params};
pub use public_document::PublicDocument;

/// Where each publishing backend serves its own document.
pub const BACKEND_SPEC_PATH: &str = "/internal/v1/openapi.json";

/// Services (by the audience of their context tokens) that publish a
/// document at [`BACKEND_SPEC_PATH`]. Upstreams of other services are not
/// asked, and their routes are not in the merged document.
pub const PUBLISHING_SERVICES: &[&str] = &[
    "auth-service",
    "project-service",
    "failure-service",
    "analytics-service",
    "integration-gateway",
];

/// The security scheme of the merged document.
pub const BEARER: &str = "bearer";

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

    if let Some(schemas) = components.get("schemas") {
        links::add_links(&mut paths, schemas);
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

#[cfg(test)]
mod tests {
    use super::*;

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
