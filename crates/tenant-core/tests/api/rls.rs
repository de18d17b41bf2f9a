//! Row level security through tenant-core: a transaction sees and writes
//! only its own project's rows, and one without a project sees nothing.
//! Runs against `failure.builds`, a real tenant table, as `failure_app`.

use tenant_core::config::Settings;
use tenant_core::{
    Db, DbError, Principal, PrincipalKind, ProjectAccess, Role, ServiceSpec, TenantContext,
};
use test_support::TestDatabase;
use uuid::Uuid;

static FAILURE_SCHEMA: ServiceSpec = ServiceSpec {
    name: "rls-test",
    schema: Some("failure"),
    migrations: &[],
};

async fn db_with_pool_size(database: &TestDatabase, size: usize) -> Db {
    let settings: Settings = test_support::settings(
        &FAILURE_SCHEMA,
        Some(database),
        &[("database.pool_max_size", size.to_string())],
    );
    Db::connect(settings.database.as_ref().unwrap(), "failure", "rls-test")
        .await
        .unwrap()
}

fn context(project_id: Uuid) -> TenantContext {
    TenantContext::new(
        Principal {
            id: Uuid::now_v7(),
            kind: PrincipalKind::User,
        },
        Some(ProjectAccess {
            project_id,
            role: Role::Member,
        }),
        "rls",
    )
}

const INSERT_BUILD: &str =
    "INSERT INTO failure.builds (project_id, id, job_name, external_id) VALUES ($1, $2, 'ci', $3)";

