//! Refresh-token rotation with reuse detection.

use serde_json::Value;

use crate::helpers::{AuthApp, spawn};

#[tokio::test]
async fn replaying_a_rotated_token_revokes_the_family_and_the_session() {
    let auth = spawn(&[("service.refresh_grace_secs", "0".to_owned())]).await;
    auth.sign_up("eve@example.com").await;
    let first = auth.log_in("eve@example.com").await;

    let second = auth.refresh(&first.refresh_token).await.expect(200);
    let second_token = second["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(second_token, first.refresh_token);
    let third = auth.refresh(&second_token).await.expect(200);
    let newest = third["refresh_token"].as_str().unwrap().to_owned();

    // Replaying the first token is theft or a bug: everything dies.
    auth.refresh(&first.refresh_token)
        .await
        .expect_problem(400, "auth.invalid_grant");
    assert_eq!(
        auth.refresh(&newest).await.code(),
        "auth.invalid_grant",
        "the newest token died with its family"
    );
    let me = auth.get("/v1/me", &first.context()).await;
    assert_eq!(me.code(), "auth.session_ended");

    let events = auth.audit_events("refresh_reuse_detected").await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["session_id"], first.session_id.to_string());
}

#[tokio::test]
async fn a_concurrent_refresh_with_the_predecessor_inside_the_grace_window_does_not_revoke() {
    let auth = spawn(&[("service.refresh_grace_secs", "30".to_owned())]).await;
    auth.sign_up("tabs@example.com").await;
    let session = auth.log_in("tabs@example.com").await;

    let (a, b) = tokio::join!(
        auth.refresh(&session.refresh_token),
        auth.refresh(&session.refresh_token)
    );
    let (a, b) = (a.expect(200), b.expect(200));
    assert_eq!(
        a["refresh_token"], b["refresh_token"],
        "both tabs continue with the same current token"
    );

    // The family lives on: the current token rotates normally.
    auth.refresh(a["refresh_token"].as_str().unwrap())
        .await
        .expect(200);
    assert!(auth.audit_events("refresh_reuse_detected").await.is_empty());
}

#[tokio::test]
async fn unknown_expired_and_malformed_refresh_tokens_get_the_same_problem() {
    let auth = spawn(&[]).await;
    auth.sign_up("old@example.com").await;
    let session = auth.log_in("old@example.com").await;
    auth.run_sql("UPDATE auth.refresh_tokens SET idle_expires_at = now() - interval '1 second'")
        .await;

    let mut answers = Vec::new();
    for token in [
        session.refresh_token.as_str(),
        "flr_unknownunknownunknownunknownunknownunknow",
        "garbage",
    ] {
        let reply = auth.refresh(token).await;
        let mut body: Value = reply.body;
        body.as_object_mut().unwrap().remove("request_id");
        answers.push((reply.status, body));
    }
    assert_eq!(answers[0].0, reqwest::StatusCode::BAD_REQUEST);
    assert_eq!(answers[0], answers[1]);
    assert_eq!(answers[1], answers[2]);
}
