//! The six services on the shared base, against one real database.

use std::time::Duration;

use reqwest::StatusCode;
use tenant_core::{Application, Migration, ServiceSpec};
use test_support::{RunningService, TestDatabase};

fn all_services() -> [&'static ServiceSpec; 7] {
    [
        &api_gateway::SPEC,
        &auth_service::SPEC,
        &project_service::SPEC,
        &failure_service::SPEC,
        &analytics_service::SPEC,
        &integration_gateway::SPEC,
        &web_service::SPEC,
    ]
}

/// Starts `spec` with settings loaded as a test loads them (each service
/// has its own `[service]` settings type), pointed at `database`.
async fn build(
    spec: &'static ServiceSpec,
    database: Option<&TestDatabase>,
    extra: &[(&'static str, String)],
) -> Application {
    fn started<E: std::fmt::Debug>(result: Result<Application, E>) -> Result<Application, String> {
        result.map_err(|error| format!("{error:?}"))
    }
    let host = match spec.name {
        "api-gateway" => {
            started(api_gateway::build(test_support::settings(spec, database, extra)).await)
        }
        "auth-service" => {
            started(auth_service::build(test_support::settings(spec, database, extra)).await)
        }
        "project-service" => {
            started(project_service::build(test_support::settings(spec, database, extra)).await)
        }
        "failure-service" => {
            started(failure_service::build(test_support::settings(spec, database, extra)).await)
        }
        "analytics-service" => {
            started(analytics_service::build(test_support::settings(spec, database, extra)).await)
        }
        "integration-gateway" => {
            started(integration_gateway::build(test_support::settings(spec, database, extra)).await)
        }
        "web-service" => {
            started(web_service::build(test_support::settings(spec, database, extra)).await)
        }
        other => panic!("unknown service {other}"),
    };
    host.unwrap_or_else(|error| panic!("{} failed to start: {error}", spec.name))
}

#[tokio::test]
async fn every_service_migrates_its_schema_and_answers_health_readiness_and_metrics() {
    let database = TestDatabase::create_bootstrapped().await;
    let client = test_support::http_client();
    let mut running = Vec::new();
    for spec in all_services() {
        let host = build(
            spec,
            Some(&database),
            &[("database.migrate_on_start", "true".to_owned())],
        )
        .await;
        running.push((spec, RunningService::spawn(host)));
    }

    for (spec, service) in &running {
        let health = client.get(service.url("/healthz")).send().await.unwrap();
        assert_eq!(health.status(), StatusCode::OK, "{} /healthz", spec.name);
        for url in [service.url("/readyz"), service.admin_url("/readyz")] {
            let ready = client.get(&url).send().await.unwrap();
            assert_eq!(ready.status(), StatusCode::OK, "{} {url}", spec.name);
        }
        let metrics = client
            .get(service.admin_url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            metrics.contains("http_server_request_duration_seconds_bucket")
                && metrics.contains(&format!("service=\"{}\"", spec.name)),
            "{} metrics:\n{metrics}",
            spec.name
        );
    }

    for spec in all_services() {
        let Some(schema) = spec.schema else { continue };
        let version = database.applied_migration_version(schema).await;
        assert_eq!(
            version,
            tenant_core::migrate::latest_version(spec.migrations),
            "{schema}"
        );
    }
    for (_, service) in running {
        service.stop().await.unwrap();
    }
}

#[test]
fn every_service_embeds_exactly_the_migrations_in_its_folder() {
    let root = test_support::workspace_root().join("migrations");
    let mut schemas_seen = Vec::new();
    for spec in all_services() {
        let Some(schema) = spec.schema else {
            assert!(
                spec.migrations.is_empty(),
                "{} has no schema but embeds migrations",
                spec.name
            );
            continue;
        };
        let on_disk = tenant_core::migrate::read_dir(&root.join(schema)).unwrap();
        let describe = |ms: &[Migration]| {
            ms.iter()
                .map(|m| (m.version, m.name.to_string(), m.checksum()))
                .collect::<Vec<_>>()
        };
        assert_eq!(describe(spec.migrations), describe(&on_disk), "{schema}");
        assert!(!on_disk.is_empty(), "{schema} has no migration");
        schemas_seen.push(schema);
    }
    schemas_seen.sort_unstable();
    let mut expected = test_support::SCHEMAS.to_vec();
    expected.sort_unstable();
    assert_eq!(schemas_seen, expected);
}

#[tokio::test]
async fn replicas_migrating_at_once_apply_each_migration_exactly_once() {
    let database = TestDatabase::create_bootstrapped().await;
    let settings: failure_service::Settings =
        test_support::settings(&failure_service::SPEC, Some(&database), &[]);
    let db_settings = settings.database.unwrap();
    let runs = (0..4).map(|_| {
        let db_settings = db_settings.clone();
        tokio::spawn(async move {
            tenant_core::server::migrate_schema(&failure_service::SPEC, &db_settings).await
        })
    });
    let mut applied = Vec::new();
    for run in runs {
        applied.extend(run.await.unwrap().unwrap().applied);
    }
    let versions: Vec<i64> = failure_service::MIGRATIONS
        .iter()
        .map(|migration| migration.version)
        .collect();
    applied.sort_unstable();
    assert_eq!(
        applied, versions,
        "exactly one replica applies each version"
    );
    let rows: i64 = database
        .admin_client()
        .await
        .query_one("SELECT count(*) FROM failure.schema_migrations", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(rows, versions.len() as i64);
}

#[tokio::test]
async fn a_migration_edited_after_it_ran_is_refused() {
    let database = TestDatabase::create().await;
    let settings: failure_service::Settings =
        test_support::settings(&failure_service::SPEC, Some(&database), &[]);
    let mut owner =
        test_support::connect(&settings.database.as_ref().unwrap().owner_connection("test"))
            .await
            .unwrap();
    let edited = [Migration::embedded(1, "builds", "SELECT 1")];
    let error = tenant_core::migrate::run(&mut owner, "failure", "failure_app", &edited)
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            tenant_core::migrate::MigrationError::Modified { version: 1, .. }
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_service_refuses_to_start_as_a_superuser_a_bypassrls_role_or_an_owner() {
    let database = TestDatabase::create().await;
    let admin = database.admin_client().await;
    let bypass = format!("bypass_{}", uuid::Uuid::new_v4().simple());
    admin
        .batch_execute(&format!(
            "CREATE ROLE {bypass} LOGIN BYPASSRLS PASSWORD 'bypass-password';
             GRANT USAGE ON SCHEMA failure TO {bypass};"
        ))
        .await
        .unwrap();
    let admin_config: tokio_postgres::Config = test_support::admin_url().unwrap().parse().unwrap();
    let superuser = admin_config.get_user().unwrap().to_owned();
    let superuser_password = admin_config
        .get_password()
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .unwrap_or_default();

    let cases = [
        (superuser, superuser_password, "superuser"),
        (bypass.clone(), "bypass-password".to_owned(), "BYPASSRLS"),
        (
            "failure_owner".to_owned(),
            tenant_core::config::dev_role_password("failure_owner"),
            "owns",
        ),
    ];
    for (user, password, expected) in cases {
        let settings: failure_service::Settings = test_support::settings(
            &failure_service::SPEC,
            Some(&database),
            &[
                ("database.app_user", user.clone()),
                ("database.app_password", password),
            ],
        );
        let error = failure_service::build(settings).await.unwrap_err();
        let message = tenant_core::error::error_chain(&error);
        assert!(
            message.contains(expected) && message.contains(&user),
            "{user}: {message}"
        );
    }
    admin
        .batch_execute(&format!("DROP OWNED BY {bypass}; DROP ROLE {bypass}"))
        .await
        .unwrap();
}

#[tokio::test]
async fn readiness_follows_the_database_down_and_back_up_without_a_restart() {
    let cluster = test_support::cluster::EphemeralCluster::start()
        .await
        .unwrap();
    let name = cluster.create_platform_database().await.unwrap();
    let host = build(
        &failure_service::SPEC,
        None,
        &[
            ("database.host", cluster.host()),
            ("database.port", cluster.port().to_string()),
            ("database.name", name),
            ("database.ready_timeout_ms", "500".to_owned()),
            ("database.connect_timeout_ms", "500".to_owned()),
        ],
    )
    .await;
    let service = RunningService::spawn(host);
    let client = test_support::http_client();
    let ready = service.admin_url("/readyz");
    assert!(test_support::wait_for_status(&client, &ready, 200, Duration::from_secs(5)).await);

    cluster.stop_server().await.unwrap();
    assert!(
        test_support::wait_for_status(&client, &ready, 503, Duration::from_secs(10)).await,
        "not 503 with PostgreSQL down"
    );
    let body: serde_json::Value = client
        .get(&ready)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["code"], "service.not_ready");
    assert_eq!(
        client
            .get(service.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK,
        "liveness must not depend on the database"
    );

    cluster.start_server().await.unwrap();
    assert!(
        test_support::wait_for_status(&client, &ready, 200, Duration::from_secs(15)).await,
        "not ready again after PostgreSQL came back"
    );
    service.stop().await.unwrap();
}
