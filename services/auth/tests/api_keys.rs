//! API keys for CI agents: created by project admins, shown once,
//! introspected by the gateway.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers fail the test at the first broken expectation"
)]

mod common;

use chrono::{Duration, Utc};
use common::problem_code;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tenant_core::Role;
use uuid::Uuid;

fn key_body(role: &str, days: i64) -> Value {
    json!({ "name": "ci", "role": role, "expires_at": Utc::now() + Duration::days(days) })
}

#[tokio::test]
async fn a_project_admin_creates_lists_and_revokes_keys_and_the_gateway_introspects_them() {
    let auth = common::spawn(&[]).await;
    auth.sign_up("owner@example.com").await;
    let owner = auth.log_in("owner@example.com").await;
    let project = Uuid::now_v7();
    let admin = owner.in_project(project, Role::Admin);
    let path = format!("/v1/projects/{project}/api-keys");

    let created = auth
        .call(Method::POST, &path, &admin, Some(key_body("member", 30)))
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let created: Value = created.json().await.unwrap();
    let key = created["key"].as_str().unwrap().to_owned();
    assert!(key.starts_with("flt_") && key.len() == 42, "{key}");
    assert_eq!(created["display_prefix"], &key[..8]);
    assert_eq!(created["last_four"], &key[key.len() - 4..]);

    let listed: Value = auth
        .call(Method::GET, &path, &admin, None)
        .await
        .json()
        .await
        .unwrap();
    let listed_text = listed.to_string();
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    assert!(!listed_text.contains(&key), "the key is shown only once");
    assert!(listed["items"][0].get("key_hash").is_none());

    let introspected = auth
        .call(
            Method::POST,
            "/internal/v1/api-keys/introspect",
            &common::service_context(),
            Some(json!({ "key": key })),
        )
        .await;
    assert_eq!(introspected.status(), StatusCode::OK);
    let introspected: Value = introspected.json().await.unwrap();
    assert_eq!(introspected["project_id"], project.to_string());
    assert_eq!(introspected["role"], "member");
    assert_eq!(introspected["principal_id"], created["id"]);
    let last_used: Option<chrono::DateTime<Utc>> = auth
        .database
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
    let other_list: Value = auth
        .call(Method::GET, &other_path, &other, None)
        .await
        .json()
        .await
        .unwrap();
    assert!(other_list["items"].as_array().unwrap().is_empty());
    let key_id = created["id"].as_str().unwrap();
    let wrong_revoke = auth
        .call(
            Method::DELETE,
            &format!("{other_path}/{key_id}"),
            &other,
            None,
        )
        .await;
    assert_eq!(wrong_revoke.status(), StatusCode::NOT_FOUND);

    let revoked = auth
        .call(Method::DELETE, &format!("{path}/{key_id}"), &admin, None)
        .await;
    assert_eq!(revoked.status(), StatusCode::NO_CONTENT);
    let after = auth
        .call(
            Method::POST,
            "/internal/v1/api-keys/introspect",
            &common::service_context(),
            Some(json!({ "key": key })),
        )
        .await;
    assert_eq!(
        problem_code(after).await,
        (StatusCode::UNAUTHORIZED, "api_key.invalid".to_owned())
    );
    assert_eq!(auth.audit_events("api_key_created").await.len(), 1);
    assert_eq!(auth.audit_events("api_key_revoked").await.len(), 1);
}

#[tokio::test]
async fn junk_is_refused_without_a_database_lookup_and_expired_keys_are_refused() {
    let auth = common::spawn(&[]).await;
    auth.sign_up("ci@example.com").await;
    let owner = auth.log_in("ci@example.com").await;
    let project = Uuid::now_v7();
    let admin = owner.in_project(project, Role::Owner);
    let created: Value = auth
        .call(
            Method::POST,
            &format!("/v1/projects/{project}/api-keys"),
            &admin,
            Some(key_body("viewer", 1)),
        )
        .await
        .json()
        .await
        .unwrap();
    let key = created["key"].as_str().unwrap().to_owned();

    let lookups = auth.metric("auth_api_key_lookups_total").await;
    let mut tampered = key.clone().into_bytes();
    tampered[10] = if tampered[10] == b'A' { b'B' } else { b'A' };
    for junk in [
        String::from_utf8(tampered).unwrap(),
        "flt_short".to_owned(),
        "ghp_0123456789".to_owned(),
    ] {
        let response = auth
            .call(
                Method::POST,
                "/internal/v1/api-keys/introspect",
                &common::service_context(),
                Some(json!({ "key": junk })),
            )
            .await;
        assert_eq!(problem_code(response).await.1, "api_key.invalid");
    }
    assert_eq!(
        auth.metric("auth_api_key_lookups_total").await,
        lookups,
        "bad checksums never reach the database"
    );

    auth.database
        .admin_client()
        .await
        .execute(
            "UPDATE auth.api_keys SET expires_at = now() - interval '1 second'",
            &[],
        )
        .await
        .unwrap();
    let expired = auth
        .call(
            Method::POST,
            "/internal/v1/api-keys/introspect",
            &common::service_context(),
            Some(json!({ "key": key })),
        )
        .await;
    assert_eq!(problem_code(expired).await.1, "api_key.invalid");
    assert_eq!(
        auth.metric("auth_api_key_lookups_total").await,
        lookups + 1.0
    );
}

