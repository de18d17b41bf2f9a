//! Project A's data is invisible and untouchable from project B, through
//! every endpoint, even with A's ids.

use reqwest::StatusCode;
use serde_json::json;
use test_support::Reply;
use uuid::Uuid;

use crate::helpers::{self, Body, FailureApp, project_of};

#[tokio::test]
async fn project_b_cannot_read_list_or_write_project_a_data_even_by_guessing_ids() {
    let app = helpers::spawn().await;
    let a = helpers::uploader(Uuid::now_v7());
    let project_a = project_of(&a);
    let build = app.create_build(&a, "secret").await;
    let xml = "<testsuite name=\"S\"><testcase classname=\"C\" name=\"t\"><failure message=\"m\">trace</failure></testcase></testsuite>";
    let status = app.upload(&a, build, Body::xml(xml), None).await.status;
    assert_eq!(status, StatusCode::CREATED);
    let failures = app
        .get(&format!("/v1/projects/{project_a}/failures"), &a)
        .await
        .body;
    let failure = failures["items"][0]["id"].as_str().unwrap().to_owned();
    let test = failures["items"][0]["test"]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let b = helpers::uploader(Uuid::now_v7());
    let project_b = project_of(&b);
    for path in [
        format!("/v1/projects/{project_b}/builds/{build}"),
        format!("/v1/projects/{project_b}/failures/{failure}"),
        format!("/v1/projects/{project_b}/tests/{test}/history"),
    ] {
        let Reply { status, body, .. } = app.get(&path, &b).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
    }
    for path in [
        format!("/v1/projects/{project_b}/builds"),
        format!("/v1/projects/{project_b}/failures"),
        format!("/v1/projects/{project_b}/failures?build={build}"),
    ] {
        let body = app.get(&path, &b).await.expect(200);
        assert_eq!(body["items"].as_array().unwrap().len(), 0, "{path}: {body}");
    }
    let status = app.upload(&b, build, Body::xml(xml), None).await.status;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let response = app
        .patch(
            &format!("/v1/projects/{project_b}/builds/{build}"),
            &b,
            json!({"status": "passed"}),
        )
        .await;
    assert_eq!(response.status, StatusCode::NOT_FOUND);
    // A's id in the path with B's context is refused, not trusted.
    let body = app
        .get(&format!("/v1/projects/{project_a}/builds/{build}"), &b)
        .await
        .expect(400);
    assert_eq!(body["code"], "project.context_mismatch");
    // Same external id in B creates B's own build.
    let own = app.create_build(&b, "secret").await;
    assert_ne!(own, build);
    // Nothing of A changed.
    let a_build = app
        .get(&format!("/v1/projects/{project_a}/builds/{build}"), &a)
        .await
        .body;
    assert_eq!(a_build["status"], "running");
    assert_eq!(a_build["totals"]["tests"], 1);
}

#[tokio::test]
async fn the_runtime_role_sees_no_rows_in_a_partition_named_directly_without_a_project() {
    let app = helpers::spawn().await;
    let a = helpers::uploader(Uuid::now_v7());
    let build = app.create_build(&a, "p").await;
    let xml = "<testsuite name=\"S\"><testcase name=\"t\"/></testsuite>";
    app.upload(&a, build, Body::xml(xml), None).await;
    let admin = app.database().admin_client().await;
    let partition: String = admin
        .query_one(
            "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
              WHERE i.inhparent = 'failure.test_results'::regclass
                AND EXISTS (SELECT 1 FROM failure.test_results r WHERE r.tableoid = c.oid)",
            &[],
        )
        .await
        .unwrap()
        .try_get(0)
        .unwrap();
    let app_role = app.database().connect_as("failure_app").await.unwrap();
    let visible: i64 = app_role
        .query_one(&format!("SELECT count(*) FROM failure.{partition}"), &[])
        .await
        .unwrap()
        .try_get(0)
        .unwrap();
    assert_eq!(visible, 0);
    app_role
        .batch_execute(&format!("SET app.project_id = '{}'", Uuid::now_v7()))
        .await
        .unwrap();
    let visible: i64 = app_role
        .query_one(&format!("SELECT count(*) FROM failure.{partition}"), &[])
        .await
        .unwrap()
        .try_get(0)
        .unwrap();
    assert_eq!(visible, 0, "another project's setting sees nothing either");
}

