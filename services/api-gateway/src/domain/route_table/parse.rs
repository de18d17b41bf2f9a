//! The route table's file format and every rule a table must meet before
//! the gateway starts with it.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use actix_web::http::Method;
use actix_web::http::header::{HeaderName, HeaderValue};
use serde::Deserialize;
use tenant_core::Role;

use super::{AuthMode, ProjectSource, Route, RouteTable, Segment};
use crate::settings::Upstream;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Defaults {
    body_limit_bytes: usize,
    timeout_ms: u64,
    rate_cost: u32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RouteSpec {
    path: String,
    version: u32,
    methods: Vec<String>,
    upstream: String,
    upstream_path: Option<String>,
    auth: AuthMode,
    project: ProjectSource,
    #[serde(default)]
    min_role: BTreeMap<String, Role>,
    body_limit_bytes: Option<usize>,
    timeout_ms: Option<u64>,
    rate_cost: Option<u32>,
    #[serde(default)]
    upload: bool,
    deprecation: Option<String>,
    sunset: Option<String>,
    deprecation_link: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RouteFile {
    defaults: Defaults,
    route: Vec<RouteSpec>,
}

#[derive(Debug, thiserror::Error)]
#[error("invalid route table:\n  - {}", .0.join("\n  - "))]
pub struct RouteTableError(Vec<String>);

fn parse_segments(path: &str) -> Option<Vec<Segment>> {
    let rest = path.strip_prefix('/')?;
    rest.split('/')
        .map(|segment| {
            if let Some(name) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                (!name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
                    .then(|| Segment::Param(name.to_owned()))
            } else {
                (!segment.is_empty() && !segment.contains(['{', '}']))
                    .then(|| Segment::Literal(segment.to_owned()))
            }
        })
        .collect()
}

impl RouteTable {
    pub fn parse(
        text: &str,
        upstreams: &BTreeMap<String, Upstream>,
    ) -> Result<Self, RouteTableError> {
        let file: RouteFile =
            toml::from_str(text).map_err(|e| RouteTableError(vec![e.to_string()]))?;
        let mut problems = Vec::new();
        let mut routes = Vec::new();
        let mut seen = BTreeSet::new();
        for spec in file.route {
            let name = format!("v{} {}", spec.version, spec.path);
            let mut problem = |message: String| problems.push(format!("{name}: {message}"));
            let Some(segments) = parse_segments(&spec.path) else {
                problem(
                    "path must start with / and contain only literal or {param} segments".into(),
                );
                continue;
            };
            let upstream_path = spec
                .upstream_path
                .clone()
                .unwrap_or_else(|| format!("/v{}{}", spec.version, spec.path));
            let Some(upstream_segments) = parse_segments(&upstream_path) else {
                problem("upstream_path is malformed".into());
                continue;
            };
            let params: BTreeSet<&Segment> = segments
                .iter()
                .filter(|s| matches!(s, Segment::Param(_)))
                .collect();
            if upstream_segments
                .iter()
                .any(|s| matches!(s, Segment::Param(_)) && !params.contains(s))
            {
                problem("upstream_path uses a parameter the path does not have".into());
            }
            if !upstreams.contains_key(&spec.upstream) {
                problem(format!("upstream `{}` is not configured", spec.upstream));
            }
            let has_project_param = segments.contains(&Segment::Param("project".into()));
            if (spec.project == ProjectSource::Path) != has_project_param {
                problem("project = \"path\" exactly when the path has a {project} segment".into());
            }
            if spec.auth == AuthMode::Public && spec.project != ProjectSource::None {
                problem("public routes cannot act on a project".into());
            }
            if spec.upload && spec.project == ProjectSource::None {
                problem("upload routes count against a project's plan, so need a project".into());
            }
            let mut methods = Vec::new();
            let mut min_role = HashMap::new();
            for method in &spec.methods {
                match Method::from_bytes(method.as_bytes()) {
                    Ok(parsed) if parsed != Method::TRACE && parsed != Method::CONNECT => {
                        if !seen.insert((spec.version, spec.path.clone(), parsed.to_string())) {
                            problem(format!("{method} is listed twice"));
                        }
                        match spec.min_role.get(method) {
                            Some(role) => {
                                min_role.insert(parsed.clone(), *role);
                            }
                            None if spec.project != ProjectSource::None => {
                                problem(format!("min_role for {method} is missing"));
                            }
                            None => {}
                        }
                        methods.push(parsed);
                    }
                    _ => problem(format!("`{method}` is not an allowed method")),
                }
            }
            if spec.min_role.keys().any(|m| !spec.methods.contains(m)) {
                problem("min_role names a method the route does not have".into());
            }
            let mut deprecation_headers = Vec::new();
            if let Some(value) = &spec.deprecation {
                if !(value.starts_with('@') && value[1..].parse::<i64>().is_ok()) {
                    problem("deprecation must be `@<unix seconds>` (RFC 9745)".into());
                }
                deprecation_headers.push(("deprecation", value.clone()));
            }
            if let Some(value) = &spec.sunset {
                if chrono::DateTime::parse_from_rfc2822(value).is_err() {
                    problem("sunset must be an HTTP date (RFC 8594)".into());
                }
                deprecation_headers.push(("sunset", value.clone()));
            }
            if let Some(link) = &spec.deprecation_link {
                deprecation_headers.push(("link", format!("<{link}>; rel=\"deprecation\"")));
            }
            let deprecation_headers = deprecation_headers
                .into_iter()
                .filter_map(|(name, value)| {
                    Some((
                        HeaderName::from_static(name),
                        HeaderValue::from_str(&value).ok()?,
                    ))
                })
                .collect();
            routes.push(Route {
                template: format!("/api/v{}{}", spec.version, spec.path),
                path: spec.path,
                version: spec.version,
                segments,
                methods,
                upstream: spec.upstream,
                upstream_segments,
                auth: spec.auth,
                project: spec.project,
                min_role,
                body_limit_bytes: spec
                    .body_limit_bytes
                    .unwrap_or(file.defaults.body_limit_bytes),
                timeout: Duration::from_millis(spec.timeout_ms.unwrap_or(file.defaults.timeout_ms)),
                rate_cost: spec.rate_cost.unwrap_or(file.defaults.rate_cost).max(1),
                upload: spec.upload,
                deprecation_headers,
            });
        }
        if problems.is_empty() {
            // Literal segments win over parameters (`/projects/current`
            // before `/projects/{project}`), whatever the file's order.
            routes.sort_by_key(|route| {
                std::cmp::Reverse(
                    route
                        .segments
                        .iter()
                        .filter(|s| matches!(s, Segment::Literal(_)))
                        .count(),
                )
            });
            let versions = routes.iter().map(|r| r.version).collect();
            Ok(Self { routes, versions })
        } else {
            Err(RouteTableError(problems))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::upstreams;
    use super::*;

    #[test]
    fn a_bad_table_is_refused_with_every_problem_named() {
        let bad = r#"
[defaults]
body_limit_bytes = 100
timeout_ms = 1000
rate_cost = 1

[[route]]
path = "/projects/{project}/x"
version = 1
methods = ["GET", "TRACE"]
upstream = "nowhere"
auth = "public"
project = "path"
deprecation = "tomorrow"
"#;
        let message = RouteTable::parse(bad, &upstreams(&["auth", "failure", "failure_v2"]))
            .unwrap_err()
            .to_string();
        for expected in [
            "upstream `nowhere`",
            "public routes cannot act on a project",
            "`TRACE` is not an allowed method",
            "min_role for GET",
            "RFC 9745",
        ] {
            assert!(
                message.contains(expected),
                "{expected} missing from {message}"
            );
        }
    }

    #[test]
    fn the_shipped_route_table_is_valid() {
        let upstreams = upstreams(&["auth", "project", "failure", "analytics", "integration"]);
        let table = RouteTable::parse(crate::BUILT_IN_ROUTES, &upstreams).unwrap();
        let uploads: Vec<&str> = table
            .routes()
            .iter()
            .filter(|route| route.upload)
            .map(|route| route.path.as_str())
            .collect();
        assert_eq!(uploads, ["/projects/{project}/builds/{build}/results"]);
    }
}
