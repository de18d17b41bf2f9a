//! Projects: creation, idempotency, slugs, listing, changes, lifecycle,
//! plans, and what the service trusts of its context.

use std::collections::HashSet;

use futures_util::future::join_all;
use reqwest::Method;
use serde_json::{Value, json};
use tenant_core::{Principal, PrincipalKind, Role, TenantContext};
use test_support::{Reply, contexts};
use uuid::Uuid;

use crate::helpers::{ProjectApp, User, id_of, without_request_id};

/// `POST /v1/projects` as `user`, with an `Idempotency-Key`.
async fn create_with_key(app: &ProjectApp, user: &User, body: Value, key: &str) -> Reply {
    let request = app
        .project
        .request_as(Method::POST, "/v1/projects", &user.context())
        .header("Idempotency-Key", key)
        .json(&body);
    Reply::from_request(request).await
}

#[tokio::test]
async fn creating_a_project_makes_the_creator_its_owner_with_defaults() {
    let app = ProjectApp::spawn().await;
    let alice = app.user("alice@example.com").await;

    let reply = app
        .post(
            &alice,
            "/v1/projects",
            json!({ "slug": "checkout", "name": "  Checkout ", "description": "Cart and payment" }),
        )
        .await;
    let location = reply.header("location").unwrap().to_owned();
    let project = reply.expect(201);
    let id = id_of(&project);
    assert_eq!(location, format!("projects/{id}"));
    assert_eq!(project["slug"], "checkout");
    assert_eq!(project["name"], "Checkout");
    assert_eq!(project["description"], "Cart and payment");
    assert_eq!(project["role"], "owner");
    assert_eq!(project["status"], "active");
    assert_eq!(project["plan"], "free");
    assert_eq!(project["limits"]["retention_days"], 14);
    assert_eq!(project["settings"]["default_branch"], "main");
    assert_eq!(Uuid::parse_str(&id).unwrap().get_version_num(), 7);

    let by_id = app
        .get(&alice, &format!("/v1/projects/{id}"))
        .await
        .expect(200);
    let by_slug = app.get(&alice, "/v1/projects/checkout").await.expect(200);
    assert_eq!(by_id, by_slug);
    assert_eq!(by_id["id"], project["id"]);

    let members = app
        .get(&alice, "/v1/projects/checkout/members")
        .await
        .expect(200);
    assert_eq!(
        members["items"],
        json!([{
            "user_id": alice.id,
            "role": "owner",
            "created_at": members["items"][0]["created_at"],
            "updated_at": members["items"][0]["updated_at"],
        }])
    );
}

#[tokio::test]
async fn a_taken_slug_is_a_conflict_even_once_its_project_is_deleted() {
    let app = ProjectApp::spawn().await;
    let alice = app.user("alice@example.com").await;
    let bob = app.user("bob@example.com").await;
    app.create_project(&alice, "web", "Web").await;

    let taken = app
        .post(
            &bob,
            "/v1/projects",
            json!({ "slug": "web", "name": "Mine" }),
        )
        .await;
    taken.expect_problem(409, "project.slug_taken");

    app.delete(&alice, "/v1/projects/web").await.expect(204);
    let still_taken = app
        .post(
            &bob,
            "/v1/projects",
            json!({ "slug": "web", "name": "Mine" }),
        )
        .await;
    still_taken.expect_problem(409, "project.slug_taken");
}

#[tokio::test]
async fn invalid_slugs_names_and_fields_are_refused() {
    let app = ProjectApp::spawn().await;
    let alice = app.user("alice@example.com").await;
    let uuid_like = Uuid::now_v7().to_string();
    for body in [
        json!({ "slug": "Web", "name": "Web" }),
        json!({ "slug": "w", "name": "Web" }),
        json!({ "slug": "-web", "name": "Web" }),
        json!({ "slug": "web_app", "name": "Web" }),
        json!({ "slug": uuid_like, "name": "Web" }),
        json!({ "slug": "web", "name": "   " }),
        json!({ "slug": "web", "name": "Web", "plan": "enterprise" }),
        json!({ "slug": "web", "name": "Web", "settings": { "default_brnach": "dev" } }),
        json!({ "name": "Web" }),
    ] {
        let reply = app.post(&alice, "/v1/projects", body.clone()).await;
        reply.expect_problem(422, "request.invalid_body");
        assert!(reply.body["detail"].is_string(), "{body}: {:#}", reply.body);
    }
    let listed = app.get(&alice, "/v1/projects").await.expect(200);
    assert_eq!(listed["items"], json!([]));
}

