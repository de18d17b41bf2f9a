//! Every project endpoint against every role. Each cell runs on a fresh
//! project, so a cell that changes state cannot affect another.

use futures_util::future::join_all;
use reqwest::Method;
use serde_json::{Value, json};
use tenant_core::Role;

use crate::helpers::{ProjectApp, User};

/// The people of one fixture: every role, a second owner and a viewer to
/// act on, and someone who belongs to no project.
struct Cast {
    owner: User,
    second_owner: User,
    admin: User,
    member: User,
    viewer: User,
    target: User,
    outsider: User,
    newcomer: User,
}

/// Actors in the order of each case's expected statuses.
const ACTORS: [&str; 5] = ["owner", "admin", "member", "viewer", "non-member"];

impl Cast {
    fn actor(&self, name: &str) -> &User {
        match name {
            "owner" => &self.owner,
            "admin" => &self.admin,
            "member" => &self.member,
            "viewer" => &self.viewer,
            _ => &self.outsider,
        }
    }
}

struct Case {
    name: &'static str,
    method: Method,
    /// `{p}`: the project's slug; `{target}`: a viewer; `{owner2}`: the
    /// second owner.
    path: &'static str,
    body: Option<fn(&Cast) -> Value>,
    /// owner, admin, member, viewer, non-member
    expected: [u16; 5],
}

fn cases() -> Vec<Case> {
    use Method as M;
    let case = |name, method, path, body, expected| Case {
        name,
        method,
        path,
        body,
        expected,
    };
    vec![
        case(
            "read the project",
            M::GET,
            "/v1/projects/{p}",
            None,
            [200, 200, 200, 200, 404],
        ),
        case(
            "change the project",
            M::PATCH,
            "/v1/projects/{p}",
            Some(|_| json!({ "description": "changed" })),
            [200, 200, 403, 403, 404],
        ),
        case(
            "delete the project",
            M::DELETE,
            "/v1/projects/{p}",
            None,
            [204, 403, 403, 403, 404],
        ),
        case(
            "archive the project",
            M::POST,
            "/v1/projects/{p}/archive",
            Some(|_| json!({})),
            [200, 200, 403, 403, 404],
        ),
        case(
            "restore the project",
            M::POST,
            "/v1/projects/{p}/restore",
            Some(|_| json!({})),
            [200, 200, 403, 403, 404],
        ),
        case(
            "change the plan (not a platform admin)",
            M::PUT,
            "/v1/projects/{p}/plan",
            Some(|_| json!({ "plan": "team" })),
            [403, 403, 403, 403, 404],
        ),
        case(
            "list members",
            M::GET,
            "/v1/projects/{p}/members",
            None,
            [200, 200, 200, 200, 404],
        ),
        case(
            "read a member",
            M::GET,
            "/v1/projects/{p}/members/{target}",
            None,
            [200, 200, 200, 200, 404],
        ),
        case(
            "add a viewer",
            M::POST,
            "/v1/projects/{p}/members",
            Some(|cast| json!({ "email": cast.newcomer.email, "role": "viewer" })),
            [201, 201, 403, 403, 404],
        ),
        case(
            "add an admin",
            M::POST,
            "/v1/projects/{p}/members",
            Some(|cast| json!({ "email": cast.newcomer.email, "role": "admin" })),
            [201, 201, 403, 403, 404],
        ),
        case(
            "add an owner",
            M::POST,
            "/v1/projects/{p}/members",
            Some(|cast| json!({ "email": cast.newcomer.email, "role": "owner" })),
            [201, 403, 403, 403, 404],
        ),
        case(
            "change a viewer to member",
            M::PATCH,
            "/v1/projects/{p}/members/{target}",
            Some(|_| json!({ "role": "member" })),
            [200, 200, 403, 403, 404],
        ),
        case(
            "make a viewer an owner",
            M::PATCH,
            "/v1/projects/{p}/members/{target}",
            Some(|_| json!({ "role": "owner" })),
            [200, 403, 403, 403, 404],
        ),
        case(
            "demote an owner",
            M::PATCH,
            "/v1/projects/{p}/members/{owner2}",
            Some(|_| json!({ "role": "admin" })),
            [200, 403, 403, 403, 404],
        ),
        case(
            "remove a viewer",
            M::DELETE,
            "/v1/projects/{p}/members/{target}",
            None,
            [204, 204, 403, 403, 404],
        ),
        case(
            "remove an owner",
            M::DELETE,
            "/v1/projects/{p}/members/{owner2}",
            None,
            [204, 403, 403, 403, 404],
        ),
        case(
            "leave",
            M::DELETE,
            "/v1/projects/{p}/members/me",
            None,
            [204, 204, 204, 204, 404],
        ),
    ]
}