/// Results are checked against their build and test once per statement:
/// as the runtime role, a result naming a test that does not exist, or one
/// of another project, is refused and nothing of the statement stays.
#[tokio::test]
async fn a_result_must_name_a_build_and_a_test_of_its_own_project() {
    let app = helpers::spawn().await;
    let a = helpers::uploader(Uuid::now_v7());
    let b = helpers::uploader(Uuid::now_v7());
    let build_a = app.create_build(&a, "refs-a").await;
    let build_b = app.create_build(&b, "refs-b").await;
    let xml = "<testsuite name=\"S\"><testcase name=\"t\"/></testsuite>";
    app.upload(&a, build_a, Body::xml(xml), None).await;
    app.upload(&b, build_b, Body::xml(xml), None).await;
    let project_a = project_of(&a);
    let project_b = project_of(&b);
    let admin = app.database().admin_client().await;
    let test_of = |project: Uuid| {
        let admin = &admin;
        async move {
            admin
                .query_one(
                    "SELECT id FROM failure.tests WHERE project_id = $1",
                    &[&project],
                )
                .await
                .unwrap()
                .try_get::<_, Uuid>(0)
                .unwrap()
        }
    };
    let (test_a, test_b) = (test_of(project_a).await, test_of(project_b).await);
    let created = build_created_at(&admin, build_a).await;

    let app_role = app.database().connect_as("failure_app").await.unwrap();
    app_role
        .batch_execute(&format!("SET app.project_id = '{project_a}'"))
        .await
        .unwrap();
    let insert = |build: Uuid, tests: Vec<Uuid>| {
        let app_role = &app_role;
        async move {
            app_role
                .execute(
                    "INSERT INTO failure.test_results
                        (project_id, build_id, test_id, build_created_at, status, created_at)
                     SELECT $1, $2, t, $3, 'passed', now() FROM unnest($4::uuid[]) AS t
                     ON CONFLICT DO NOTHING",
                    &[&project_a, &build, &created, &tests],
                )
                .await
        }
    };
    let fresh = Uuid::now_v7();
    for (build, tests, why) in [
        (build_a, vec![fresh], "a test that does not exist"),
        (build_a, vec![test_b], "another project's test"),
        (build_a, vec![fresh, test_a], "one bad row among good ones"),
        (build_b, vec![test_a], "another project's build"),
        (Uuid::now_v7(), vec![test_a], "a build that does not exist"),
    ] {
        let error = insert(build, tests).await.expect_err(why);
        assert_eq!(
            error.code(),
            Some(&tokio_postgres::error::SqlState::FOREIGN_KEY_VIOLATION),
            "{why}: {error}"
        );
    }
    let rows: i64 = admin
        .query_one(
            "SELECT count(*) FROM failure.test_results WHERE project_id = $1",
            &[&project_a],
        )
        .await
        .unwrap()
        .try_get(0)
        .unwrap();
    assert_eq!(rows, 1, "only the uploaded result");
}

/// Failures are checked against their build, test and group by foreign
/// keys, on insert and on an update that moves them: as the runtime role,
/// a failure naming any of the three that does not exist, or one of
/// another project, is refused and nothing of the statement stays.
#[tokio::test]
async fn a_failure_must_name_a_build_a_test_and_a_group_of_its_own_project() {
    let app = helpers::spawn().await;
    let a = helpers::uploader(Uuid::now_v7());
    let b = helpers::uploader(Uuid::now_v7());
    let build_a = app.create_build(&a, "failure-refs-a").await;
    let build_b = app.create_build(&b, "failure-refs-b").await;
    let xml = "<testsuite name=\"S\"><testcase classname=\"S\" name=\"t\">\
               <failure message=\"boom\" type=\"AssertionError\">at S.t(S.java:1)</failure>\
               </testcase></testsuite>";
    app.upload(&a, build_a, Body::xml(xml), None).await;
    app.upload(&b, build_b, Body::xml(xml), None).await;
    let (project_a, project_b) = (project_of(&a), project_of(&b));
    let admin = app.database().admin_client().await;
    let failure_of = |project: Uuid| {
        let admin = &admin;
        async move {
            let row = admin
                .query_one(
                    "SELECT id, test_id, group_id FROM failure.failures WHERE project_id = $1",
                    &[&project],
                )
                .await
                .unwrap();
            let id = |column: &str| row.try_get::<_, Uuid>(column).unwrap();
            (id("id"), id("test_id"), id("group_id"))
        }
    };
    let (failure_a, test_a, group_a) = failure_of(project_a).await;
    let (_, test_b, group_b) = failure_of(project_b).await;

    let app_role = app.database().connect_as("failure_app").await.unwrap();
    app_role
        .batch_execute(&format!("SET app.project_id = '{project_a}'"))
        .await
        .unwrap();
    let insert = |build: Uuid, test: Uuid, group: Option<Uuid>| {
        let app_role = &app_role;
        async move {
            app_role
                .execute(
                    "INSERT INTO failure.failures
                        (project_id, id, build_id, test_id, kind, created_at, group_id, attempt)
                     VALUES ($1, $2, $3, $4, 'failure', now(), $5, 1),
                            ($1, $6, $3, $7, 'failure', now(), $8, 2)",
                    &[
                        &project_a,
                        &Uuid::now_v7(),
                        &build,
                        &test,
                        &group,
                        &Uuid::now_v7(),
                        &test_a,
                        &group_a,
                    ],
                )
                .await
        }
    };
    let (fresh_build, fresh_test) = (Uuid::now_v7(), Uuid::now_v7());
    for (build, test, group, why) in [
        (
            fresh_build,
            test_a,
            Some(group_a),
            "a build that does not exist",
        ),
        (build_b, test_a, Some(group_a), "another project's build"),
        (
            build_a,
            fresh_test,
            Some(group_a),
            "a test that does not exist",
        ),
        (build_a, test_b, Some(group_a), "another project's test"),
        (
            build_a,
            test_a,
            Some(Uuid::now_v7()),
            "a group that does not exist",
        ),
        (build_a, test_a, Some(group_b), "another project's group"),
    ] {
        let error = insert(build, test, group).await.expect_err(why);
        assert_eq!(
            error.code(),
            Some(&tokio_postgres::error::SqlState::FOREIGN_KEY_VIOLATION),
            "{why}: {error}"
        );
    }
    insert(build_a, test_a, None)
        .await
        .expect("a failure without a group, of the project's build and test");

    for (group, why) in [
        (Uuid::now_v7(), "moved to a group that does not exist"),
        (group_b, "moved to another project's group"),
    ] {
        let error = app_role
            .execute(
                "UPDATE failure.failures SET group_id = $3 WHERE project_id = $1 AND id = $2",
                &[&project_a, &failure_a, &group],
            )
            .await
            .expect_err(why);
        assert_eq!(
            error.code(),
            Some(&tokio_postgres::error::SqlState::FOREIGN_KEY_VIOLATION),
            "{why}: {error}"
        );
    }
    let relabelled = app_role
        .execute(
            "UPDATE failure.failures SET label = 'product_bug' WHERE project_id = $1",
            &[&project_a],
        )
        .await
        .expect("an update that moves no failure passes");
    assert_eq!(relabelled, 3);
    let rows: i64 = admin
        .query_one(
            "SELECT count(*) FROM failure.failures WHERE project_id = $1 AND group_id = $2",
            &[&project_a, &group_a],
        )
        .await
        .unwrap()
        .try_get(0)
        .unwrap();
    assert_eq!(
        rows, 2,
        "the uploaded failure and the good insert's second row"
    );
}

