//! Sign-up, sign-in, the signed-in user, and ending sessions.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use test_support::{Reply, TestApp, contexts};

use crate::helpers::{AuthApp, PASSWORD, Session, auth_command, spawn};

#[tokio::test]
async fn a_user_signs_up_logs_in_and_reads_their_profile() {
    let auth = spawn(&[]).await;
    let user = auth.sign_up("  Ada@Example.com ").await;
    assert_eq!(user["email"], "ada@example.com");
    assert_eq!(user["platform_role"], "user");
    assert!(user.get("password_hash").is_none());

    let session = auth.log_in("ada@example.com").await;
    assert_eq!(session.user_id.to_string(), user["id"]);
    let claims = auth.verify(&session.access_token).await.unwrap();
    assert_eq!(claims.exp - claims.iat, 600);
    assert!(session.refresh_token.starts_with("flr_"));

    let me = auth.get("/v1/me", &session.context()).await.expect(200);
    assert_eq!(me["email"], "ada@example.com");

    let project = uuid::Uuid::now_v7();
    let updated = auth
        .patch(
            "/v1/me",
            &session.context(),
            json!({ "display_name": "Ada L.", "default_project": project }),
        )
        .await
        .expect(200);
    assert_eq!(updated["display_name"], "Ada L.");
    assert_eq!(updated["default_project"], project.to_string());

    // The next token carries the chosen default project.
    let refreshed = auth.refresh(&session.refresh_token).await.expect(200);
    let claims = auth
        .verify(refreshed["access_token"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(claims.default_project, Some(project));
}

#[tokio::test]
async fn sign_up_refuses_bad_input_common_passwords_and_taken_emails() {
    let auth = spawn(&[]).await;
    auth.sign_up("grace@example.com").await;
    let cases = [
        (
            json!({ "email": "not-an-email", "password": PASSWORD, "display_name": "G" }),
            422,
            "auth.invalid_input",
        ),
        (
            json!({ "email": "g2@example.com", "password": "short", "display_name": "G" }),
            422,
            "auth.invalid_input",
        ),
        (
            json!({ "email": "g2@example.com", "password": "password1234", "display_name": "G" }),
            422,
            "auth.invalid_input",
        ),
        (
            json!({ "email": "g2@example.com", "password": PASSWORD, "display_name": "  " }),
            422,
            "auth.invalid_input",
        ),
        (
            json!({ "email": "GRACE@example.com", "password": PASSWORD, "display_name": "G" }),
            409,
            "auth.email_taken",
        ),
    ];
    for (body, status, code) in cases {
        let reply = auth
            .post("/v1/auth/signup", &contexts::anonymous(), body.clone())
            .await;
        assert_eq!(
            (reply.status.as_u16(), reply.code()),
            (status, code),
            "{body}"
        );
    }
    // An address is refused as the `email` field, as it always was.
    let refused = auth
        .post(
            "/v1/auth/signup",
            &contexts::anonymous(),
            json!({ "email": "not-an-email", "password": PASSWORD, "display_name": "G" }),
        )
        .await
        .expect(422);
    assert_eq!(refused["detail"], "email is not a valid email address");
    assert_eq!(
        refused["errors"],
        json!([{ "field": "email", "message": "is not a valid email address" }])
    );
}

#[tokio::test]
async fn logging_out_ends_this_session_only_and_everywhere_ends_all() {
    let auth = spawn(&[]).await;
    auth.sign_up("linus@example.com").await;
    let laptop = auth.log_in("linus@example.com").await;
    let phone = auth.log_in("linus@example.com").await;
    let tablet = auth.log_in("linus@example.com").await;

    let reply = auth
        .call(Method::POST, "/v1/auth/logout", &laptop.context(), None)
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    assert_eq!(
        auth.get("/v1/me", &laptop.context()).await.code(),
        "auth.session_ended"
    );
    assert_eq!(
        auth.refresh(&laptop.refresh_token).await.code(),
        "auth.invalid_grant"
    );
    assert_eq!(
        auth.get("/v1/me", &phone.context()).await.status,
        StatusCode::OK
    );

    let body = auth
        .call(Method::POST, "/v1/auth/logout-all", &phone.context(), None)
        .await
        .body;
    assert_eq!(body["sessions_revoked"], 2);
    for session in [&phone, &tablet] {
        assert_eq!(
            auth.refresh(&session.refresh_token).await.code(),
            "auth.invalid_grant"
        );
    }

    // The gateway learns about all three through the revocation feed.
    let feed = revocations(&auth, "").await;
    let revoked: Vec<&str> = feed["revocations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["kind"] == "session")
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    for session in [&laptop, &phone, &tablet] {
        assert!(revoked.contains(&session.session_id.to_string().as_str()));
    }
    // ... which only services may read.
    let denied = auth
        .get("/internal/v1/revocations", &laptop.context())
        .await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn changing_the_password_ends_every_other_session_and_needs_the_current_one() {
    let auth = spawn(&[]).await;
    auth.sign_up("ken@example.com").await;
    let here = auth.log_in("ken@example.com").await;
    let elsewhere = auth.log_in("ken@example.com").await;

    let wrong = auth
        .post(
            "/v1/me/password",
            &here.context(),
            json!({ "current_password": "not the password at all", "new_password": "a brand new passphrase" }),
        )
        .await;
    assert_eq!(wrong.code(), "auth.invalid_credentials");

    let changed = auth
        .post(
            "/v1/me/password",
            &here.context(),
            json!({ "current_password": PASSWORD, "new_password": "a brand new passphrase" }),
        )
        .await;
    assert_eq!(changed.status, StatusCode::NO_CONTENT);
    assert_eq!(
        auth.get("/v1/me", &here.context()).await.status,
        StatusCode::OK
    );
    assert_eq!(
        auth.get("/v1/me", &elsewhere.context()).await.code(),
        "auth.session_ended"
    );
    assert_eq!(
        auth.log_in_as("ken@example.com", PASSWORD).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        auth.log_in_as("ken@example.com", "a brand new passphrase")
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(auth.audit_events("password_changed").await.len(), 1);
}

#[tokio::test]
async fn admins_list_and_disable_users_and_a_disabled_users_sessions_stop_working() {
    let auth = spawn(&[]).await;
    auth.sign_up("admin@example.com").await;
    auth.run_sql("UPDATE auth.users SET platform_role = 'admin' WHERE email = 'admin@example.com'")
        .await;
    let admin = auth.log_in("admin@example.com").await;
    assert!(admin.platform_admin, "the token says user_role admin");
    let target = auth.sign_up("mallory@example.com").await;
    let mallory = auth.log_in("mallory@example.com").await;

    let listed = auth
        .get("/v1/admin/users?limit=1", &admin.context())
        .await
        .expect(200);
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    let cursor = listed["next_cursor"].as_str().unwrap();
    let rest = auth
        .get(
            &format!("/v1/admin/users?cursor={cursor}"),
            &admin.context(),
        )
        .await
        .expect(200);
    assert_eq!(rest["items"][0]["email"], "mallory@example.com");

    auth.get("/v1/admin/users", &mallory.context())
        .await
        .expect_problem(403, "auth.platform_admin_required");

    let path = format!("/v1/admin/users/{}/disable", target["id"].as_str().unwrap());
    assert_eq!(
        auth.call(Method::POST, &path, &admin.context(), None)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        auth.get("/v1/me", &mallory.context()).await.code(),
        "auth.session_ended"
    );
    assert_eq!(
        auth.refresh(&mallory.refresh_token).await.code(),
        "auth.invalid_grant"
    );
    assert_eq!(
        auth.log_in_as("mallory@example.com", PASSWORD).await.code(),
        "auth.invalid_credentials"
    );
    assert_eq!(auth.audit_events("user_disabled").await.len(), 1);
}

#[tokio::test]
async fn calls_without_a_context_token_are_refused() {
    let auth = spawn(&[]).await;
    let reply = Reply::from_request(
        auth.request(Method::POST, "/v1/auth/login")
            .json(&json!({ "email": "x@example.com", "password": PASSWORD })),
    )
    .await;
    reply.expect_problem(401, "context.missing_token");
}

#[tokio::test]
async fn create_admin_makes_a_platform_admin_whose_token_says_so() {
    let auth = spawn(&[]).await;
    let output = auth_command(
        auth.database(),
        &[
            "create-admin",
            "--email",
            "root@example.com",
            "--display-name",
            "Root",
        ],
        &[("FAULTLINE_ADMIN_PASSWORD", PASSWORD)],
    );
    let logs = String::from_utf8_lossy(&output.stdout);
    assert!(!logs.contains(PASSWORD), "the password must not be logged");

    let admin = auth.log_in("root@example.com").await;
    let claims = auth.verify(&admin.access_token).await.unwrap();
    assert_eq!(claims.user_role, "admin");
    let listed = auth.get("/v1/admin/users", &admin.context()).await;
    assert_eq!(listed.status, StatusCode::OK);
}

#[tokio::test]
async fn services_look_users_up_by_email_and_nobody_else_may() {
    let auth = spawn(&[]).await;
    let user = auth.sign_up("Member@Example.com").await;
    let found = auth
        .get(
            "/internal/v1/users?email=member@EXAMPLE.com",
            &contexts::service(),
        )
        .await
        .expect(200);
    assert_eq!(found["id"], user["id"]);
    assert_eq!(found["disabled"], false);
    assert!(found.get("password_hash").is_none());

    auth.get(
        "/internal/v1/users?email=nobody@example.com",
        &contexts::service(),
    )
    .await
    .expect_problem(404, "user.not_found");

    let session = auth.log_in("member@example.com").await;
    let as_user = auth
        .get(
            "/internal/v1/users?email=member@example.com",
            &session.context(),
        )
        .await;
    assert_eq!(as_user.status, StatusCode::FORBIDDEN);
}

async fn revocations(auth: &TestApp, query: &str) -> Value {
    auth.get(
        &format!("/internal/v1/revocations{query}"),
        &contexts::service(),
    )
    .await
    .expect(200)
}

fn seqs(page: &Value) -> Vec<i64> {
    page["revocations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["seq"].as_i64().unwrap())
        .collect()
}

/// The feed pages in sequence order; a poller ahead of it (a restored
/// database) or behind what was pruned is told to reset and starts again
/// from the revocations that may still have live tokens; and a gateway
/// whose feed is stale can ask about one session.
#[tokio::test]
async fn the_revocation_feed_pages_prunes_and_resets_and_a_sessions_status_can_be_asked() {
    let auth = spawn(&[]).await;
    auth.sign_up("feed@example.com").await;
    let sessions = [
        auth.log_in("feed@example.com").await,
        auth.log_in("feed@example.com").await,
        auth.log_in("feed@example.com").await,
    ];
    let status = |session: &Session| {
        let path = format!(
            "/internal/v1/sessions/{}?user={}",
            session.session_id, session.user_id
        );
        let auth = &auth;
        async move {
            let body = auth.get(&path, &contexts::service()).await.expect(200);
            body["live"].as_bool().unwrap()
        }
    };
    assert!(status(&sessions[0]).await);
    auth.call(
        Method::POST,
        "/v1/auth/logout-all",
        &sessions[0].context(),
        None,
    )
    .await
    .expect(200);
    assert!(!status(&sessions[0]).await);

    let first = revocations(&auth, "?limit=2").await;
    assert_eq!(first["has_more"], true);
    assert_eq!(first["reset"], false);
    let first_seqs = seqs(&first);
    assert_eq!(first_seqs.len(), 2);
    let rest = revocations(&auth, &format!("?after={}", first_seqs[1])).await;
    assert_eq!(rest["has_more"], false);
    let rest_seqs = seqs(&rest);
    assert_eq!(rest_seqs.len(), 1);
    assert!(first_seqs[0] < first_seqs[1] && first_seqs[1] < rest_seqs[0]);
    assert_eq!(rest["latest"].as_i64(), Some(rest_seqs[0]));

    let ahead = revocations(&auth, "?after=1000000").await;
    assert_eq!(ahead["reset"], true);
    assert_eq!(seqs(&ahead).len(), 3, "a reset starts over from the window");

    // Revocations older than twice the token lifetime are pruned, and a
    // poller behind them is told to reset (and gets nothing older).
    auth.run_sql("UPDATE auth.revocations SET recorded_at = now() - interval '1 day'")
        .await;
    revocations(&auth, "").await;
    let behind = revocations(&auth, "?after=0").await;
    assert_eq!(behind["reset"], true);
    assert_eq!(seqs(&behind), Vec::<i64>::new());
    assert_eq!(auth.count_rows("auth.revocations").await, 0);
}