async fn insert_build(db: &Db, project_id: Uuid, external_id: &str) {
    let tx = db.tenant_tx(&context(project_id)).await.unwrap();
    tx.execute(INSERT_BUILD, &[&project_id, &Uuid::now_v7(), &external_id])
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

/// Builds the transaction can see, with no WHERE clause at all.
async fn visible_builds(tx: &tenant_core::TenantTx) -> i64 {
    tx.query_one("SELECT count(*) FROM failure.builds", &[])
        .await
        .unwrap()
        .get(0)
}

async fn count_all_builds_as_admin(database: &TestDatabase, project_id: Uuid) -> i64 {
    database
        .admin_client()
        .await
        .query_one(
            "SELECT count(*) FROM failure.builds WHERE project_id = $1",
            &[&project_id],
        )
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn a_project_context_does_not_leak_into_the_next_transaction_on_the_same_connection() {
    let database = TestDatabase::create().await;
    let db = db_with_pool_size(&database, 1).await;
    let project_a = Uuid::now_v7();
    insert_build(&db, project_a, "a-1").await;

    let tx = db.tenant_tx(&context(project_a)).await.unwrap();
    let seen = visible_builds(&tx).await;
    assert_eq!(seen, 1);
    tx.commit().await.unwrap();

    // Same (only) connection, no context: nothing is visible.
    let tx = db.unscoped_tx().await.unwrap();
    let setting: Option<String> = tx
        .query_one(
            "SELECT nullif(current_setting('app.project_id', true), '')",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(setting, None);
    let seen = visible_builds(&tx).await;
    assert_eq!(seen, 0);
}

#[tokio::test]
async fn the_first_statement_runs_inside_the_transaction_its_begin_is_sent_with() {
    let database = TestDatabase::create().await;
    let db = db_with_pool_size(&database, 1).await;
    let project = Uuid::now_v7();

    // Only a statement after the context settings passes the policy's
    // check, and only one inside the transaction is undone with it.
    let tx = db.tenant_tx(&context(project)).await.unwrap();
    tx.execute(INSERT_BUILD, &[&project, &Uuid::now_v7(), &"first"])
        .await
        .unwrap();
    let in_transaction: bool = tx
        .query_one("SELECT now() <> statement_timestamp()", &[])
        .await
        .unwrap()
        .get(0);
    assert!(
        in_transaction,
        "the second statement shares the first's transaction"
    );
    tx.rollback().await.unwrap();
    assert_eq!(count_all_builds_as_admin(&database, project).await, 0);

    // A transaction that ran nothing ends without a word to the server,
    // and its connection serves the next one.
    let tx = db.tenant_tx(&context(project)).await.unwrap();
    tx.commit().await.unwrap();
    let tx = db.tenant_tx(&context(project)).await.unwrap();
    drop(tx);
    insert_build(&db, project, "after").await;
    assert_eq!(count_all_builds_as_admin(&database, project).await, 1);
}

#[tokio::test]
async fn a_single_statement_transaction_commits_with_its_statement_and_refuses_a_second() {
    let database = TestDatabase::create().await;
    let db = db_with_pool_size(&database, 1).await;
    let project = Uuid::now_v7();

    // The statement runs inside the transaction its context was set in
    // (the policy's check passes), and it is committed before `commit`:
    // its `COMMIT` went out with it.
    let tx = db
        .tenant_tx(&context(project))
        .await
        .unwrap()
        .single_statement();
    tx.execute(INSERT_BUILD, &[&project, &Uuid::now_v7(), &"single"])
        .await
        .unwrap();
    assert_eq!(count_all_builds_as_admin(&database, project).await, 1);
    assert!(matches!(
        tx.query_one("SELECT 1", &[]).await,
        Err(DbError::SecondStatement)
    ));
    tx.commit().await.unwrap();

    // A failed statement leaves nothing behind, and the connection serves
    // the next transaction outside any transaction of its own.
    let tx = db
        .tenant_tx(&context(project))
        .await
        .unwrap()
        .single_statement();
    let other_project = Uuid::now_v7();
    assert!(
        tx.execute(INSERT_BUILD, &[&other_project, &Uuid::now_v7(), &"refused"])
            .await
            .is_err(),
        "a row of another project passes the policy"
    );
    drop(tx);
    // On the pool's one connection: it would refuse every statement while
    // the failed transaction stayed open.
    insert_build(&db, project, "after").await;
    assert_eq!(count_all_builds_as_admin(&database, project).await, 2);
    assert_eq!(count_all_builds_as_admin(&database, other_project).await, 0);
}

async fn backend_pid(tx: &tenant_core::TenantTx) -> i32 {
    tx.query_one("SELECT pg_backend_pid()", &[])
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn a_connection_whose_commit_failed_leaves_the_pool_and_one_that_committed_stays() {
    let database = TestDatabase::create().await;
    let db = db_with_pool_size(&database, 1).await;
    let tx = db.unscoped_tx().await.unwrap();
    let first = backend_pid(&tx).await;
    tx.commit().await.unwrap();

    let tx = db.unscoped_tx().await.unwrap();
    assert_eq!(
        backend_pid(&tx).await,
        first,
        "a committed connection is reused"
    );
    // A deferred unique check fails at COMMIT.
    tx.execute(
        "CREATE TEMP TABLE once (id int UNIQUE DEFERRABLE INITIALLY DEFERRED)",
        &[],
    )
    .await
    .unwrap();
    tx.execute("INSERT INTO once VALUES (1), (1)", &[])
        .await
        .unwrap();
    assert!(tx.commit().await.is_err());

    let tx = db.unscoped_tx().await.unwrap();
    assert_ne!(
        backend_pid(&tx).await,
        first,
        "the connection whose COMMIT failed came back from the pool"
    );
}

#[tokio::test]
async fn connections_run_with_the_statement_timeout_jit_and_plan_cache_mode_as_configured() {
    let database = TestDatabase::create().await;
    // JIT is off and plans are made for each run's values unless the
    // settings say otherwise.
    let defaults = (None, None, "off", "force_custom_plan");
    let changed = (Some("true"), Some("auto"), "on", "auto");
    for (jit, plans, expected_jit, expected_plans) in [defaults, changed] {
        let mut overrides = vec![("database.statement_timeout_ms", "4321".to_owned())];
        overrides.extend(jit.map(|jit| ("database.jit", jit.to_owned())));
        overrides.extend(plans.map(|mode| ("database.plan_cache_mode", mode.to_owned())));
        let settings: Settings =
            test_support::settings(&FAILURE_SCHEMA, Some(&database), &overrides);
        let db = Db::connect(settings.database.as_ref().unwrap(), "failure", "rls-test")
            .await
            .unwrap();
        let tx = db.unscoped_tx().await.unwrap();
        let row = tx
            .query_one(
                "SELECT current_setting('jit'), current_setting('statement_timeout'),
                        current_setting('plan_cache_mode')",
                &[],
            )
            .await
            .unwrap();
        assert_eq!(row.get::<_, String>(0), expected_jit, "{jit:?}");
        assert_eq!(row.get::<_, String>(1), "4321ms");
        assert_eq!(row.get::<_, String>(2), expected_plans, "{plans:?}");
    }
}

#[tokio::test]
async fn a_project_never_sees_another_projects_rows_even_without_a_where_clause() {
    let database = TestDatabase::create().await;
    let db = db_with_pool_size(&database, 2).await;
    let (project_a, project_b) = (Uuid::now_v7(), Uuid::now_v7());
    insert_build(&db, project_a, "a-1").await;
    insert_build(&db, project_b, "b-1").await;
    insert_build(&db, project_b, "b-2").await;

    let tx = db.tenant_tx(&context(project_a)).await.unwrap();
    let rows = tx
        .query("SELECT project_id, external_id FROM failure.builds", &[])
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].get::<_, Uuid>(0), project_a);
    let b_rows: i64 = tx
        .query_one(
            "SELECT count(*) FROM failure.builds WHERE project_id = $1",
            &[&project_b],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(b_rows, 0);
    let updated = tx
        .execute(
            "UPDATE failure.builds SET branch = 'hijacked' WHERE project_id = $1",
            &[&project_b],
        )
        .await
        .unwrap();
    assert_eq!(updated, 0);
    let deleted = tx
        .execute(
            "DELETE FROM failure.builds WHERE project_id = $1",
            &[&project_b],
        )
        .await
        .unwrap();
    assert_eq!(deleted, 0);
    tx.commit().await.unwrap();
    assert_eq!(count_all_builds_as_admin(&database, project_b).await, 2);
}

#[tokio::test]
async fn writing_another_projects_row_fails_clearly_and_writes_nothing() {
    let database = TestDatabase::create().await;
    let db = db_with_pool_size(&database, 1).await;
    let (project_a, project_b) = (Uuid::now_v7(), Uuid::now_v7());
    insert_build(&db, project_a, "a-1").await;

    let tx = db.tenant_tx(&context(project_a)).await.unwrap();
    tx.execute(INSERT_BUILD, &[&project_a, &Uuid::now_v7(), &"a-2"])
        .await
        .unwrap();
    let error = tx
        .execute(INSERT_BUILD, &[&project_b, &Uuid::now_v7(), &"b-1"])
        .await
        .unwrap_err();
    assert!(error.is_tenant_violation(), "{error:?}");
    let problem = tenant_core::Problem::from(error);
    assert_eq!(problem.code(), "tenant.violation");
    assert_eq!(problem.status().as_u16(), 403);
    drop(tx);

    // Moving an own row into another project is refused the same way.
    let tx = db.tenant_tx(&context(project_a)).await.unwrap();
    let error = tx
        .execute(
            "UPDATE failure.builds SET project_id = $1 WHERE external_id = 'a-1'",
            &[&project_b],
        )
        .await
        .unwrap_err();
    assert!(error.is_tenant_violation(), "{error:?}");
    drop(tx);

    // The failed transaction left nothing behind, not even the row it wrote first.
    assert_eq!(count_all_builds_as_admin(&database, project_b).await, 0);
    assert_eq!(count_all_builds_as_admin(&database, project_a).await, 1);
    // And the pool's only connection is usable again.
    let tx = db.tenant_tx(&context(project_a)).await.unwrap();
    let seen = visible_builds(&tx).await;
    assert_eq!(seen, 1);
}

#[tokio::test]
async fn without_a_project_context_there_are_no_rows_and_no_writes() {
    let database = TestDatabase::create().await;
    let db = db_with_pool_size(&database, 1).await;
    let project_a = Uuid::now_v7();
    insert_build(&db, project_a, "a-1").await;

    let tx = db.unscoped_tx().await.unwrap();
    let seen = visible_builds(&tx).await;
    assert_eq!(seen, 0);
    let error = tx
        .execute(INSERT_BUILD, &[&project_a, &Uuid::now_v7(), &"a-2"])
        .await
        .unwrap_err();
    assert!(error.is_tenant_violation(), "{error:?}");
    drop(tx);

    let no_project = TenantContext::new(
        Principal {
            id: Uuid::now_v7(),
            kind: PrincipalKind::User,
        },
        None,
        "rls",
    );
    let error = db.tenant_tx(&no_project).await.unwrap_err();
    assert!(
        matches!(error, tenant_core::DbError::NoProject),
        "{error:?}"
    );
    assert_eq!(count_all_builds_as_admin(&database, project_a).await, 1);
}

#[tokio::test]
async fn a_transaction_dropped_without_commit_is_rolled_back() {
    let database = TestDatabase::create().await;
    let db = db_with_pool_size(&database, 1).await;
    let project_a = Uuid::now_v7();
    {
        let tx = db.tenant_tx(&context(project_a)).await.unwrap();
        tx.execute(INSERT_BUILD, &[&project_a, &Uuid::now_v7(), &"never"])
            .await
            .unwrap();
    }
    let tx = db.tenant_tx(&context(project_a)).await.unwrap();
    let seen = visible_builds(&tx).await;
    assert_eq!(seen, 0);
    assert_eq!(count_all_builds_as_admin(&database, project_a).await, 0);
}

#[tokio::test]
async fn an_exhausted_pool_answers_503_with_retry_after_instead_of_hanging() {
    let database = TestDatabase::create().await;
    let settings: Settings = test_support::settings(
        &FAILURE_SCHEMA,
        Some(&database),
        &[
            ("database.pool_max_size", "1".to_owned()),
            ("database.pool_wait_timeout_ms", "200".to_owned()),
        ],
    );
    let db = Db::connect(settings.database.as_ref().unwrap(), "failure", "rls-test")
        .await
        .unwrap();
    let project = Uuid::now_v7();
    let held = db.tenant_tx(&context(project)).await.unwrap();

    let error = db.tenant_tx(&context(project)).await.unwrap_err();
    let problem = tenant_core::Problem::from(error);
    assert_eq!(problem.code(), "database.unavailable");
    let response = actix_web::ResponseError::error_response(&problem);
    assert_eq!(response.status().as_u16(), 503);
    assert!(response.headers().contains_key("retry-after"));

    drop(held);
    let tx = db.tenant_tx(&context(project)).await.unwrap();
    assert_eq!(visible_builds(&tx).await, 0);
}