/// A fresh project with the whole cast in their roles.
async fn fixture(app: &ProjectApp, cast: &Cast, slug: &str) {
    app.create_project(&cast.owner, slug, "Matrix").await;
    for (user, role) in [
        (&cast.second_owner, Role::Owner),
        (&cast.admin, Role::Admin),
        (&cast.member, Role::Member),
        (&cast.viewer, Role::Viewer),
        (&cast.target, Role::Viewer),
    ] {
        app.add_member(&cast.owner, slug, user, role).await;
    }
}

/// What a refusal may say: never more than "not found" to a non-member.
fn expected_code(status: u16) -> &'static [&'static str] {
    match status {
        403 => &[
            "project.role_too_low",
            "membership.owner_required",
            "auth.platform_admin_required",
        ],
        404 => &["project.not_found"],
        _ => &[""],
    }
}

#[tokio::test]
async fn every_endpoint_answers_each_role_as_the_matrix_says_and_non_members_always_404() {
    let app = ProjectApp::spawn().await;
    let cast = Cast {
        owner: app.user("owner@example.com").await,
        second_owner: app.user("owner2@example.com").await,
        admin: app.user("admin@example.com").await,
        member: app.user("member@example.com").await,
        viewer: app.user("viewer@example.com").await,
        target: app.user("target@example.com").await,
        outsider: app.user("outsider@example.com").await,
        newcomer: app.user("newcomer@example.com").await,
    };

    let mut mismatches = Vec::new();
    for (case_index, case) in cases().iter().enumerate() {
        let cells = ACTORS.iter().enumerate().map(|(actor_index, actor)| {
            let slug = format!("m{case_index}-{actor_index}");
            let cast = &cast;
            let app = &app;
            async move {
                fixture(app, cast, &slug).await;
                let path = case
                    .path
                    .replace("{p}", &slug)
                    .replace("{target}", &cast.target.id.to_string())
                    .replace("{owner2}", &cast.second_owner.id.to_string());
                let body = case.body.map(|body| body(cast));
                let reply = app
                    .project
                    .call(
                        case.method.clone(),
                        &path,
                        &cast.actor(actor).context(),
                        body,
                    )
                    .await;
                (actor, reply)
            }
        });
        for (actor_index, (actor, reply)) in join_all(cells).await.into_iter().enumerate() {
            let expected = case.expected[actor_index];
            let codes = expected_code(expected);
            let status = reply.status.as_u16();
            let code_ok = status < 400 || codes.contains(&reply.code());
            if status != expected || !code_ok {
                mismatches.push(format!(
                    "{:<40} as {actor:<10}: expected {expected} {codes:?}, got {} {}",
                    case.name,
                    status,
                    reply.code()
                ));
            }
        }
    }
    assert!(
        mismatches.is_empty(),
        "role matrix mismatches:\n{}",
        mismatches.join("\n")
    );
}

#[tokio::test]
async fn a_platform_admin_changes_any_plan_without_being_a_member() {
    let app = ProjectApp::spawn().await;
    let owner = app.user("owner@example.com").await;
    let member_admin = app.platform_admin("member-admin@example.com").await;
    let outside_admin = app.platform_admin("outside-admin@example.com").await;
    app.create_project(&owner, "web", "Web").await;
    app.add_member(&owner, "web", &member_admin, Role::Viewer)
        .await;

    for (admin, plan) in [(&member_admin, "team"), (&outside_admin, "enterprise")] {
        let changed = app
            .put(admin, "/v1/projects/web/plan", json!({ "plan": plan }))
            .await
            .expect(200);
        assert_eq!(changed["plan"], plan);
    }
}
