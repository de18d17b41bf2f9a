//! Memberships: adding by email through the auth service, changing roles,
//! removing, leaving, and the last-owner rules.

use futures_util::future::join_all;
use serde_json::{Value, json};
use tenant_core::Role;

use crate::helpers::{ProjectApp, User};

fn roles(members: &Value) -> Vec<(String, String)> {
    members["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["user_id"].as_str().unwrap().to_owned(),
                m["role"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

async fn owner_count(app: &ProjectApp) -> i64 {
    app.admin()
        .await
        .query_one(
            "SELECT count(*) FROM project.memberships WHERE role = 'owner'",
            &[],
        )
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn an_admin_adds_an_existing_user_by_email_and_the_answer_names_them() {
    let app = ProjectApp::spawn().await;
    let alice = app.user("alice@example.com").await;
    let bob = app.user("bob+ci@example.com").await;
    app.create_project(&alice, "web", "Web").await;

    let reply = app
        .post(
            &alice,
            "/v1/projects/web/members",
            json!({ "email": "  Bob+CI@Example.com ", "role": "admin" }),
        )
        .await;
    assert_eq!(
        reply.headers["location"].to_str().unwrap(),
        format!("members/{}", bob.id)
    );
    let added = reply.expect(201);
    assert_eq!(added["user_id"], bob.id.to_string());
    assert_eq!(added["role"], "admin");
    assert_eq!(added["email"], "bob+ci@example.com");
    assert_eq!(added["display_name"], "Test bob+ci@example.com");

    let read = app
        .get(&bob, &format!("/v1/projects/web/members/{}", bob.id))
        .await
        .expect(200);
    assert_eq!(read["role"], "admin");
    let me = app
        .get(&bob, "/v1/projects/web/members/me")
        .await
        .expect(200);
    assert_eq!(me["user_id"], bob.id.to_string());
    let project = app.get(&bob, "/v1/projects/web").await.expect(200);
    assert_eq!(project["role"], "admin");
}

#[tokio::test]
async fn unknown_or_disabled_users_and_existing_members_cannot_be_added() {
    let app = ProjectApp::spawn().await;
    let alice = app.user("alice@example.com").await;
    let bob = app.user("bob@example.com").await;
    app.disabled_user("gone@example.com").await;
    app.create_project(&alice, "web", "Web").await;
    app.add_member(&alice, "web", &bob, Role::Member).await;

    let add = |email: &'static str| {
        app.post(
            &alice,
            "/v1/projects/web/members",
            json!({ "email": email, "role": "viewer" }),
        )
    };
    add("nobody@example.com")
        .await
        .expect_problem(422, "membership.unknown_user");
    add("gone@example.com")
        .await
        .expect_problem(422, "membership.user_disabled");
    add("bob@example.com")
        .await
        .expect_problem(409, "membership.exists");
    add("not-an-email")
        .await
        .expect_problem(422, "request.invalid_body");
    app.post(
        &alice,
        "/v1/projects/web/members",
        json!({ "email": "bob@example.com", "role": "superuser" }),
    )
    .await
    .expect_problem(422, "request.invalid_body");
}

#[tokio::test]
async fn roles_change_and_removed_members_lose_access_at_once() {
    let app = ProjectApp::spawn().await;
    let alice = app.user("alice@example.com").await;
    let bob = app.user("bob@example.com").await;
    app.create_project(&alice, "web", "Web").await;
    app.add_member(&alice, "web", &bob, Role::Viewer).await;
    let bob_path = format!("/v1/projects/web/members/{}", bob.id);

    let changed = app
        .patch(&alice, &bob_path, json!({ "role": "member" }))
        .await
        .expect(200);
    assert_eq!(changed["role"], "member");
    assert_eq!(
        app.get(&bob, "/v1/projects/web").await.expect(200)["role"],
        "member"
    );
    app.access(&bob, "web").await.expect(200);

    app.delete(&alice, &bob_path).await.expect(204);
    app.get(&bob, "/v1/projects/web")
        .await
        .expect_problem(404, "project.not_found");
    app.access(&bob, "web")
        .await
        .expect_problem(404, "access.not_found");
    app.delete(&alice, &bob_path)
        .await
        .expect_problem(404, "membership.not_found");
    app.patch(
        &alice,
        "/v1/projects/web/members/nobody",
        json!({ "role": "viewer" }),
    )
    .await
    .expect_problem(404, "membership.not_found");
}

#[tokio::test]
async fn any_member_may_leave() {
    let app = ProjectApp::spawn().await;
    let alice = app.user("alice@example.com").await;
    let viewer = app.user("viewer@example.com").await;
    let admin = app.user("admin@example.com").await;
    app.create_project(&alice, "web", "Web").await;
    app.add_member(&alice, "web", &viewer, Role::Viewer).await;
    app.add_member(&alice, "web", &admin, Role::Admin).await;

    app.delete(&viewer, "/v1/projects/web/members/me")
        .await
        .expect(204);
    app.delete(&admin, &format!("/v1/projects/web/members/{}", admin.id))
        .await
        .expect(204);
    let members = app
        .get(&alice, "/v1/projects/web/members")
        .await
        .expect(200);
    assert_eq!(
        roles(&members),
        [(alice.id.to_string(), "owner".to_owned())]
    );
    app.get(&viewer, "/v1/projects/web")
        .await
        .expect_problem(404, "project.not_found");
}

#[tokio::test]
async fn the_last_owner_cannot_leave_be_demoted_or_be_removed() {
    let app = ProjectApp::spawn().await;
    let alice = app.user("alice@example.com").await;
    let bob = app.user("bob@example.com").await;
    app.create_project(&alice, "web", "Web").await;
    let alice_path = format!("/v1/projects/web/members/{}", alice.id);

    app.delete(&alice, "/v1/projects/web/members/me")
        .await
        .expect_problem(409, "project.last_owner");
    app.delete(&alice, &alice_path)
        .await
        .expect_problem(409, "project.last_owner");
    for role in ["admin", "member", "viewer"] {
        app.patch(&alice, &alice_path, json!({ "role": role }))
            .await
            .expect_problem(409, "project.last_owner");
    }
    // Keeping the owner role is not a demotion.
    app.patch(&alice, &alice_path, json!({ "role": "owner" }))
        .await
        .expect(200);

    // With a second owner, the first may step down; then the second is the
    // last one.
    app.add_member(&alice, "web", &bob, Role::Owner).await;
    app.patch(&alice, &alice_path, json!({ "role": "admin" }))
        .await
        .expect(200);
    app.delete(&bob, "/v1/projects/web/members/me")
        .await
        .expect_problem(409, "project.last_owner");
    // An admin cannot remove an owner at all.
    app.delete(&alice, &format!("/v1/projects/web/members/{}", bob.id))
        .await
        .expect_problem(403, "membership.owner_required");
    assert_eq!(owner_count(&app).await, 1);
}

#[tokio::test]
async fn two_owners_demoting_each_other_at_once_leave_exactly_one_owner() {
    let app = ProjectApp::spawn().await;
    for round in 0..5 {
        let alice = app.user(&format!("alice{round}@example.com")).await;
        let bob = app.user(&format!("bob{round}@example.com")).await;
        let slug = format!("race-{round}");
        app.create_project(&alice, &slug, "Race").await;
        app.add_member(&alice, &slug, &bob, Role::Owner).await;

        let demote = |actor: &User, target: &User| {
            let actor = actor.clone();
            let path = format!("/v1/projects/{slug}/members/{}", target.id);
            let app = &app;
            async move { app.patch(&actor, &path, json!({ "role": "admin" })).await }
        };
        let replies = join_all([demote(&alice, &bob), demote(&bob, &alice)]).await;
        let statuses: Vec<u16> = replies.iter().map(|reply| reply.status.as_u16()).collect();
        assert_eq!(
            statuses.iter().filter(|status| **status == 200).count(),
            1,
            "round {round}: {replies:?}"
        );
        // The loser was demoted to admin first, so it may no longer touch
        // an owner.
        assert!(
            replies
                .iter()
                .any(|reply| reply.status == 403 && reply.code() == "membership.owner_required"),
            "round {round}: {replies:?}"
        );
    }
    // One owner per project, never zero.
    let per_project: Vec<i64> = app
        .admin()
        .await
        .query(
            "SELECT count(*) FILTER (WHERE role = 'owner') FROM project.memberships GROUP BY project_id",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(per_project, [1, 1, 1, 1, 1]);
}

#[tokio::test]
async fn members_are_listed_in_pages() {
    let app = ProjectApp::spawn().await;
    let alice = app.user("alice@example.com").await;
    app.create_project(&alice, "web", "Web").await;
    let mut expected = vec![alice.id.to_string()];
    for n in 0..4 {
        let user = app.user(&format!("user{n}@example.com")).await;
        app.add_member(&alice, "web", &user, Role::Viewer).await;
        expected.push(user.id.to_string());
    }
    expected.sort();

    let mut seen = Vec::new();
    let mut path = "/v1/projects/web/members?limit=2".to_owned();
    loop {
        let page = app.get(&alice, &path).await.expect(200);
        seen.extend(roles(&page).into_iter().map(|(id, _)| id));
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/v1/projects/web/members?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen, expected);
}
