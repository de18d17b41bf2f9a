//! `project-service import`: idempotent, reports what it changed, and
//! refuses a bad file before changing anything.

use project_service::auth_client::AuthClient;
use project_service::domain::Refusal;
use project_service::error::ProjectError;
use project_service::import::{ImportError, ImportSummary, import};

use crate::helpers::{ProjectApp, User};

const EXAMPLE: &str = include_str!("../../../../deploy/projects.example.yaml");

async fn run(
    app: &ProjectApp,
    source: &str,
    dry_run: bool,
) -> (Result<ImportSummary, ImportError>, String) {
    let settings = app.settings();
    let db = app.db().await;
    let auth = AuthClient::new(&settings).unwrap();
    let mut out = Vec::new();
    let result = import(&db, &auth, source, dry_run, &mut out).await;
    (result, String::from_utf8(out).unwrap())
}

async fn example_users(app: &ProjectApp) {
    for email in [
        "alice@example.com",
        "bob@example.com",
        "carol@example.com",
        "qa-bot@example.com",
    ] {
        app.user(email).await;
    }
}

/// Every project and membership, for comparing before and after.
async fn snapshot(app: &ProjectApp) -> Vec<String> {
    let admin = app.admin().await;
    let projects = admin
        .query(
            "SELECT slug || ' ' || name || ' ' || plan || ' ' || status || ' ' || settings::text || ' ' || updated_at::text
               FROM project.projects ORDER BY slug",
            &[],
        )
        .await
        .unwrap();
    let members = admin
        .query(
            "SELECT p.slug || ' ' || m.user_id::text || ' ' || m.role || ' ' || m.updated_at::text
               FROM project.memberships m JOIN project.projects p ON p.id = m.project_id
              ORDER BY 1",
            &[],
        )
        .await
        .unwrap();
    projects
        .iter()
        .chain(members.iter())
        .map(|row| row.get(0))
        .collect()
}

#[tokio::test]
async fn importing_the_example_twice_creates_once_then_reports_nothing_to_do() {
    let app = ProjectApp::spawn().await;
    example_users(&app).await;

    let (first, report) = run(&app, EXAMPLE, false).await;
    let first = first.unwrap();
    assert_eq!(
        first,
        ImportSummary {
            projects_created: 2,
            projects_updated: 0,
            projects_unchanged: 0,
            members_added: 5,
            members_changed: 0,
        }
    );
    for line in [
        "project checkout: created (plan team, status active)",
        "project checkout: added alice@example.com as owner",
        "project checkout: added bob@example.com as admin",
        "project mobile-app: created (plan free, status active)",
        "project mobile-app: added qa-bot@example.com as viewer",
        "import: 2 project(s) created, 0 updated, 0 unchanged; 5 membership(s) added, 0 changed",
    ] {
        assert!(
            report.lines().any(|l| l == line),
            "missing `{line}` in:\n{report}"
        );
    }
    let before = snapshot(&app).await;
    let feed_before = app.latest_change().await;

    let (second, report) = run(&app, EXAMPLE, false).await;
    let second = second.unwrap();
    assert!(!second.changed_anything(), "{second:?}\n{report}");
    assert_eq!(second.projects_unchanged, 2);
    assert_eq!(
        report,
        "project checkout: unchanged\n\
         project mobile-app: unchanged\n\
         import: 0 project(s) created, 0 updated, 2 unchanged; 0 membership(s) added, 0 changed\n"
    );
    assert_eq!(snapshot(&app).await, before);
    assert_eq!(
        app.latest_change().await,
        feed_before,
        "no access changes signalled"
    );

    // What the import made is what the API serves.
    let alice = User {
        id: app
            .admin()
            .await
            .query_one(
                "SELECT id FROM auth.users WHERE email = 'alice@example.com'",
                &[],
            )
            .await
            .unwrap()
            .get(0),
        email: "alice@example.com".into(),
        platform_admin: false,
    };
    let checkout = app.get(&alice, "/v1/projects/checkout").await.expect(200);
    assert_eq!(checkout["plan"], "team");
    assert_eq!(checkout["role"], "owner");
    assert_eq!(
        checkout["description"],
        "Cart, payment and order confirmation flows."
    );
}

#[tokio::test]
async fn an_import_updates_plans_names_settings_and_roles_and_reports_each_change() {
    let app = ProjectApp::spawn().await;
    example_users(&app).await;
    app.user("dave@example.com").await;
    run(&app, EXAMPLE, false).await.0.unwrap();

    let changed = "
projects:
  - slug: checkout
    name: Checkout and payments
    plan: enterprise
    status: archived
    settings: { default_branch: trunk }
    members:
      - { email: bob@example.com, role: member }
      - { email: dave@example.com, role: viewer }
  - slug: mobile-app
    name: Mobile app
";
    let (summary, report) = run(&app, changed, false).await;
    let summary = summary.unwrap();
    assert_eq!(
        summary,
        ImportSummary {
            projects_created: 0,
            projects_updated: 1,
            projects_unchanged: 1,
            members_added: 1,
            members_changed: 1,
        }
    );
    assert_eq!(
        report,
        "project checkout: updated name \"Checkout\" -> \"Checkout and payments\", settings, plan team -> enterprise, status active -> archived\n\
         project checkout: changed bob@example.com from admin to member\n\
         project checkout: added dave@example.com as viewer\n\
         project mobile-app: unchanged\n\
         import: 0 project(s) created, 1 updated, 1 unchanged; 1 membership(s) added, 1 changed\n"
    );
    let (again, _) = run(&app, changed, false).await;
    assert!(!again.unwrap().changed_anything());
}