#[tokio::test]
async fn key_roles_stop_at_member_expiry_is_bounded_and_only_admins_manage_keys() {
    let auth = common::spawn(&[]).await;
    auth.sign_up("roles@example.com").await;
    let user = auth.log_in("roles@example.com").await;
    let project = Uuid::now_v7();
    let path = format!("/v1/projects/{project}/api-keys");
    let admin = user.in_project(project, Role::Admin);

    for role in ["admin", "owner"] {
        let response = auth
            .call(Method::POST, &path, &admin, Some(key_body(role, 30)))
            .await;
        assert_eq!(
            problem_code(response).await,
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                "api_key.role_too_high".to_owned()
            )
        );
    }
    for days in [-1, 400] {
        let response = auth
            .call(Method::POST, &path, &admin, Some(key_body("viewer", days)))
            .await;
        assert_eq!(
            problem_code(response).await.1,
            "api_key.invalid_expiry",
            "{days} days"
        );
    }
    let missing_expiry = auth
        .call(
            Method::POST,
            &path,
            &admin,
            Some(json!({ "name": "ci", "role": "viewer" })),
        )
        .await;
    assert_eq!(missing_expiry.status(), StatusCode::UNPROCESSABLE_ENTITY);

    for role in [Role::Viewer, Role::Member] {
        let response = auth
            .call(
                Method::POST,
                &path,
                &user.in_project(project, role),
                Some(key_body("viewer", 30)),
            )
            .await;
        assert_eq!(
            problem_code(response).await,
            (StatusCode::FORBIDDEN, "context.role_too_low".to_owned())
        );
        let listing = auth
            .call(Method::GET, &path, &user.in_project(project, role), None)
            .await;
        assert_eq!(listing.status(), StatusCode::FORBIDDEN);
    }
    let introspect_as_user = auth
        .call(
            Method::POST,
            "/internal/v1/api-keys/introspect",
            &user.context(),
            Some(json!({ "key": "flt_x" })),
        )
        .await;
    assert_eq!(introspect_as_user.status(), StatusCode::FORBIDDEN);
}

async fn report_member(
    auth: &common::TestAuth,
    project: Uuid,
    user: Uuid,
    role: Option<&str>,
    as_of_seq: i64,
) -> Value {
    let response = auth
        .call(
            Method::POST,
            "/internal/v1/api-keys/member-access",
            &common::service_context(),
            Some(json!({ "members": [
                { "project_id": project, "user_id": user, "role": role, "as_of_seq": as_of_seq }
            ] })),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

async fn key_is_live(auth: &common::TestAuth, key: &str) -> bool {
    auth.call(
        Method::POST,
        "/internal/v1/api-keys/introspect",
        &common::service_context(),
        Some(json!({ "key": key })),
    )
    .await
    .status()
        == StatusCode::OK
}

/// The project service reports members whose role changed: a member below
/// admin loses the keys they created in that project (and no one else's),
/// and cannot create new ones even with a context minted before the
/// demotion; a report older than one already applied changes nothing.
#[tokio::test]
async fn keys_of_a_member_reported_below_admin_are_revoked_and_new_ones_refused() {
    let auth = common::spawn(&[]).await;
    auth.sign_up("admin@example.com").await;
    auth.sign_up("owner@example.com").await;
    let admin = auth.log_in("admin@example.com").await;
    let owner = auth.log_in("owner@example.com").await;
    let project = Uuid::now_v7();
    let path = format!("/v1/projects/{project}/api-keys");
    let create = |session: &common::Session| {
        let ctx = session.in_project(project, Role::Admin);
        let path = path.clone();
        let auth = &auth;
        async move {
            auth.call(Method::POST, &path, &ctx, Some(key_body("member", 30)))
                .await
        }
    };
    let admins_key: Value = create(&admin).await.json().await.unwrap();
    let owners_key: Value = create(&owner).await.json().await.unwrap();
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
    assert_eq!(
        problem_code(create(&admin).await).await,
        (
            StatusCode::FORBIDDEN,
            "api_key.creator_role_too_low".to_owned()
        )
    );

    // Promoted again: keys may be created again, and a late repeat of the
    // older report revokes nothing.
    report_member(&auth, project, admin.user_id, Some("admin"), 9).await;
    let again = create(&admin).await;
    assert_eq!(again.status(), StatusCode::CREATED);
    let again: Value = again.json().await.unwrap();
    let applied = report_member(&auth, project, admin.user_id, Some("member"), 7).await;
    assert_eq!(applied["api_keys_revoked"], 0);
    assert!(key_is_live(&auth, again["key"].as_str().unwrap()).await);

    // Removed from the project.
    let applied = report_member(&auth, project, owner.user_id, None, 10).await;
    assert_eq!(applied["api_keys_revoked"], 1);
    assert!(!key_is_live(&auth, owners_key).await);
}
