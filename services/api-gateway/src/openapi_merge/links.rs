//! OpenAPI `links` on the merged document, so a client (and a stateful
//! API fuzzer) can follow ids from one answer into the next request: a
//! build created or listed leads to the build, its results, its quality
//! gate; a failure leads to its group (`group_id`), a rule to its
//! connection (`connection_id`). They are derived from the public paths
//! and response schemas rather than written by each service, because only
//! the merged document knows the public operation ids and parameter names.
//!
//! Three kinds of link, each on a 2xx JSON answer whose schema has the
//! field it reads:
//! - created or listed: `POST /x` answering an object with `id`, or
//!   `GET /x` answering a page (`items[].id`), leads to every operation at
//!   `/x/{param}...`, `{param}` taken from that `id`;
//! - the same object: an answer of `/x/{param}` with `id` leads to every
//!   other operation at or below `/x/{param}`, from the request's path;
//! - foreign keys: a field `<name>_id` (also in `items[]`) leads to every
//!   operation whose path ends `/{<name>}` and whose other parameters the
//!   request's path supplies (a v1 failure's `group_id` leads to the v2
//!   group).
//!
//! The project itself is not linked (`/projects/{project}` is where every
//! other operation lives): a client starts from a project it knows.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

/// Path parameters naming the tenant, never taken from an answer.
const PROJECT_PARAMETERS: &[&str] = &["project", "project_ref"];

/// One operation of the merged document, as links see it.
struct Operation {
    path: String,
    method: String,
    id: String,
    params: Vec<String>,
}

fn path_params(path: &str) -> Vec<String> {
    path.split('/')
        .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
        .map(str::to_owned)
        .collect()
}

/// Follows `$ref`s to `#/components/schemas/...` (and one `allOf`).
fn resolve<'a>(schema: &'a Value, schemas: &'a Map<String, Value>) -> &'a Value {
    let mut current = schema;
    for _ in 0..8 {
        if let Some(target) = current.get("$ref").and_then(Value::as_str) {
            match target
                .strip_prefix("#/components/schemas/")
                .and_then(|name| schemas.get(name))
            {
                Some(next) => current = next,
                None => return current,
            }
        } else {
            return current;
        }
    }
    current
}

fn properties<'a>(schema: &'a Value, schemas: &'a Map<String, Value>) -> Vec<(&'a str, &'a Value)> {
    let schema = resolve(schema, schemas);
    let mut found: Vec<(&str, &Value)> = schema
        .get("properties")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(name, value)| (name.as_str(), value))
        .collect();
    for part in schema
        .get("allOf")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        found.extend(properties(part, schemas));
    }
    found
}

/// JSON pointers (below `#`) to the fields of an answer the links read:
/// `id` and `<name>_id`, of the object or of a page's first item.
fn id_fields(schema: &Value, schemas: &Map<String, Value>) -> Vec<(String, String)> {
    let mut fields = Vec::new();
    let mut scan = |object: &Value, prefix: &str| {
        for (name, _) in properties(object, schemas) {
            if name == "id" || name.ends_with("_id") {
                fields.push((name.to_owned(), format!("{prefix}/{name}")));
            }
        }
    };
    scan(schema, "");
    for (name, value) in properties(schema, schemas) {
        if name == "items"
            && let Some(item) = resolve(value, schemas).get("items")
        {
            for (field, _) in properties(item, schemas) {
                if field == "id" || field.ends_with("_id") {
                    fields.push((format!("items.{field}"), format!("/items/0/{field}")));
                }
            }
        }
    }
    fields
}

/// Adds `links` to the 2xx JSON answers of every operation in `paths`.
pub(super) fn add_links(paths: &mut Map<String, Value>, schemas: &Map<String, Value>) {
    let operations: Vec<Operation> = paths
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .into_iter()
                .flatten()
                .filter_map(move |(method, operation)| {
                    Some(Operation {
                        path: path.clone(),
                        method: method.clone(),
                        id: operation.get("operationId")?.as_str()?.to_owned(),
                        params: path_params(path),
                    })
                })
        })
        .collect();

    for source in &operations {
        let Some(responses) = paths
            .get(&source.path)
            .and_then(|item| item.get(&source.method))
            .and_then(|operation| operation.get("responses"))
            .and_then(Value::as_object)
        else {
            continue;
        };
        let mut per_status: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
        for (status, response) in responses {
            if !status.starts_with('2') {
                continue;
            }
            let Some(schema) = response.pointer("/content/application~1json/schema") else {
                continue;
            };
            let links = links_from(source, &operations, &id_fields(schema, schemas));
            if !links.is_empty() {
                per_status.insert(status.clone(), links);
            }
        }
        for (status, links) in per_status {
            if let Some(response) = paths
                .get_mut(&source.path)
                .and_then(|item| item.get_mut(&source.method))
                .and_then(|operation| operation.get_mut("responses"))
                .and_then(|responses| responses.get_mut(&status))
                .and_then(Value::as_object_mut)
            {
                response.insert("links".into(), Value::Object(links));
            }
        }
    }
}

