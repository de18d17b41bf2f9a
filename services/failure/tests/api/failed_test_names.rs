//! Migration 0014 on a schema that already holds failures: the names of
//! the tests that failed are backfilled, under forced row level security,
//! and the failures list finds them by name.

use failure_service::{MIGRATIONS, SPEC};
use tenant_core::ServiceSpec;
use uuid::Uuid;

use crate::helpers;

static BEFORE_FAILED_TEST_NAMES: ServiceSpec = ServiceSpec {
    name: "failure-service",
    schema: Some("failure"),
    migrations: MIGRATIONS.split_at(13).0,
};

#[tokio::test]
async fn the_tests_that_failed_before_the_migration_have_their_names_indexed() {
    assert_eq!(
        MIGRATIONS[13].name, "failed_test_names",
        "the failed test names follow the reference probes"
    );
    let (database, db) = helpers::migrated_through(&BEFORE_FAILED_TEST_NAMES).await;

    let project = Uuid::now_v7();
    let (build, failed, passed) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    let app_role = database.connect_as("failure_app").await.unwrap();
    app_role
        .batch_execute(&format!(
            "SET app.project_id = '{project}';
             INSERT INTO failure.builds (project_id, id, job_name, external_id)
                  VALUES ('{project}', '{build}', 'ci', '1');
             INSERT INTO failure.tests (project_id, id, suite, classname, name, first_seen_at, last_seen_at)
                  VALUES ('{project}', '{failed}', 's', 'c', 'checkout_flow', now(), now()),
                         ('{project}', '{passed}', 's', 'c', 'checkout_total', now(), now());
             INSERT INTO failure.failures (project_id, id, build_id, test_id, kind, created_at)
                  VALUES ('{project}', '{}', '{build}', '{failed}', 'failure', now());",
            Uuid::now_v7()
        ))
        .await
        .unwrap();

    let applied = tenant_core::server::migrate_schema(&SPEC, &db)
        .await
        .unwrap();
    assert!(applied.applied.contains(&14));
    let names: Vec<String> = app_role
        .query(
            &format!("SELECT name FROM failure.failed_test_names WHERE project_id = '{project}'"),
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.try_get(0).unwrap())
        .collect();
    assert_eq!(names, ["checkout_flow"]);
    let found = app_role
        .query(
            failure_service::repository::failures::FAILURES_LIST_SQL,
            &[
                &project,
                &None::<chrono::DateTime<chrono::Utc>>,
                &None::<chrono::DateTime<chrono::Utc>>,
                &None::<Uuid>,
                &None::<String>,
                &None::<String>,
                &Some("%OUT_F%"),
                &None::<String>,
                &None::<chrono::DateTime<chrono::Utc>>,
                &None::<Uuid>,
                &50_i64,
            ],
        )
        .await
        .unwrap();
    assert_eq!(found.len(), 1);

    assert!(
        helpers::row_level_security_forced(
            &database,
            &[
                "failure.failed_test_names",
                "failure.failures",
                "failure.tests"
            ]
        )
        .await
    );
}
