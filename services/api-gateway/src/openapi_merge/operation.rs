//! One backend operation as the gateway publishes it: at its public path,
//! with the route table's security and the answers the gateway itself may
//! give.

use std::collections::BTreeMap;

use actix_web::http::Method;
use serde_json::{Map, Value, json};

use super::BEARER;
use crate::domain::route_table::{AuthMode, ProjectSource, Route};

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
pub(super) fn route_params(route: &Route) -> Vec<String> {
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
pub(super) fn match_template(template: &str, candidate: &str) -> Option<BTreeMap<String, String>> {
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

/// A backend operation as the gateway exposes it: parameters renamed to
/// the public path's, security and the gateway's own answers from the
/// route table, a unique operation id.
pub(super) fn public_operation(
    route: &Route,
    method: &Method,
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

fn operation_has_body(method: &Method) -> bool {
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
}