#[tokio::test]
async fn retrying_a_create_with_its_idempotency_key_returns_the_first_result() {
    let app = ProjectApp::spawn().await;
    let alice = app.user("alice@example.com").await;
    let body = json!({ "slug": "billing", "name": "Billing" });
    let create = |body: Value, key: &'static str| create_with_key(&app, &alice, body, key);

    let first = create(body.clone(), "create-billing-1").await;
    assert!(first.header("idempotent-replayed").is_none());
    let first = first.expect(201);
    let retry = create(body.clone(), "create-billing-1").await;
    assert_eq!(retry.header("idempotent-replayed"), Some("true"));
    assert_eq!(
        retry.header("location"),
        Some(format!("projects/{}", id_of(&first)).as_str())
    );
    assert_eq!(retry.expect(201)["id"], first["id"]);

    let different = create(
        json!({ "slug": "billing-2", "name": "Billing" }),
        "create-billing-1",
    )
    .await;
    different.expect_problem(422, "idempotency.key_reused");

    create(
        json!({ "slug": "billing-3", "name": "Billing" }),
        "has a space",
    )
    .await
    .expect_problem(400, "idempotency.invalid_key");

    let without_key = app.post(&alice, "/v1/projects", body).await;
    without_key.expect_problem(409, "project.slug_taken");

    let listed = app.get(&alice, "/v1/projects").await.expect(200);
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn concurrent_retries_with_one_idempotency_key_create_one_project() {
    let app = ProjectApp::spawn().await;
    let alice = app.user("alice@example.com").await;
    let attempts = (0..6).map(|_| {
        create_with_key(
            &app,
            &alice,
            json!({ "slug": "race", "name": "Race" }),
            "same-key",
        )
    });
    let replies = join_all(attempts).await;
    let ids: HashSet<String> = replies
        .into_iter()
        .map(|reply| id_of(&reply.expect(201)))
        .collect();
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert_eq!(app.project.count_rows("project.projects").await, 1);
}

fn names(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["name"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn listing_pages_by_name_and_stays_stable_under_inserts() {
    let app = ProjectApp::spawn().await;
    let alice = app.user("alice@example.com").await;
    let bob = app.user("bob@example.com").await;
    for n in 1..=7 {
        app.create_project(&alice, &format!("p{n:02}"), &format!("P{n:02}"))
            .await;
    }
    app.create_project(&bob, "bobs", "P04 of Bob").await;

    let first = app.get(&alice, "/v1/projects?limit=3").await.expect(200);
    assert_eq!(names(&first), ["P01", "P02", "P03"]);
    let mut seen = names(&first);
    let mut cursor = first["next_cursor"].as_str().unwrap().to_owned();

    // Inserted while paging: before the cursor (never shown), between
    // pages and at the end (shown once, in order).
    app.create_project(&alice, "a-first", "A first").await;
    app.create_project(&alice, "p035", "P035").await;
    app.create_project(&alice, "zz-last", "ZZ last").await;

    loop {
        let page = app
            .get(&alice, &format!("/v1/projects?limit=3&cursor={cursor}"))
            .await
            .expect(200);
        seen.extend(names(&page));
        match page["next_cursor"].as_str() {
            Some(next) => cursor = next.to_owned(),
            None => break,
        }
    }
    assert_eq!(
        seen,
        [
            "P01", "P02", "P03", "P035", "P04", "P05", "P06", "P07", "ZZ last"
        ]
    );

    let forged = app
        .get(&alice, "/v1/projects?cursor=bm90LWEtY3Vyc29y")
        .await;
    forged.expect_problem(400, "pagination.invalid_cursor");
}

#[tokio::test]
async fn the_name_filter_matches_case_insensitive_substrings_and_wildcards_literally() {
    let app = ProjectApp::spawn().await;
    let alice = app.user("alice@example.com").await;
    app.create_project(&alice, "checkout-web", "Checkout Web")
        .await;
    app.create_project(&alice, "checkout-api", "checkout API")
        .await;
    app.create_project(&alice, "billing", "Billing").await;
    app.create_project(&alice, "done", "100% done").await;

    let checkout = app
        .get(&alice, "/v1/projects?name=CHECKOUT")
        .await
        .expect(200);
    assert_eq!(names(&checkout), ["Checkout Web", "checkout API"]);
    let percent = app.get(&alice, "/v1/projects?name=%25").await.expect(200);
    assert_eq!(names(&percent), ["100% done"]);

    app.post(&alice, "/v1/projects/billing/archive", json!({}))
        .await
        .expect(200);
    let archived = app
        .get(&alice, "/v1/projects?status=archived")
        .await
        .expect(200);
    assert_eq!(names(&archived), ["Billing"]);
}

#[tokio::test]
async fn patching_changes_name_description_and_settings() {
    let app = ProjectApp::spawn().await;
    let alice = app.user("alice@example.com").await;
    app.create_project(&alice, "web", "Web").await;

    let patched = app
        .patch(
            &alice,
            "/v1/projects/web",
            json!({ "name": "Web shop", "settings": { "default_branch": "develop" } }),
        )
        .await
        .expect(200);
    assert_eq!(patched["name"], "Web shop");
    assert_eq!(patched["description"], "");
    assert_eq!(patched["settings"]["default_branch"], "develop");
    let read = app.get(&alice, "/v1/projects/web").await.expect(200);
    assert_eq!(read, patched);

    let described = app
        .patch(
            &alice,
            "/v1/projects/web",
            json!({ "description": "The shop" }),
        )
        .await
        .expect(200);
    assert_eq!(described["name"], "Web shop", "untouched fields stay");
    assert_eq!(described["settings"]["default_branch"], "develop");

    for body in [
        json!({ "settings": { "default_branch": "has space" } }),
        json!({ "settings": { "colour": "blue" } }),
        json!({ "slug": "renamed" }),
    ] {
        app.patch(&alice, "/v1/projects/web", body)
            .await
            .expect_problem(422, "request.invalid_body");
    }
}

#[tokio::test]
async fn an_archived_project_is_read_only_until_restored() {
    let app = ProjectApp::spawn().await;
    let alice = app.user("alice@example.com").await;
    app.create_project(&alice, "web", "Web").await;

    let archived = app
        .post(&alice, "/v1/projects/web/archive", json!({}))
        .await
        .expect(200);
    assert_eq!(archived["status"], "archived");
    assert!(archived["archived_at"].is_string());
    app.get(&alice, "/v1/projects/web").await.expect(200);
    app.patch(&alice, "/v1/projects/web", json!({ "name": "New" }))
        .await
        .expect_problem(409, "project.archived");
    let again = app
        .post(&alice, "/v1/projects/web/archive", json!({}))
        .await
        .expect(200);
    assert_eq!(again["archived_at"], archived["archived_at"]);

    let restored = app
        .post(&alice, "/v1/projects/web/restore", json!({}))
        .await
        .expect(200);
    assert_eq!(restored["status"], "active");
    assert!(restored["archived_at"].is_null());
    app.patch(&alice, "/v1/projects/web", json!({ "name": "New" }))
        .await
        .expect(200);
}

#[tokio::test]
async fn a_deleted_project_is_gone_for_every_api() {
    let app = ProjectApp::spawn().await;
    let alice = app.user("alice@example.com").await;
    let bob = app.user("bob@example.com").await;
    let project = app.create_project(&alice, "web", "Web").await;
    let id = id_of(&project);
    app.add_member(&alice, "web", &bob, Role::Member).await;

    app.delete(&alice, "/v1/projects/web").await.expect(204);

    for user in [&alice, &bob] {
        for path in [
            format!("/v1/projects/{id}"),
            "/v1/projects/web".to_owned(),
            "/v1/projects/web/members".to_owned(),
            format!("/v1/projects/web/members/{}", user.id),
        ] {
            app.get(user, &path)
                .await
                .expect_problem(404, "project.not_found");
        }
        app.post(user, "/v1/projects/web/restore", json!({}))
            .await
            .expect_problem(404, "project.not_found");
        let listed = app.get(user, "/v1/projects").await.expect(200);
        assert_eq!(listed["items"], json!([]));
        app.access(user, &id)
            .await
            .expect_problem(404, "access.not_found");
    }
    let admin = app.platform_admin("root@example.com").await;
    app.put(&admin, "/v1/projects/web/plan", json!({ "plan": "team" }))
        .await
        .expect_problem(404, "project.not_found");
}

#[tokio::test]
async fn only_platform_admins_change_plans_and_the_limits_follow() {
    let app = ProjectApp::spawn().await;
    let alice = app.user("alice@example.com").await;
    let outsider = app.user("eve@example.com").await;
    let admin = app.platform_admin("root@example.com").await;
    app.create_project(&alice, "web", "Web").await;

    app.put(&alice, "/v1/projects/web/plan", json!({ "plan": "team" }))
        .await
        .expect_problem(403, "auth.platform_admin_required");
    app.put(
        &outsider,
        "/v1/projects/web/plan",
        json!({ "plan": "team" }),
    )
    .await
    .expect_problem(404, "project.not_found");
    app.put(
        &admin,
        "/v1/projects/web/plan",
        json!({ "plan": "platinum" }),
    )
    .await
    .expect_problem(422, "request.invalid_body");

    let changed = app
        .put(&admin, "/v1/projects/web/plan", json!({ "plan": "team" }))
        .await
        .expect(200);
    assert_eq!(changed["plan"], "team");
    assert_eq!(changed["limits"]["retention_days"], 90);
    assert!(changed.get("role").is_none(), "the admin is not a member");

    let read = app.get(&alice, "/v1/projects/web").await.expect(200);
    assert_eq!(read["plan"], "team");
    assert_eq!(read["limits"], changed["limits"]);
    // A platform admin does not reach project data without a membership.
    app.get(&admin, "/v1/projects/web")
        .await
        .expect_problem(404, "project.not_found");
}

#[tokio::test]
async fn a_role_claimed_in_the_context_is_not_trusted() {
    let app = ProjectApp::spawn().await;
    let alice = app.user("alice@example.com").await;
    let victor = app.user("victor@example.com").await;
    let outsider = app.user("eve@example.com").await;
    let project = app.create_project(&alice, "web", "Web").await;
    let id = Uuid::parse_str(&id_of(&project)).unwrap();
    app.add_member(&alice, "web", &victor, Role::Viewer).await;

    let as_owner = victor.claiming(id, Role::Owner);
    app.project
        .patch("/v1/projects/web", &as_owner, json!({ "name": "Mine" }))
        .await
        .expect_problem(403, "project.role_too_low");
    app.project
        .delete("/v1/projects/web", &as_owner)
        .await
        .expect_problem(403, "project.role_too_low");
    let outsider_as_owner = outsider.claiming(id, Role::Owner);
    app.project
        .get("/v1/projects/web", &outsider_as_owner)
        .await
        .expect_problem(404, "project.not_found");
}

#[tokio::test]
async fn a_context_for_another_project_than_the_path_is_refused() {
    let app = ProjectApp::spawn().await;
    let alice = app.user("alice@example.com").await;
    app.create_project(&alice, "web", "Web").await;
    let other = app.create_project(&alice, "api", "API").await;
    let other_id = Uuid::parse_str(&id_of(&other)).unwrap();

    app.project
        .get("/v1/projects/web", &alice.claiming(other_id, Role::Owner))
        .await
        .expect_problem(400, "project.context_mismatch");
}

#[tokio::test]
async fn a_non_member_gets_exactly_the_answer_for_a_project_that_does_not_exist() {
    let app = ProjectApp::spawn().await;
    let alice = app.user("alice@example.com").await;
    let eve = app.user("eve@example.com").await;
    let project = app.create_project(&alice, "web", "Web").await;
    let id = id_of(&project);

    for (existing, missing) in [
        (
            format!("/v1/projects/{id}"),
            format!("/v1/projects/{}", Uuid::now_v7()),
        ),
        (
            "/v1/projects/web".to_owned(),
            "/v1/projects/nothing-here".to_owned(),
        ),
        (
            "/v1/projects/web/members".to_owned(),
            "/v1/projects/nothing-here/members".to_owned(),
        ),
    ] {
        let hidden = app.get(&eve, &existing).await;
        let absent = app.get(&eve, &missing).await;
        assert_eq!(hidden.status, 404);
        assert_eq!(
            without_request_id(hidden.body),
            without_request_id(absent.body),
            "{existing} vs {missing}"
        );
    }
}

#[tokio::test]
async fn api_keys_services_and_callers_without_a_token_cannot_use_project_endpoints() {
    let app = ProjectApp::spawn().await;
    let alice = app.user("alice@example.com").await;
    app.create_project(&alice, "web", "Web").await;

    let api_key = TenantContext::new(
        Principal {
            id: Uuid::now_v7(),
            kind: PrincipalKind::ApiKey,
        },
        None,
        contexts::REQUEST_ID,
    );
    app.project
        .get("/v1/projects/web", &api_key)
        .await
        .expect_problem(403, "auth.user_required");
    app.project
        .get("/v1/projects", &api_key)
        .await
        .expect_problem(403, "auth.user_required");

    let anonymous = Reply::from_request(app.project.request(Method::GET, "/v1/projects")).await;
    assert_eq!(anonymous.status, 401);
}
