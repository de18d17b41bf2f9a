//! Broken object level authorization, generated from the gateway's route
//! table: every public route and method, tried by every kind of caller on
//! both projects, with each project's object ids under its own path, under
//! the other project's path and as ids that do not exist.
//!
//! What must hold: no credentials is 401; an API key on a route for users
//! is 403; a project the caller is not in is 404; a role below the route's
//! minimum is 403; another project's object is 404 and byte-identical to a
//! missing one apart from the request id; and no answer ever contains a
//! marker (id, name, message) of a project the caller is not in. Writes
//! are tried as well, and each project's data re-read afterwards.

use futures_util::StreamExt;
use reqwest::Method;
use serde_json::{Value, json};
use tenant_core::Role;
use test_support::Reply;
use uuid::Uuid;

use super::{FullPlatform, Tenant, seed_tenant};
use api_gateway::domain::route_table::{AuthMode, ProjectSource, Route, RouteTable};

/// Requests in flight at once: enough to finish in seconds on two cores,
/// few enough that the plan's burst is never the answer.
const FAN_OUT: usize = 8;

/// Which ids a request carries in its object parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ids {
    Of(usize),
    Missing,
}

#[derive(Debug, Clone)]
struct Principal {
    name: &'static str,
    token: Option<String>,
    /// The tenant (index) the caller belongs to and its role there.
    home: Option<(usize, Role)>,
    api_key: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Status(u16),
    /// An allowed read: any 2xx.
    Success,
    /// Not sent: an allowed write is what the services' own tests cover,
    /// and sending it would change the data the matrix compares.
    NotSent,
}

/// One request of the matrix.
#[derive(Debug, Clone)]
struct Probe {
    principal: Principal,
    method: Method,
    path: String,
    /// The same request with ids that do not exist, when it has any.
    missing_path: Option<String>,
    body: Option<(&'static str, Vec<u8>)>,
    expect: Expect,
    /// Markers that must not appear in the answer.
    forbidden: Vec<String>,
}

fn route_table() -> RouteTable {
    let settings: api_gateway::Settings = test_support::settings(&api_gateway::SPEC, None, &[]);
    RouteTable::parse(api_gateway::BUILT_IN_ROUTES, &settings.service.upstreams)
        .unwrap_or_else(|error| panic!("the route table does not parse: {error}"))
}

/// The names of a route's `{param}` segments, in order.
fn param_names(route: &Route) -> Vec<&str> {
    route
        .path
        .split('/')
        .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
        .collect()
}

/// The route's request path with `path_tenant`'s project and `ids` for the
/// objects; fails loudly for a parameter no tenant seeds.
fn request_path(route: &Route, tenants: &[Tenant], path_tenant: usize, ids: Ids) -> String {
    let mut path = format!("/api/v{}", route.version);
    for segment in route.path.split('/').filter(|s| !s.is_empty()) {
        path.push('/');
        let Some(name) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) else {
            path.push_str(segment);
            continue;
        };
        let owner = match (name, ids) {
            ("project" | "project_ref", _) => path_tenant,
            (_, Ids::Of(tenant)) => tenant,
            (_, Ids::Missing) => {
                path.push_str(&Uuid::now_v7().to_string());
                continue;
            }
        };
        let value = tenants[owner]
            .param(&route.upstream, name)
            .unwrap_or_else(|| {
                panic!(
                    "{}: the isolation matrix seeds no object for the path parameter `{name}`; \
                 seed one in tests/tests/api/isolation/seed.rs (Tenant::params) so the route \
                 is attacked like every other",
                    route.template
                )
            });
        path.push_str(value);
    }
    path
}

/// A body the route accepts, so that a refusal is about the object and not
/// about the body.
fn body_for(route: &Route, method: &Method) -> Option<(&'static str, Vec<u8>)> {
    if route.upload {
        return Some(("application/xml", crate::gateway_helpers::JUNIT.into()));
    }
    if *method == Method::GET || *method == Method::DELETE {
        return None;
    }
    let last = route.path.rsplit('/').next().unwrap_or_default();
    let parent = route.path.rsplit('/').nth(1).unwrap_or_default();
    let body = match (parent, last) {
        (_, "label") => json!({"label": "flaky"}),
        (_, "comments") => json!({"body": "a comment"}),
        (_, "plan") => json!({"plan": "free"}),
        ("builds", _) => json!({"status": "failed"}),
        ("failures", _) => json!({"status": "triaged"}),
        ("members", _) => json!({"role": "viewer"}),
        ("classification-rules" | "quality-gate-rules", _) => json!({"enabled": false}),
        ("quarantine", _) => json!({"reason": "a reason"}),
        _ => json!({}),
    };
    Some(("application/json", body.to_string().into_bytes()))
}

