//! Migration 0007 on a schema that already holds groups: their figures
//! are backfilled from their failures, under forced row level security.

use failure_service::{MIGRATIONS, SPEC};
use tenant_core::ServiceSpec;
use uuid::Uuid;

use crate::helpers;

static BEFORE_CLASSIFICATION: ServiceSpec = ServiceSpec {
    name: "failure-service",
    schema: Some("failure"),
    migrations: MIGRATIONS.split_at(6).0,
};

#[tokio::test]
async fn existing_groups_get_their_figures_from_their_failures() {
    assert_eq!(
        MIGRATIONS[6].version, 7,
        "the classification migration follows the outbox"
    );
    let (database, db) = helpers::migrated_through(&BEFORE_CLASSIFICATION).await;

    let project = Uuid::now_v7();
    let (build, test, group, lonely) = (
        Uuid::now_v7(),
        Uuid::now_v7(),
        Uuid::now_v7(),
        Uuid::now_v7(),
    );
    let app_role = database.connect_as("failure_app").await.unwrap();
    app_role
        .batch_execute(&format!(
            "SET app.project_id = '{project}';
             INSERT INTO failure.builds (project_id, id, job_name, external_id)
                  VALUES ('{project}', '{build}', 'ci', '1');
             INSERT INTO failure.tests (project_id, id, suite, classname, name, first_seen_at, last_seen_at)
                  VALUES ('{project}', '{test}', 's', 'c', 't', now(), now());
             INSERT INTO failure.failure_groups
                    (project_id, id, grouping_version, signature_hash, frames, first_seen_at)
                  VALUES ('{project}', '{group}', 1, 'a', '{{}}', now() - interval '1 day'),
                         ('{project}', '{lonely}', 1, 'b', '{{}}', now() - interval '2 days');
             INSERT INTO failure.failures (project_id, id, build_id, test_id, kind, created_at, group_id)
                  VALUES ('{project}', '{}', '{build}', '{test}', 'failure', now(), '{group}');",
            Uuid::now_v7()
        ))
        .await
        .unwrap();

    let applied = tenant_core::server::migrate_schema(&SPEC, &db)
        .await
        .unwrap();
    assert!(applied.applied.contains(&7));
    let row = app_role
        .query_one(
            &format!(
                "SELECT occurrences, affected_tests, last_build_id, label, confidence,
                        (SELECT last_seen_at = first_seen_at FROM failure.failure_groups
                          WHERE project_id = '{project}' AND id = '{lonely}') AS lonely_seen
                   FROM failure.failure_groups WHERE project_id = '{project}' AND id = '{group}'"
            ),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.try_get::<_, i64>("occurrences").unwrap(), 1);
    assert_eq!(row.try_get::<_, i64>("affected_tests").unwrap(), 1);
    assert_eq!(
        row.try_get::<_, Option<Uuid>>("last_build_id").unwrap(),
        Some(build)
    );
    assert_eq!(row.try_get::<_, &str>("label").unwrap(), "to_investigate");
    assert_eq!(row.try_get::<_, f64>("confidence").unwrap(), 0.0);
    assert!(row.try_get::<_, bool>("lonely_seen").unwrap());

    // Row level security is forced again afterwards.
    assert!(
        helpers::row_level_security_forced(
            &database,
            &["failure.failure_groups", "failure.failures"]
        )
        .await
    );
}
