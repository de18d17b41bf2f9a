//! Refresh-token rotation with reuse detection.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers fail the test at the first broken expectation"
)]

mod common;

use common::problem_code;
use reqwest::StatusCode;
use serde_json::Value;

#[tokio::test]
async fn replaying_a_rotated_token_revokes_the_family_and_the_session() {
    let auth = common::spawn(&[("service.refresh_grace_secs", "0".to_owned())]).await;
    auth.sign_up("eve@example.com").await;
    let first = auth.log_in("eve@example.com").await;

    let second: Value = auth
        .refresh(&first.refresh_token)
        .await
        .json()
        .await
        .unwrap();
    let second_token = second["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(second_token, first.refresh_token);
    let third: Value = auth.refresh(&second_token).await.json().await.unwrap();
    let newest = third["refresh_token"].as_str().unwrap().to_owned();

    // Replaying the first token is theft or a bug: everything dies.
    let replay = auth.refresh(&first.refresh_token).await;
    assert_eq!(
        problem_code(replay).await,
        (StatusCode::BAD_REQUEST, "auth.invalid_grant".to_owned())
    );
    let after = auth.refresh(&newest).await;
    assert_eq!(
        problem_code(after).await.1,
        "auth.invalid_grant",
        "the newest token died with its family"
    );
    let me = auth
        .call(reqwest::Method::GET, "/v1/me", &first.context(), None)
        .await;
    assert_eq!(problem_code(me).await.1, "auth.session_ended");

    let events = auth.audit_events("refresh_reuse_detected").await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["session_id"], first.session_id.to_string());
}

#[tokio::test]
async fn a_concurrent_refresh_with_the_predecessor_inside_the_grace_window_does_not_revoke() {
    let auth = common::spawn(&[("service.refresh_grace_secs", "30".to_owned())]).await;
    auth.sign_up("tabs@example.com").await;
    let session = auth.log_in("tabs@example.com").await;

    let (a, b) = tokio::join!(
        auth.refresh(&session.refresh_token),
        auth.refresh(&session.refresh_token)
    );
    assert_eq!(a.status(), StatusCode::OK);
    assert_eq!(b.status(), StatusCode::OK);
    let a: Value = a.json().await.unwrap();
    let b: Value = b.json().await.unwrap();
    assert_eq!(
        a["refresh_token"], b["refresh_token"],
        "both tabs continue with the same current token"
    );

    // The family lives on: the current token rotates normally.
    let next = auth.refresh(a["refresh_token"].as_str().unwrap()).await;
    assert_eq!(next.status(), StatusCode::OK);
    assert!(auth.audit_events("refresh_reuse_detected").await.is_empty());
}

#[tokio::test]
async fn unknown_expired_and_malformed_refresh_tokens_get_the_same_problem() {
    let auth = common::spawn(&[]).await;
    auth.sign_up("old@example.com").await;
    let session = auth.log_in("old@example.com").await;
    auth.database
        .admin_client()
        .await
        .execute(
            "UPDATE auth.refresh_tokens SET idle_expires_at = now() - interval '1 second'",
            &[],
        )
        .await
        .unwrap();

    let mut answers = Vec::new();
    for token in [
        session.refresh_token.as_str(),
        "flr_unknownunknownunknownunknownunknownunknow",
        "garbage",
    ] {
        let response = auth.refresh(token).await;
        let status = response.status();
        let mut body: Value = response.json().await.unwrap();
        body.as_object_mut().unwrap().remove("request_id");
        answers.push((status, body));
    }
    assert_eq!(answers[0].0, StatusCode::BAD_REQUEST);
    assert_eq!(answers[0], answers[1]);
    assert_eq!(answers[1], answers[2]);
}
