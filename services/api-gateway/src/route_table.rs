//! The public route table, loaded from TOML and validated at startup.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use actix_web::http::Method;
use actix_web::http::header::{HeaderName, HeaderValue};
use serde::Deserialize;
use tenant_core::Role;

use crate::settings::Upstream;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthMode {
    /// Anyone; callers without credentials get an anonymous context.
    Public,
    /// A signed-in user (access token).
    User,
    /// A user or an API key.
    Any,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProjectSource {
    None,
    Path,
    Required,
    Default,
}

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

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Segment {
    Literal(String),
    Param(String),
}

/// One public route, ready to match.
#[derive(Debug)]
pub struct Route {
    pub path: String,
    pub version: u32,
    /// `/api/v{version}{path}`: what the request's span, logs and metrics
    /// name the route by.
    pub template: String,
    segments: Vec<Segment>,
    pub methods: Vec<Method>,
    pub upstream: String,
    upstream_segments: Vec<Segment>,
    pub auth: AuthMode,
    pub project: ProjectSource,
    min_role: HashMap<Method, Role>,
    pub body_limit_bytes: usize,
    pub timeout: Duration,
    pub rate_cost: u32,
    /// Result uploads: each also counts against the project plan's
    /// `uploads_per_minute` / `upload_burst`.
    pub upload: bool,
    pub deprecation_headers: Vec<(HeaderName, HeaderValue)>,
}

impl Route {
    pub fn min_role(&self, method: &Method) -> Option<Role> {
        self.min_role.get(method).copied()
    }

    /// The path at the upstream with this request's parameters.
    pub fn upstream_path(&self, params: &[(String, String)]) -> String {
        let mut out = String::new();
        for segment in &self.upstream_segments {
            out.push('/');
            match segment {
                Segment::Literal(text) => out.push_str(text),
                Segment::Param(name) => {
                    if let Some((_, value)) = params.iter().find(|(n, _)| n == name) {
                        out.push_str(value);
                    }
                }
            }
        }
        out
    }

    fn capture(&self, segments: &[&str]) -> Option<Vec<(String, String)>> {
        if segments.len() != self.segments.len() {
            return None;
        }
        let mut params = Vec::new();
        for (pattern, actual) in self.segments.iter().zip(segments) {
            match pattern {
                Segment::Literal(text) if text == actual => {}
                Segment::Param(name) if !actual.is_empty() => {
                    params.push((name.clone(), (*actual).to_owned()))
                }
                _ => return None,
            }
        }
        Some(params)
    }
}

/// The first parameter that could change which upstream path is reached:
/// a `.` or `..` segment (URL parsers resolve it away, so the upstream would
/// serve another path than the one authorized), a `\\`, or an encoded `.`,
/// `/` or `\\` (`%2e`, `%2f`, `%5c` in any case, or encoded again, `%252e`,
/// `%25%32%65`, ...), which an upstream that decodes the path, once or more,
/// would turn into a dot segment or a separator.
pub fn unsafe_parameter(params: &[(String, String)]) -> Option<&str> {
    params
        .iter()
        .find(|(_, value)| is_unsafe_segment(value))
        .map(|(name, _)| name.as_str())
}

fn is_unsafe_segment(value: &str) -> bool {
    let delimiters = |bytes: &[u8]| {
        bytes
            .iter()
            .filter(|b| matches!(b, b'.' | b'/' | b'\\'))
            .count()
    };
    let mut layer = value.as_bytes().to_vec();
    loop {
        if layer == b"." || layer == b".." || layer.contains(&b'\\') {
            return true;
        }
        // Every decoding layer that changes the text shortens it, so this ends.
        let decoded = percent_decode(&layer);
        if decoded == layer {
            return false;
        }
        if delimiters(&decoded) > delimiters(&layer) {
            return true;
        }
        layer = decoded;
    }
}

/// One layer of percent-decoding; a `%` not followed by two hex digits stays.
fn percent_decode(bytes: &[u8]) -> Vec<u8> {
    let hex = |b: u8| char::from(b).to_digit(16);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let (Some(high), Some(low)) = (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            )
        {
            out.push(u8::try_from(high * 16 + low).unwrap_or(b'%'));
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}

#[derive(Debug)]
pub enum RouteMatch<'a> {
    Found {
        route: &'a Route,
        params: Vec<(String, String)>,
    },
    MethodNotAllowed(Vec<Method>),
    NotFound,
}

#[derive(Debug)]
pub struct RouteTable {
    routes: Vec<Route>,
    versions: BTreeSet<u32>,
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

    pub fn has_version(&self, version: u32) -> bool {
        self.versions.contains(&version)
    }

    pub fn routes(&self) -> &[Route] {
        &self.routes
    }

    /// The route for `method path` in `version` (`path` is after `/api/vN`).
    pub fn find(&self, version: u32, path: &str, method: &Method) -> RouteMatch<'_> {
        let Some(rest) = path.strip_prefix('/') else {
            return RouteMatch::NotFound;
        };
        let segments: Vec<&str> = rest.split('/').collect();
        let mut allowed = Vec::new();
        // The most specific matching pattern decides which methods exist.
        let mut pattern: Option<&[Segment]> = None;
        for route in self.routes.iter().filter(|r| r.version == version) {
            if pattern.is_some_and(|p| p != route.segments.as_slice()) {
                continue;
            }
            if let Some(params) = route.capture(&segments) {
                if route.methods.contains(method) {
                    return RouteMatch::Found { route, params };
                }
                allowed.extend(route.methods.iter().cloned());
                pattern = Some(&route.segments);
            }
        }
        if allowed.is_empty() {
            RouteMatch::NotFound
        } else {
            RouteMatch::MethodNotAllowed(allowed)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upstreams() -> BTreeMap<String, Upstream> {
        [
            ("auth", "auth-service"),
            ("failure", "failure-service"),
            ("failure_v2", "failure-service"),
        ]
        .into_iter()
        .map(|(name, audience)| {
            (
                name.to_owned(),
                Upstream {
                    url: "http://127.0.0.1:1".into(),
                    audience: audience.into(),
                },
            )
        })
        .collect()
    }

    const TABLE: &str = r#"
[defaults]
body_limit_bytes = 100
timeout_ms = 1000
rate_cost = 1

[[route]]
path = "/projects/{project}/builds/{build}"
version = 1
methods = ["GET", "PATCH"]
upstream = "failure"
auth = "any"
project = "path"
min_role = { GET = "viewer", PATCH = "member" }
deprecation = "@1767225600"
sunset = "Wed, 30 Jun 2027 23:59:59 GMT"
deprecation_link = "https://example.com/deprecations/v1"

[[route]]
path = "/projects/{project}/builds/{build}"
version = 2
methods = ["GET"]
upstream = "failure_v2"
auth = "any"
project = "path"
min_role = { GET = "viewer" }
"#;

    #[test]
    fn a_route_matches_by_version_path_and_method_and_maps_its_parameters() {
        let table = RouteTable::parse(TABLE, &upstreams()).unwrap();
        let RouteMatch::Found { route, params } =
            table.find(1, "/projects/demo/builds/42", &Method::PATCH)
        else {
            panic!("no match");
        };
        assert_eq!(route.upstream, "failure");
        assert_eq!(route.template, "/api/v1/projects/{project}/builds/{build}");
        assert_eq!(route.min_role(&Method::PATCH), Some(Role::Member));
        assert_eq!(route.upstream_path(&params), "/v1/projects/demo/builds/42");
        assert_eq!(route.deprecation_headers.len(), 3);
        let RouteMatch::Found { route, .. } =
            table.find(2, "/projects/demo/builds/42", &Method::GET)
        else {
            panic!("no v2 match");
        };
        assert_eq!(route.upstream, "failure_v2");
        assert!(
            matches!(table.find(2, "/projects/demo/builds/42", &Method::PATCH), RouteMatch::MethodNotAllowed(m) if m == vec![Method::GET])
        );
        assert!(matches!(
            table.find(1, "/projects/demo/builds", &Method::GET),
            RouteMatch::NotFound
        ));
        assert!(matches!(
            table.find(1, "/projects//builds/1", &Method::GET),
            RouteMatch::NotFound
        ));
        assert!(matches!(
            table.find(3, "/projects/demo/builds/42", &Method::GET),
            RouteMatch::NotFound
        ));
    }

    #[test]
    fn dot_segments_and_encoded_separators_or_dots_are_unsafe_parameters() {
        for unsafe_value in [
            ".",
            "..",
            "%2e",
            "%2E%2e",
            "a%2eb",
            "%2f",
            "%2F",
            "%5c",
            "%5C",
            "a\\b",
            "%252e",
            "%252F",
            "%255c",
            "%25252e%25252e",
            "%25%32%65",
            "%2%65",
        ] {
            assert!(is_unsafe_segment(unsafe_value), "{unsafe_value}");
        }
        for safe in [
            "demo",
            "a.b",
            "...x",
            "v1.2",
            "%20",
            "%25",
            "100%25done",
            "%2",
            "%zz",
        ] {
            assert!(!is_unsafe_segment(safe), "{safe}");
        }
        let params = vec![
            ("project".to_owned(), "demo".to_owned()),
            ("build".to_owned(), "%2e%2e".to_owned()),
        ];
        assert_eq!(unsafe_parameter(&params), Some("build"));
        assert_eq!(unsafe_parameter(&params[..1]), None);
    }

    #[test]
    fn a_literal_segment_wins_over_a_parameter_whatever_the_order() {
        let table = format!(
            "{TABLE}\n[[route]]\npath = \"/projects/current/builds/latest\"\nversion = 1\nmethods = [\"GET\"]\nupstream = \"auth\"\nauth = \"user\"\nproject = \"none\"\n"
        );
        let table = RouteTable::parse(&table, &upstreams()).unwrap();
        let RouteMatch::Found { route, params } =
            table.find(1, "/projects/current/builds/latest", &Method::GET)
        else {
            panic!("no match");
        };
        assert_eq!(route.upstream, "auth");
        assert!(params.is_empty());
    }

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
        let message = RouteTable::parse(bad, &upstreams())
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
        let upstreams = ["auth", "project", "failure", "analytics", "integration"]
            .into_iter()
            .map(|n| {
                (
                    n.to_owned(),
                    Upstream {
                        url: "http://127.0.0.1:1".into(),
                        audience: n.into(),
                    },
                )
            })
            .collect();
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
