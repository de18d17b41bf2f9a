//! The contract with the failure service: analytics reads only the views
//! it publishes, and those views run with the reader's privileges and row
//! level security.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use test_support::TestDatabase;

/// The views the failure service's migrations publish for analytics:
/// `analytics_*` for the rollups (`0010_analytics_views.sql`) and
/// `gate_*` for quality gates and build comparison (`0011_gate_views.sql`).
fn published_views() -> BTreeSet<String> {
    let mut sql = String::new();
    for entry in
        std::fs::read_dir(test_support::workspace_root().join("migrations/failure")).unwrap()
    {
        sql.push_str(&std::fs::read_to_string(entry.unwrap().path()).unwrap());
    }
    sql.split("CREATE VIEW failure.")
        .skip(1)
        .filter(|rest| rest.contains("WITH (security_invoker = true)"))
        .filter_map(|rest| rest.split_whitespace().next())
        .filter(|name| name.starts_with("analytics_") || name.starts_with("gate_"))
        .map(str::to_owned)
        .collect()
}

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

/// The `failure.<name>` relations a text names.
fn failure_relations(text: &str) -> BTreeSet<String> {
    text.match_indices("failure.")
        .filter(|(at, _)| {
            *at == 0
                || !text.as_bytes()[at - 1].is_ascii_alphanumeric()
                    && text.as_bytes()[at - 1] != b'_'
        })
        .map(|(at, _)| {
            text[at + "failure.".len()..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect::<String>()
        })
        .filter(|name| !name.is_empty())
        .collect()
}

#[test]
fn analytics_sql_names_no_failure_relation_but_the_published_views() {
    let published = published_views();
    assert!(published.len() >= 12, "{published:?}");
    let mut files = Vec::new();
    rust_files(
        &test_support::workspace_root().join("services/analytics/src"),
        &mut files,
    );
    for migration in
        std::fs::read_dir(test_support::workspace_root().join("migrations/analytics")).unwrap()
    {
        files.push(migration.unwrap().path());
    }
    let mut offenders = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for name in failure_relations(&text) {
            if !published.contains(&name) {
                offenders.push(format!("{}: failure.{name}", file.display()));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "analytics reads only the published views: {offenders:?}"
    );
    assert_eq!(
        failure_relations("x failure.builds, failure.analytics_tests"),
        BTreeSet::from(["builds".to_owned(), "analytics_tests".to_owned()]),
        "the scan finds what it looks for"
    );
}

#[tokio::test]
async fn every_published_view_runs_as_its_reader_and_analytics_may_read_it() {
    let database = TestDatabase::create().await;
    let admin = database.admin_client().await;
    let rows = admin
        .query(
            "SELECT c.relname::text,
                    coalesce('security_invoker=true' = ANY(c.reloptions), false),
                    has_table_privilege('analytics_app', c.oid, 'SELECT')
               FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE n.nspname = 'failure' AND c.relkind = 'v' AND (c.relname LIKE 'analytics\\_%' OR c.relname LIKE 'gate\\_%')",
            &[],
        )
        .await
        .unwrap();
    let views: BTreeSet<String> = rows.iter().map(|row| row.get(0)).collect();
    assert_eq!(views, published_views());
    for row in rows {
        let name: String = row.get(0);
        assert!(row.get::<_, bool>(1), "{name} is not security_invoker");
        assert!(row.get::<_, bool>(2), "analytics_app cannot read {name}");
    }
    let app = database.connect_as("analytics_app").await.unwrap();
    for view in published_views() {
        app.query(&format!("SELECT * FROM failure.{view} LIMIT 1"), &[])
            .await
            .unwrap_or_else(|error| panic!("{view}: {error}"));
    }
}
