//! API keys for CI agents: created by project admins, shown once,
//! introspected by the gateway.

use chrono::{Duration, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tenant_core::Role;
use test_support::{TestApp, contexts};
use uuid::Uuid;

use crate::helpers::{AuthApp, Session, spawn};

fn key_body(role: &str, days: i64) -> Value {
    json!({ "name": "ci", "role": role, "expires_at": Utc::now() + Duration::days(days) })
}

#[tokio::test]
async fn a_project_admin_creates_lists_and_revokes_keys_and_the_gateway_introspects_them() {
    let auth = spawn(&[]).await;
    auth.sign_up("owner@example.com").await;
    let owner = auth.log_in("owner@example.com").await;
    let project = Uuid::now_v7();
    let admin = owner.in_project(project, Role::Admin);
    let path = format!("/v1/projects/{project}/api-keys");

    let reply = auth.post(&path, &admin, key_body("member", 30)).await;
    let location = reply.header("location").map(str::to_owned);
    let created = reply.expect(201);
    // Relative to the collection, so it holds behind the gateway too.
    assert_eq!(
        location.as_deref(),
        Some(format!("api-keys/{}", created["id"].as_str().unwrap()).as_str())
    );
    let key = created["key"].as_str().unwrap().to_owned();
    assert!(key.starts_with("flt_") && key.len() == 42, "{key}");
    assert_eq!(created["display_prefix"], &key[..8]);
    assert_eq!(created["last_four"], &key[key.len() - 4..]);

    let listed = auth.get(&path, &admin).await;
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 1);
    assert!(!listed.text.contains(&key), "the key is shown only once");
    assert!(listed.body["items"][0].get("key_hash").is_none());

    let introspected = auth.introspect(&key).await.expect(200);
    assert_eq!(introspected["project_id"], project.to_string());
    assert_eq!(introspected["role"], "member");
    assert_eq!(introspected["principal_id"], created["id"]);
    let last_used: Option<chrono::DateTime<Utc>> = auth
        .database()
        .admin_client()
        .await
        .query_one("SELECT last_used_at FROM auth.api_keys", &[])
        .await
        .unwrap()
        .get(0);
    assert!(last_used.is_some());

    // Another project's admin does not see or revoke it.
    let other = owner.in_project(Uuid::now_v7(), Role::Owner);
    let other_path = format!(
        "/v1/projects/{}/api-keys",
        other.project().unwrap().project_id
    );
    let other_list = auth.get(&other_path, &other).await.expect(200);
    assert!(other_list["items"].as_array().unwrap().is_empty());
    let key_id = created["id"].as_str().unwrap();
    let wrong_revoke = auth.delete(&format!("{other_path}/{key_id}"), &other).await;
    assert_eq!(wrong_revoke.status, StatusCode::NOT_FOUND);

    let revoked = auth.delete(&format!("{path}/{key_id}"), &admin).await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT);
    auth.introspect(&key)
        .await
        .expect_problem(401, "api_key.invalid");
    assert_eq!(auth.audit_events("api_key_created").await.len(), 1);
    assert_eq!(auth.audit_events("api_key_revoked").await.len(), 1);
}

#[tokio::test]
async fn junk_is_refused_without_a_database_lookup_and_expired_keys_are_refused() {
    let auth = spawn(&[]).await;
    auth.sign_up("ci@example.com").await;
    let owner = auth.log_in("ci@example.com").await;
    let project = Uuid::now_v7();
    let admin = owner.in_project(project, Role::Owner);
    let created = auth
        .post(
            &format!("/v1/projects/{project}/api-keys"),
            &admin,
            key_body("viewer", 1),
        )
        .await
        .expect(201);
    let key = created["key"].as_str().unwrap().to_owned();

    let lookups = auth.metric("auth_api_key_lookups_total").await;
    let mut tampered = key.clone().into_bytes();
    tampered[10] = if tampered[10] == b'A' { b'B' } else { b'A' };
    for junk in [
        String::from_utf8(tampered).unwrap(),
        "flt_short".to_owned(),
        "ghp_0123456789".to_owned(),
    ] {
        assert_eq!(auth.introspect(&junk).await.code(), "api_key.invalid");
    }
    assert_eq!(
        auth.metric("auth_api_key_lookups_total").await,
        lookups,
        "bad checksums never reach the database"
    );

    auth.run_sql("UPDATE auth.api_keys SET expires_at = now() - interval '1 second'")
        .await;
    assert_eq!(auth.introspect(&key).await.code(), "api_key.invalid");
    assert_eq!(
        auth.metric("auth_api_key_lookups_total").await,
        lookups + 1.0
    );
}

