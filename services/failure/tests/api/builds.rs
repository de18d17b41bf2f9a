//! Builds: create or get, finish, list, show.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::common;

#[tokio::test]
async fn creating_a_build_twice_returns_the_same_build_with_200() {
    let app = common::spawn().await;
    let ctx = common::uploader(Uuid::now_v7());
    let project = ctx.project().unwrap().project_id;
    let path = format!("/v1/projects/{project}/builds");
    let body = json!({"job_name": "nightly", "external_id": "run-42", "number": 42,
                      "branch": "main", "commit_sha": "ABCDEF12", "url": "https://ci.example/42"});
    let first = app
        .call(Method::POST, &path, &ctx, Some(body.clone()))
        .await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: Value = first.json().await.unwrap();
    assert_eq!(first["status"], "running");
    assert_eq!(first["commit_sha"], "abcdef12");
    let second = app.call(Method::POST, &path, &ctx, Some(body)).await;
    assert_eq!(second.status(), StatusCode::OK);
    let second: Value = second.json().await.unwrap();
    assert_eq!(second["id"], first["id"]);
}

#[tokio::test]
async fn invalid_build_fields_are_422_naming_the_field() {
    let app = common::spawn().await;
    let ctx = common::uploader(Uuid::now_v7());
    let project = ctx.project().unwrap().project_id;
    let path = format!("/v1/projects/{project}/builds");
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
        let response = app.call(Method::POST, &path, &ctx, Some(body)).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let problem: Value = response.json().await.unwrap();
        assert_eq!(problem["errors"][0]["field"], field, "{problem}");
    }
}

#[tokio::test]
async fn a_build_is_finished_with_patch_and_lists_filter_and_paginate() {
    let app = common::spawn().await;
    let ctx = common::uploader(Uuid::now_v7());
    let project = ctx.project().unwrap().project_id;
    let mut ids = Vec::new();
    for n in 0..5 {
        ids.push(app.create_build(&ctx, &format!("b{n}")).await);
    }
    let response = app
        .call(
            Method::PATCH,
            &format!("/v1/projects/{project}/builds/{}", ids[0]),
            &ctx,
            Some(json!({"status": "failed"})),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let finished: Value = response.json().await.unwrap();
    assert_eq!(finished["status"], "failed");
    assert!(finished["finished_at"].is_string());

    let viewer = common::viewer(project);
    let (status, failed) = app
        .get_json(
            &format!("/v1/projects/{project}/builds?status=failed"),
            &viewer,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(failed["items"].as_array().unwrap().len(), 1);

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/v1/projects/{project}/builds?limit=2&job=ci");
        if let Some(cursor) = &cursor {
            path.push_str(&format!("&cursor={cursor}"));
        }
        let (_, page) = app.get_json(&path, &viewer).await;
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
    let app = common::spawn().await;
    let project = Uuid::now_v7();
    let uploader = common::uploader(project);
    let build = app.create_build(&uploader, "v").await;
    let viewer = common::viewer(project);
    let response = app
        .call(
            Method::POST,
            &format!("/v1/projects/{project}/builds"),
            &viewer,
            Some(json!({"job_name": "j", "external_id": "x"})),
        )
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let (status, _) = app
        .upload(&viewer, build, common::Body::xml("<testsuite/>"), None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}