/// The reference check looks each result's build and test up by the whole
/// key, so its cost does not hang on what the statistics say of the
/// project. Right after a project's first large upload they still count a
/// handful of its tests; a plan built on that compared every inserted row
/// with every test of the project, and the next upload ran into the
/// statement timeout.
#[tokio::test]
async fn the_reference_check_stays_fast_when_statistics_undercount_the_project() {
    let app = helpers::spawn().await;
    let a = helpers::uploader(Uuid::now_v7());
    let build = app.create_build(&a, "refs-stale-statistics").await;
    let xml = "<testsuite name=\"S\"><testcase name=\"t\"/></testsuite>";
    app.upload(&a, build, Body::xml(xml), None).await;
    let project = project_of(&a);
    let admin = app.database().admin_client().await;
    // Statistics that count about twenty tests per project (as right after
    // a project's first large upload), then 40,000 tests of this one.
    admin
        .batch_execute(
            "ALTER TABLE failure.tests ALTER COLUMN project_id SET (n_distinct = 2000);
             ANALYZE failure.tests",
        )
        .await
        .unwrap();
    let tests: Vec<Uuid> = admin
        .query(
            "INSERT INTO failure.tests
                (project_id, id, suite, classname, name, first_seen_at, last_seen_at)
             SELECT $1, gen_random_uuid(), 'S', 'C', 'case_' || n, now(), now()
               FROM generate_series(1, 40000) AS n
             RETURNING id",
            &[&project],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.try_get(0).unwrap())
        .collect();
    let created = build_created_at(&admin, build).await;

    let app_role = app.database().connect_as("failure_app").await.unwrap();
    app_role
        .batch_execute(&format!(
            "SET app.project_id = '{project}'; SET statement_timeout = '3s';
             SET enable_hashjoin = off; SET enable_mergejoin = off"
        ))
        .await
        .unwrap();
    // One batch as the service writes them (`service.insert_batch_size`),
    // with the joins the statistics would steer away from ruled out: a
    // check that joins the project's tests then compares each row with
    // every one of them.
    let inserted = app_role
        .execute(
            "INSERT INTO failure.test_results
                (project_id, build_id, test_id, build_created_at, status, created_at)
             SELECT $1, $2, t, $3, 'passed', now() FROM unnest($4::uuid[]) AS t",
            &[&project, &build, &created, &tests[..5000].to_vec()],
        )
        .await
        .expect("5,000 results checked well within the statement timeout");
    assert_eq!(inserted, 5000);
}

/// When `build` was created: the partition key its results carry.
async fn build_created_at(
    admin: &tokio_postgres::Client,
    build: Uuid,
) -> chrono::DateTime<chrono::Utc> {
    admin
        .query_one(
            "SELECT created_at FROM failure.builds WHERE id = $1",
            &[&build],
        )
        .await
        .unwrap()
        .try_get(0)
        .unwrap()
}
