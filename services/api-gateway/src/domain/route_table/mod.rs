//! The public route table: which `/api/v{N}/...` paths exist, who may call
//! them, where their project comes from, and which upstream serves them.
//! Loaded from TOML and validated at startup ([`RouteTable::parse`]).

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use actix_web::http::Method;
use actix_web::http::header::{HeaderName, HeaderValue};
use serde::Deserialize;
use tenant_core::Role;

mod parse;

pub use parse::RouteTableError;

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

/// A request's path parameters by name, in path order.
pub type PathParams = Vec<(String, String)>;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Segment {
    Literal(String),
    Param(String),
}

/// The parameter of [`Route::pages`] that holds the page's path (without
/// its leading `/`).
pub const PAGE_PARAMETER: &str = "page";

/// Forms of the dashboard are small.
const PAGE_BODY_LIMIT_BYTES: usize = 64 * 1024;

/// A page is built from a few API calls.
const PAGE_TIMEOUT: Duration = Duration::from_secs(30);

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
    /// The route of the web dashboard's pages: every path outside `/api`
    /// and `/internal`, passed to `upstream` as it is, public (the pages'
    /// own session decides who sees what), at the anonymous rate.
    pub fn pages(upstream: &str) -> Self {
        Self {
            path: "/{page}".to_owned(),
            version: 0,
            template: "/{page}".to_owned(),
            segments: Vec::new(),
            methods: vec![Method::GET, Method::HEAD, Method::POST],
            upstream: upstream.to_owned(),
            upstream_segments: vec![Segment::Param(PAGE_PARAMETER.to_owned())],
            auth: AuthMode::Public,
            project: ProjectSource::None,
            min_role: HashMap::new(),
            body_limit_bytes: PAGE_BODY_LIMIT_BYTES,
            timeout: PAGE_TIMEOUT,
            rate_cost: 1,
            upload: false,
            deprecation_headers: Vec::new(),
        }
    }

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

    fn capture(&self, segments: &[&str]) -> Option<PathParams> {
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

#[derive(Debug)]
pub enum RouteMatch<'a> {
    Found {
        route: &'a Route,
        params: PathParams,
    },
    MethodNotAllowed(Vec<Method>),
    NotFound,
}

#[derive(Debug)]
pub struct RouteTable {
    routes: Vec<Route>,
    versions: BTreeSet<u32>,
}

impl RouteTable {
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
    use std::collections::BTreeMap;

    use super::*;
    use crate::settings::Upstream;

    pub(super) fn upstreams(names: &[&str]) -> BTreeMap<String, Upstream> {
        names
            .iter()
            .map(|name| {
                (
                    (*name).to_owned(),
                    Upstream {
                        url: "http://127.0.0.1:1".into(),
                        audience: format!("{name}-service"),
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

    fn table(text: &str) -> RouteTable {
        RouteTable::parse(text, &upstreams(&["auth", "failure", "failure_v2"])).unwrap()
    }

    #[test]
    fn a_route_matches_by_version_path_and_method_and_maps_its_parameters() {
        let table = table(TABLE);
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
    fn a_literal_segment_wins_over_a_parameter_whatever_the_order() {
        let table = table(&format!(
            "{TABLE}\n[[route]]\npath = \"/projects/current/builds/latest\"\nversion = 1\nmethods = [\"GET\"]\nupstream = \"auth\"\nauth = \"user\"\nproject = \"none\"\n"
        ));
        let RouteMatch::Found { route, params } =
            table.find(1, "/projects/current/builds/latest", &Method::GET)
        else {
            panic!("no match");
        };
        assert_eq!(route.upstream, "auth");
        assert!(params.is_empty());
    }
}