#[tokio::test]
async fn a_bad_file_changes_nothing_and_names_every_problem() {
    let app = ProjectApp::spawn().await;
    app.user("alice@example.com").await;
    app.disabled_user("gone@example.com").await;
    let bad = "
projects:
  - slug: web
    name: Web
    members:
      - { email: alice@example.com, role: owner }
      - { email: nobody@example.com, role: member }
      - { email: gone@example.com, role: viewer }
  - slug: api
    name: API
    members:
      - { email: alice@example.com, role: admin }
";
    let (result, _) = run(&app, bad, false).await;
    let ImportError::Invalid(problems) = result.unwrap_err() else {
        panic!("not refused as invalid");
    };
    assert_eq!(
        problems,
        [
            "the user gone@example.com is disabled",
            "no user has the email nobody@example.com",
        ]
    );
    let fixed_users = bad
        .replace("      - { email: nobody@example.com, role: member }\n", "")
        .replace("      - { email: gone@example.com, role: viewer }\n", "");
    let (result, _) = run(&app, &fixed_users, false).await;
    let ImportError::Invalid(problems) = result.unwrap_err() else {
        panic!("not refused as invalid");
    };
    assert_eq!(
        problems,
        ["project api: a new project needs a member with the owner role"]
    );
    assert!(snapshot(&app).await.is_empty(), "nothing may change");

    let (result, _) = run(
        &app,
        "projects: [{slug: web, name: Web, colour: red}]",
        false,
    )
    .await;
    assert!(matches!(result, Err(ImportError::Parse(_))), "{result:?}");
}

#[tokio::test]
async fn the_import_never_demotes_a_projects_last_owner() {
    let app = ProjectApp::spawn().await;
    let alice = app.user("alice@example.com").await;
    app.create_project(&alice, "web", "Web").await;
    let before = snapshot(&app).await;

    let (result, _) = run(
        &app,
        "projects: [{slug: web, name: Web, members: [{email: alice@example.com, role: admin}]}]",
        false,
    )
    .await;
    let error = result.unwrap_err();
    assert!(
        matches!(
            &error,
            ImportError::Project { slug, source: ProjectError::Refused(Refusal::LastOwner) } if slug == "web"
        ),
        "{error:?}"
    );
    assert_eq!(snapshot(&app).await, before);
}

#[tokio::test]
async fn a_dry_run_reports_the_changes_and_makes_none() {
    let app = ProjectApp::spawn().await;
    example_users(&app).await;
    let (summary, report) = run(&app, EXAMPLE, true).await;
    assert_eq!(summary.unwrap().projects_created, 2);
    assert!(report.contains("project checkout: created"), "{report}");
    assert!(
        report.contains("(dry run, nothing was changed)"),
        "{report}"
    );
    assert!(snapshot(&app).await.is_empty());
}

#[tokio::test]
async fn the_import_command_runs_from_the_binary_and_prints_its_report() {
    let app = ProjectApp::spawn().await;
    example_users(&app).await;
    let database = app.project.database();
    let (host, port) = database.host_and_port();
    let file = std::env::temp_dir().join(format!("projects-{}.yaml", uuid::Uuid::now_v7()));
    std::fs::write(&file, EXAMPLE).unwrap();
    let command = || {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_project-service"));
        command
            .arg("import")
            .arg(&file)
            .env("FAULTLINE__ENVIRONMENT", "test")
            .envs(test_support::internal_token_env())
            .env("FAULTLINE__TELEMETRY__LOG_FILTER", "warn")
            .env("FAULTLINE__DATABASE__HOST", &host)
            .env("FAULTLINE__DATABASE__PORT", port.to_string())
            .env("FAULTLINE__DATABASE__NAME", database.name())
            .env("FAULTLINE__SERVICE__AUTH_URL", app.auth.url(""));
        command
    };
    let first = command().output().await.unwrap();
    let second = command().output().await.unwrap();
    std::fs::remove_file(&file).ok();
    let stdout = String::from_utf8_lossy(&first.stdout);
    assert!(
        first.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(
        stdout.contains("project checkout: created (plan team, status active)"),
        "{stdout}"
    );
    let stdout = String::from_utf8_lossy(&second.stdout);
    assert!(second.status.success());
    assert!(
        stdout.contains("2 unchanged; 0 membership(s) added, 0 changed"),
        "{stdout}"
    );

    assert_eq!(app.project.count_rows("project.memberships").await, 5);
}