fn expected(
    principal: &Principal,
    route: &Route,
    method: &Method,
    path_tenant: usize,
    ids: Option<Ids>,
) -> Expect {
    if principal.token.is_none() {
        return Expect::Status(401);
    }
    if principal.api_key && route.auth == AuthMode::User {
        return Expect::Status(403);
    }
    if route.path.ends_with("/plan") {
        // Platform admins only (none here); the project service answers a
        // project the caller cannot see as missing, a visible one 403.
        let visible = principal.home.map(|(home, _)| home) == Some(path_tenant);
        return Expect::Status(if visible { 403 } else { 404 });
    }
    if route.project == ProjectSource::None {
        // Routes without a project: platform-admin routes refuse every
        // caller here; the rest act on the caller alone.
        return if route.path.starts_with("/admin/") {
            Expect::Status(403)
        } else if *method == Method::GET {
            Expect::Success
        } else {
            Expect::NotSent
        };
    }
    let Some((home, role)) = principal.home.filter(|(home, _)| *home == path_tenant) else {
        return Expect::Status(404);
    };
    let minimum = route
        .methods
        .iter()
        .find(|m| m.as_str() == method.as_str())
        .and_then(|m| route.min_role(m))
        .unwrap_or(Role::Owner);
    if role < minimum {
        return Expect::Status(403);
    }
    let foreign = matches!(ids, Some(Ids::Of(owner)) if owner != home);
    if (foreign || ids == Some(Ids::Missing)) && *method == Method::DELETE {
        // Members below admin may remove only themselves, whoever is named.
        if route.path.ends_with("/members/{member}") && role < Role::Admin {
            return Expect::Status(403);
        }
        // Taking a test off quarantine is idempotent: "not quarantined"
        // whether the test is unknown, another project's or released.
        if route.path.ends_with("/quarantine/{test}") {
            return Expect::Status(204);
        }
    }
    match ids {
        Some(Ids::Of(owner)) if owner != home => Expect::Status(404),
        Some(Ids::Missing) => Expect::Status(404),
        _ if *method == Method::GET => Expect::Success,
        _ => Expect::NotSent,
    }
}

fn principals(tenants: &[Tenant], outsider: &str) -> Vec<Principal> {
    let a = &tenants[0];
    let user = |name, token: &str, role| Principal {
        name,
        token: Some(token.to_owned()),
        home: Some((0, role)),
        api_key: false,
    };
    vec![
        user("owner of A", &a.owner.access_token, Role::Owner),
        user("admin of A", &a.admin.access_token, Role::Admin),
        user("member of A", &a.member.access_token, Role::Member),
        user("viewer of A", &a.viewer.access_token, Role::Viewer),
        Principal {
            name: "signed-in non-member",
            token: Some(outsider.to_owned()),
            home: None,
            api_key: false,
        },
        Principal {
            name: "API key of A",
            token: Some(a.key.clone()),
            home: Some((0, Role::Member)),
            api_key: true,
        },
        Principal {
            name: "API key of B",
            token: Some(tenants[1].key.clone()),
            home: Some((1, Role::Member)),
            api_key: true,
        },
        Principal {
            name: "no credentials",
            token: None,
            home: None,
            api_key: false,
        },
    ]
}

/// Every request of the matrix, for every public route but the public ones
/// (sign-up, log-in, refresh), which act on no one's data.
fn probes(table: &RouteTable, tenants: &[Tenant], outsider: &str) -> Vec<Probe> {
    let principals = principals(tenants, outsider);
    let mut probes = Vec::new();
    for route in table.routes().iter().filter(|r| r.auth != AuthMode::Public) {
        let has_objects = param_names(route)
            .iter()
            .any(|name| !matches!(*name, "project" | "project_ref"));
        let mut cases: Vec<(usize, Ids)> = Vec::new();
        for path_tenant in 0..tenants.len() {
            for ids in 0..tenants.len() {
                if has_objects || ids == path_tenant {
                    cases.push((path_tenant, Ids::Of(ids)));
                }
            }
        }
        for method in &route.methods {
            let method = Method::from_bytes(method.as_str().as_bytes()).unwrap();
            for principal in &principals {
                for &(path_tenant, ids) in &cases {
                    let expect = expected(
                        principal,
                        route,
                        &method,
                        path_tenant,
                        has_objects.then_some(ids),
                    );
                    if expect == Expect::NotSent {
                        continue;
                    }
                    let home = principal.home.map(|(home, _)| home);
                    let forbidden = tenants
                        .iter()
                        .enumerate()
                        .filter(|(index, _)| Some(*index) != home)
                        .flat_map(|(_, tenant)| tenant.markers.iter().cloned())
                        .collect();
                    probes.push(Probe {
                        principal: principal.clone(),
                        method: method.clone(),
                        path: request_path(route, tenants, path_tenant, ids),
                        missing_path: has_objects
                            .then(|| request_path(route, tenants, path_tenant, Ids::Missing)),
                        body: body_for(route, &method),
                        expect,
                        forbidden,
                    });
                }
            }
        }
    }
    probes
}