#[tokio::test]
async fn key_roles_stop_at_member_expiry_is_bounded_and_only_admins_manage_keys() {
    let auth = spawn(&[]).await;
    auth.sign_up("roles@example.com").await;
    let user = auth.log_in("roles@example.com").await;
    let project = Uuid::now_v7();
    let path = format!("/v1/projects/{project}/api-keys");
    let admin = user.in_project(project, Role::Admin);

    for role in ["admin", "owner"] {
        auth.post(&path, &admin, key_body(role, 30))
            .await
            .expect_problem(422, "api_key.role_too_high");
    }
    for days in [-1, 400] {
        let reply = auth.post(&path, &admin, key_body("viewer", days)).await;
        assert_eq!(reply.code(), "api_key.invalid_expiry", "{days} days");
    }
    let missing_expiry = auth
        .post(&path, &admin, json!({ "name": "ci", "role": "viewer" }))
        .await;
    assert_eq!(missing_expiry.status, StatusCode::UNPROCESSABLE_ENTITY);

    for role in [Role::Viewer, Role::Member] {
        let ctx = user.in_project(project, role);
        auth.post(&path, &ctx, key_body("viewer", 30))
            .await
            .expect_problem(403, "context.role_too_low");
        assert_eq!(auth.get(&path, &ctx).await.status, StatusCode::FORBIDDEN);
    }
    let introspect_as_user = auth
        .post(
            "/internal/v1/api-keys/introspect",
            &user.context(),
            json!({ "key": "flt_x" }),
        )
        .await;
    assert_eq!(introspect_as_user.status, StatusCode::FORBIDDEN);
}

async fn report_member(
    auth: &TestApp,
    project: Uuid,
    user: Uuid,
    role: Option<&str>,
    as_of_seq: i64,
) -> Value {
    auth.post(
        "/internal/v1/api-keys/member-access",
        &contexts::service(),
        json!({ "members": [
            { "project_id": project, "user_id": user, "role": role, "as_of_seq": as_of_seq }
        ] }),
    )
    .await
    .expect(200)
}

async fn key_is_live(auth: &TestApp, key: &str) -> bool {
    auth.introspect(key).await.status == StatusCode::OK
}

/// The project service reports members whose role changed: a member below
/// admin loses the keys they created in that project (and no one else's),
/// and cannot create new ones even with a context minted before the
/// demotion; a report older than one already applied changes nothing.
#[tokio::test]
async fn keys_of_a_member_reported_below_admin_are_revoked_and_new_ones_refused() {
    let auth = spawn(&[]).await;
    auth.sign_up("admin@example.com").await;
    auth.sign_up("owner@example.com").await;
    let admin = auth.log_in("admin@example.com").await;
    let owner = auth.log_in("owner@example.com").await;
    let project = Uuid::now_v7();
    let path = format!("/v1/projects/{project}/api-keys");
    let create = |session: &Session| {
        let ctx = session.in_project(project, Role::Admin);
        let (auth, path) = (&auth, &path);
        async move { auth.post(path, &ctx, key_body("member", 30)).await }
    };
    let admins_key = create(&admin).await.expect(201);
    let owners_key = create(&owner).await.expect(201);
    let admins_key = admins_key["key"].as_str().unwrap();
    let owners_key = owners_key["key"].as_str().unwrap();

    let applied = report_member(&auth, project, admin.user_id, Some("member"), 7).await;
    assert_eq!(applied["api_keys_revoked"], 1);
    assert!(
        !key_is_live(&auth, admins_key).await,
        "the demoted admin's key is revoked"
    );
    assert!(
        key_is_live(&auth, owners_key).await,
        "other creators' keys stay"
    );
    // The gateway's view of the role may lag: the report wins.
    create(&admin)
        .await
        .expect_problem(403, "api_key.creator_role_too_low");

    // Promoted again: keys may be created again, and a late repeat of the
    // older report revokes nothing.
    report_member(&auth, project, admin.user_id, Some("admin"), 9).await;
    let again = create(&admin).await.expect(201);
    let applied = report_member(&auth, project, admin.user_id, Some("member"), 7).await;
    assert_eq!(applied["api_keys_revoked"], 0);
    assert!(key_is_live(&auth, again["key"].as_str().unwrap()).await);

    // Removed from the project.
    let applied = report_member(&auth, project, owner.user_id, None, 10).await;
    assert_eq!(applied["api_keys_revoked"], 1);
    assert!(!key_is_live(&auth, owners_key).await);
}
