//! Guards over the migrated catalog: the isolation rules hold for every
//! table every service has, including tables added later.

use test_support::TestDatabase;
use tokio_postgres::Client;

const SERVICE_SCHEMAS: &str =
    "ARRAY['auth', 'project', 'failure', 'analytics', 'integration', 'web']";

/// Indexes on tenant tables that may lead with another column, each with
/// the lookup that needs it. Everything else must lead with `project_id`
/// (what Citus needs to co-locate a tenant's rows). Keep this list short.
const INDEXES_NOT_LED_BY_PROJECT_ID: &[(&str, &str)] = &[
    (
        "auth.api_keys_hash_key",
        "API key introspection finds a key by its hash before anyone knows its project",
    ),
    (
        "project.memberships_user_idx",
        "\"my projects\" and the gateway's access check start from the user, before any project",
    ),
    (
        "project.access_changes_seq_key",
        "the gateway polls the access change feed in sequence order across all projects",
    ),
];

async fn names(admin: &Client, sql: &str) -> Vec<String> {
    admin
        .query(sql, &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// Tables with a `project_id` column.
async fn tenant_tables(admin: &Client) -> Vec<String> {
    let sql = format!(
        "SELECT n.nspname || '.' || c.relname
           FROM pg_class c
           JOIN pg_namespace n ON n.oid = c.relnamespace
           JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'project_id' AND NOT a.attisdropped
          WHERE n.nspname = ANY({SERVICE_SCHEMAS}) AND c.relkind IN ('r', 'p')"
    );
    names(admin, &sql).await
}

/// Tenant tables lacking enabled + forced RLS or a policy.
async fn tenant_tables_without_row_level_security(admin: &Client) -> Vec<String> {
    let sql = format!(
        "SELECT n.nspname || '.' || c.relname
           FROM pg_class c
           JOIN pg_namespace n ON n.oid = c.relnamespace
           JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'project_id' AND NOT a.attisdropped
          WHERE n.nspname = ANY({SERVICE_SCHEMAS}) AND c.relkind IN ('r', 'p')
            AND NOT (c.relrowsecurity AND c.relforcerowsecurity
                     AND EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid))"
    );
    names(admin, &sql).await
}

/// Indexes (primary keys and unique constraints included) on tenant tables
/// whose first column is not `project_id`.
async fn tenant_indexes_not_led_by_project_id(admin: &Client) -> Vec<String> {
    let sql = format!(
        "SELECT i.indexrelid::regclass::text
           FROM pg_index i
           JOIN pg_class c ON c.oid = i.indrelid
           JOIN pg_namespace n ON n.oid = c.relnamespace
           LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = i.indkey[0]
          WHERE n.nspname = ANY({SERVICE_SCHEMAS})
            AND EXISTS (SELECT 1 FROM pg_attribute p
                         WHERE p.attrelid = c.oid AND p.attname = 'project_id' AND NOT p.attisdropped)
            AND a.attname IS DISTINCT FROM 'project_id'"
    );
    names(admin, &sql).await
}

/// `indexes` without the ones exempted above.
fn not_exempt(indexes: Vec<String>) -> Vec<String> {
    indexes
        .into_iter()
        .filter(|index| {
            !INDEXES_NOT_LED_BY_PROJECT_ID
                .iter()
                .any(|(exempt, _)| exempt == index)
        })
        .collect()
}

#[tokio::test]
async fn every_tenant_table_has_forced_row_level_security_and_a_policy() {
    let database = TestDatabase::create().await;
    let admin = database.admin_client().await;
    let tables = tenant_tables(&admin).await;
    for table in [
        "failure.builds",
        "failure.outbox",
        "integration.event_inbox",
    ] {
        assert!(tables.contains(&table.to_owned()), "{table}: {tables:?}");
    }
    let offenders = tenant_tables_without_row_level_security(&admin).await;
    assert!(
        offenders.is_empty(),
        "tenant tables without enabled+forced RLS and a policy: {offenders:?}"
    );
}

#[tokio::test]
async fn every_index_and_unique_constraint_on_a_tenant_table_leads_with_project_id() {
    let database = TestDatabase::create().await;
    let admin = database.admin_client().await;
    let offenders = not_exempt(tenant_indexes_not_led_by_project_id(&admin).await);
    assert!(
        offenders.is_empty(),
        "indexes or unique constraints not led by project_id: {offenders:?}"
    );
}

#[tokio::test]
async fn the_guards_catch_an_unprotected_table_and_a_badly_led_index() {
    // A table added without RLS and with a key that does not lead with
    // project_id must show up in both guards, or they prove nothing.
    let database = TestDatabase::create().await;
    let admin = database.admin_client().await;
    admin
        .batch_execute(
            "CREATE TABLE failure.unguarded (project_id uuid NOT NULL, id uuid NOT NULL, PRIMARY KEY (id, project_id));
             CREATE UNIQUE INDEX unguarded_id_key ON failure.unguarded (id);",
        )
        .await
        .unwrap();
    assert_eq!(
        tenant_tables_without_row_level_security(&admin).await,
        vec!["failure.unguarded"]
    );
    let mut badly_led = not_exempt(tenant_indexes_not_led_by_project_id(&admin).await);
    badly_led.sort();
    assert_eq!(
        badly_led,
        vec!["failure.unguarded_id_key", "failure.unguarded_pkey"]
    );
}

#[tokio::test]
async fn runtime_roles_own_nothing_and_cannot_bypass_row_level_security() {
    let database = TestDatabase::create().await;
    let admin = database.admin_client().await;
    let rows = admin
        .query(
            "SELECT r.rolname::text, r.rolsuper, r.rolbypassrls,
                    (SELECT count(*) FROM pg_class c WHERE c.relowner = r.oid)
                  + (SELECT count(*) FROM pg_namespace n WHERE n.nspowner = r.oid)
                  + (SELECT count(*) FROM pg_proc p WHERE p.proowner = r.oid)
                  + (SELECT count(*) FROM pg_type t WHERE t.typowner = r.oid)
               FROM pg_roles r
              WHERE r.rolname = ANY(ARRAY['auth_app', 'project_app', 'failure_app', 'analytics_app', 'integration_app', 'web_app'])",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), test_support::SCHEMAS.len());
    for row in rows {
        let role: String = row.get(0);
        assert!(!row.get::<_, bool>(1), "{role} is a superuser");
        assert!(!row.get::<_, bool>(2), "{role} has BYPASSRLS");
        assert_eq!(row.get::<_, i64>(3), 0, "{role} owns objects");
    }
}
