//! Builds: create or get, finish, list, show.

use reqwest::StatusCode;
use serde_json::json;
use uuid::Uuid;

use crate::helpers::{self, Body, FailureApp, project_of};

#[tokio::test]
async fn creating_a_build_twice_returns_the_same_build_with_200() {
    let app = helpers::spawn().await;
    let ctx = helpers::uploader(Uuid::now_v7());
    let path = format!("/v1/projects/{}/builds", project_of(&ctx));
    let body = json!({"job_name": "nightly", "external_id": "run-42", "number": 42,
                      "branch": "main", "commit_sha": "ABCDEF12", "url": "https://ci.example/42"});
    let first = app.post(&path, &ctx, body.clone()).await.expect(201);
    assert_eq!(first["status"], "running");
    assert_eq!(first["commit_sha"], "abcdef12");
    let second = app.post(&path, &ctx, body).await.expect(200);
    assert_eq!(second["id"], first["id"]);
}

#[tokio::test]
async fn invalid_build_fields_are_422_naming_the_field() {
    let app = helpers::spawn().await;
    let ctx = helpers::uploader(Uuid::now_v7());
    let path = format!("/v1/projects/{}/builds", project_of(&ctx));
    for (body, field) in [
        (
            json!({"job_name": "j", "external_id": "has space"}),
            "external_id",
        ),
        (json!({"job_name": "", "external_id": "x"}), "job_name"),
        (
            json!({"job_name": "j", "external_id": "x", "commit_sha": "zz"}),
            "commit_sha",
        ),
    ] {
        let problem = app.post(&path, &ctx, body).await.expect(422);
        assert_eq!(problem["errors"][0]["field"], field, "{problem}");
    }
}

#[tokio::test]
async fn a_build_is_finished_with_patch_and_lists_filter_and_paginate() {
    let app = helpers::spawn().await;
    let ctx = helpers::uploader(Uuid::now_v7());
    let project = project_of(&ctx);
    let mut ids = Vec::new();
    for n in 0..5 {
        ids.push(app.create_build(&ctx, &format!("b{n}")).await);
    }
    let finished = app
        .patch(
            &format!("/v1/projects/{project}/builds/{}", ids[0]),
            &ctx,
            json!({"status": "failed"}),
        )
        .await
        .expect(200);
    assert_eq!(finished["status"], "failed");
    assert!(finished["finished_at"].is_string());

    let viewer = helpers::viewer(project);
    let failed = app
        .get(
            &format!("/v1/projects/{project}/builds?status=failed"),
            &viewer,
        )
        .await
        .expect(200);
    assert_eq!(failed["items"].as_array().unwrap().len(), 1);

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/v1/projects/{project}/builds?limit=2&job=ci");
        if let Some(cursor) = &cursor {
            path.push_str(&format!("&cursor={cursor}"));
        }
        let page = app.get(&path, &viewer).await.body;
        for item in page["items"].as_array().unwrap() {
            seen.push(item["id"].as_str().unwrap().parse::<Uuid>().unwrap());
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    ids.reverse();
    assert_eq!(seen, ids, "newest first, every build once");
}

#[tokio::test]
async fn a_viewer_cannot_create_builds_or_upload() {
    let app = helpers::spawn().await;
    let project = Uuid::now_v7();
    let uploader = helpers::uploader(project);
    let build = app.create_build(&uploader, "v").await;
    let viewer = helpers::viewer(project);
    let response = app
        .post(
            &format!("/v1/projects/{project}/builds"),
            &viewer,
            json!({"job_name": "j", "external_id": "x"}),
        )
        .await;
    assert_eq!(response.status, StatusCode::FORBIDDEN);
    let reply = app
        .upload(&viewer, build, Body::xml("<testsuite/>"), None)
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
}