/// The answer's text without the request's id, which alone may differ
/// between two refusals.
fn without_request_id(reply: &Reply) -> String {
    let mut text = reply.text.clone();
    if let Some(id) = reply.header("x-request-id") {
        text = text.replace(id, "");
    }
    if let Some(id) = reply.body["request_id"].as_str() {
        text = text.replace(id, "");
    }
    text
}

/// What is wrong with the answers to `probe`, if anything.
async fn check(full: &FullPlatform, probe: Probe) -> Vec<String> {
    let token = probe.principal.token.as_deref();
    let reply = full
        .send_raw(probe.method.clone(), &probe.path, token, probe.body.clone())
        .await;
    let who = format!(
        "{} {} as {}",
        probe.method, probe.path, probe.principal.name
    );
    let mut findings = Vec::new();
    let status = reply.status.as_u16();
    match probe.expect {
        Expect::Status(wanted) if status != wanted => {
            findings.push(format!(
                "{who}: {status}, expected {wanted}: {}",
                reply.text
            ));
        }
        // 409: a feature of the installation not configured here (a Jira
        // OAuth app), answered alike to every caller allowed to ask.
        Expect::Success if !reply.status.is_success() && status != 409 => {
            findings.push(format!("{who}: {status}, expected 2xx: {}", reply.text));
        }
        _ => {}
    }
    for marker in &probe.forbidden {
        if reply.text.contains(marker.as_str()) {
            findings.push(format!(
                "{who}: the answer shows `{marker}` of another project"
            ));
        }
    }
    if let (Expect::Status(_), Some(missing_path)) = (probe.expect, &probe.missing_path) {
        let missing = full
            .send_raw(
                probe.method.clone(),
                missing_path,
                token,
                probe.body.clone(),
            )
            .await;
        let (found, absent) = (without_request_id(&reply), without_request_id(&missing));
        if (reply.status, &found) != (missing.status, &absent) {
            findings.push(format!(
                "{who}: another project's object answers differently from a missing one:\n  {status} {found}\n  {} {absent}",
                missing.status
            ));
        }
    }
    findings
}

/// What each tenant's owner reads on every readable route, for comparing
/// before and after the matrix: its data must not change.
async fn snapshot(full: &FullPlatform, table: &RouteTable, tenants: &[Tenant]) -> Vec<String> {
    let mut reads = Vec::new();
    for (index, tenant) in tenants.iter().enumerate() {
        for route in table.routes().iter().filter(|route| {
            route.project == ProjectSource::Path
                && route.methods.iter().any(|m| m.as_str() == "GET")
        }) {
            let path = request_path(route, tenants, index, Ids::Of(index));
            let reply = full
                .send(Method::GET, &path, Some(&tenant.owner.access_token), None)
                .await;
            let mut body = reply.body.clone();
            forget_usage(&mut body);
            reads.push(format!("GET {path}: {} {body}", reply.status));
        }
    }
    reads
}

/// Drops what reading itself changes (when an API key was last used, the
/// request id of a refusal).
fn forget_usage(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|key, _| !key.starts_with("last_used") && key != "request_id");
            map.values_mut().for_each(forget_usage);
        }
        Value::Array(items) => items.iter_mut().for_each(forget_usage),
        _ => {}
    }
}

#[tokio::test]
async fn every_route_refuses_every_caller_another_projects_objects() {
    let full = FullPlatform::start(&[]).await;
    let admin = full.platform_admin().await;
    let tenants = vec![
        seed_tenant(&full, &admin, "alpha").await,
        seed_tenant(&full, &admin, "zeta").await,
    ];
    let outsider = full
        .platform
        .sign_up_and_log_in("outsider@example.com")
        .await;
    full.platform.wait_for_access_feed().await;
    let table = route_table();
    let before = snapshot(&full, &table, &tenants).await;

    let probes = probes(&table, &tenants, &outsider.access_token);
    let count = probes.len();
    let findings: Vec<String> = futures_util::stream::iter(probes)
        .map(|probe| check(&full, probe))
        .buffer_unordered(FAN_OUT)
        .flat_map(futures_util::stream::iter)
        .collect()
        .await;
    assert!(
        findings.is_empty(),
        "{} of {count} requests went wrong:\n{}",
        findings.len(),
        findings.join("\n")
    );
    assert!(
        count > 500,
        "only {count} requests: is the route table read?"
    );

    let after = snapshot(&full, &table, &tenants).await;
    for (before, after) in before.iter().zip(&after) {
        assert_eq!(before, after, "a project's data changed under the matrix");
    }
}