/// The links of one answer of `source` that has the fields `fields`.
fn links_from(
    source: &Operation,
    operations: &[Operation],
    fields: &[(String, String)],
) -> Map<String, Value> {
    let mut links = Map::new();
    let from_request = |target: &Operation, taken: &str| -> Option<Map<String, Value>> {
        let mut parameters = Map::new();
        for param in &target.params {
            if param == taken {
                continue;
            }
            if !source.params.contains(param) {
                return None;
            }
            parameters.insert(
                format!("path.{param}"),
                json!(format!("$request.path.{param}")),
            );
        }
        Some(parameters)
    };
    let mut add = |target: &Operation, taken: Option<(&str, &str)>| {
        if target.id == source.id && taken.is_none() {
            return;
        }
        let Some(mut parameters) = from_request(target, taken.map_or("", |(param, _)| param))
        else {
            return;
        };
        if let Some((param, pointer)) = taken {
            parameters.insert(
                format!("path.{param}"),
                json!(format!("$response.body#{pointer}")),
            );
        }
        links.insert(
            target.id.clone(),
            json!({ "operationId": target.id, "parameters": parameters }),
        );
    };
    let field = |name: &str| {
        fields
            .iter()
            .find(|(field, _)| field == name)
            .map(|(_, pointer)| pointer.as_str())
    };
    let ends_with_param = source.path.ends_with('}');

    // Created or listed: `/x` -> `/x/{param}...`.
    let own = match source.method.as_str() {
        "post" if !ends_with_param => field("id"),
        "get" if !ends_with_param => field("items.id"),
        _ => None,
    };
    if let Some(pointer) = own {
        let prefix = format!("{}/{{", source.path);
        for target in operations {
            let Some(rest) = target.path.strip_prefix(&prefix) else {
                continue;
            };
            let Some(param) = rest.split('}').next() else {
                continue;
            };
            if !PROJECT_PARAMETERS.contains(&param) {
                add(target, Some((param, pointer)));
            }
        }
    }

    // The same object: `/x/{param}` -> every operation at or below it.
    if ends_with_param
        && field("id").is_some()
        && source
            .params
            .last()
            .is_some_and(|last| !PROJECT_PARAMETERS.contains(&last.as_str()))
    {
        let below = format!("{}/", source.path);
        for target in operations {
            if target.path == source.path || target.path.starts_with(&below) {
                add(target, None);
            }
        }
    }

    // Foreign keys: `<name>_id` -> `.../{name}`.
    for (name, pointer) in fields {
        let Some(param) = name
            .rsplit('.')
            .next()
            .and_then(|field| field.strip_suffix("_id"))
        else {
            continue;
        };
        if PROJECT_PARAMETERS.contains(&param) || param.is_empty() {
            continue;
        }
        for target in operations {
            if target.path.ends_with(&format!("/{{{param}}}")) {
                add(target, Some((param, pointer)));
            }
        }
    }
    links
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(id: &str) -> Value {
        json!({ "operationId": id, "responses": {} })
    }

    #[test]
    fn ids_flow_from_created_listed_and_referring_answers_into_the_operations_that_take_them() {
        let schemas = json!({
            "Build": { "type": "object", "properties": { "id": { "type": "string" } } },
            "Page": { "type": "object", "properties": { "items": { "type": "array", "items": {
                "type": "object", "properties": { "id": {}, "group_id": {} } } } } },
        });
        let mut paths = json!({
            "/api/v1/projects/{project}/builds": {
                "post": { "operationId": "create", "responses": { "201": { "description": "",
                    "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Build" } } } } } },
            },
            "/api/v1/projects/{project}/builds/{build}": {
                "get": { "operationId": "read", "responses": { "200": { "description": "",
                    "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Build" } } } } } },
            },
            "/api/v1/projects/{project}/builds/{build}/results": { "post": op("upload") },
            "/api/v1/projects/{project}/failures": {
                "get": { "operationId": "failures", "responses": { "200": { "description": "",
                    "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Page" } } } } } },
            },
            "/api/v1/projects/{project}/failures/{failure}": { "get": op("failure") },
            "/api/v1/projects/{project}/groups/{group}": { "get": op("group") },
            "/api/v2/projects/{project}/groups/{group}": { "get": op("group_v2") },
            "/api/v2/projects/{project}/groups/{group}/comments/{comment}": { "get": op("comment") },
        });
        let paths = paths.as_object_mut().unwrap();
        add_links(paths, schemas.as_object().unwrap());

        let created =
            &paths["/api/v1/projects/{project}/builds"]["post"]["responses"]["201"]["links"];
        assert_eq!(
            created["read"],
            json!({ "operationId": "read", "parameters": {
                "path.build": "$response.body#/id", "path.project": "$request.path.project" } })
        );
        assert_eq!(
            created["upload"]["parameters"]["path.build"],
            "$response.body#/id"
        );
        let read =
            &paths["/api/v1/projects/{project}/builds/{build}"]["get"]["responses"]["200"]["links"];
        assert_eq!(
            read["upload"]["parameters"]["path.build"],
            "$request.path.build"
        );
        let listed =
            &paths["/api/v1/projects/{project}/failures"]["get"]["responses"]["200"]["links"];
        assert_eq!(
            listed["failure"]["parameters"]["path.failure"],
            "$response.body#/items/0/id"
        );
        assert_eq!(
            listed["group"]["parameters"]["path.group"],
            "$response.body#/items/0/group_id"
        );
        assert_eq!(
            listed["group_v2"]["parameters"]["path.group"],
            "$response.body#/items/0/group_id"
        );
        assert!(
            listed.get("comment").is_none(),
            "a comment id comes from no failure"
        );
    }
}
