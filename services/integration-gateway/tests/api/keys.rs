//! Master key rotation (`keys rewrap`) and what the sealing binds a
//! secret to: a ciphertext moved to another project does not open.

use serde_json::json;
use uuid::Uuid;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use integration_gateway::SPEC;
use integration_gateway::secrets::rewrap_data_keys;

use crate::helpers::{
    build_completed, connect, relay_events, rule, spawn, spawn_with, wait_for_deliveries,
    with_master_keys,
};

async fn receiver(at: &str, status: u16) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(at))
        .respond_with(ResponseTemplate::new(status))
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn keys_rewrap_moves_every_data_key_to_the_newest_master_key_and_every_secret_stays_readable()
{
    let first = spawn(&[]).await;
    let database = first.shared_database().unwrap();
    let slack = receiver("/services/T0/B0/rotated", 200).await;
    let projects = [Uuid::now_v7(), Uuid::now_v7()];
    for project in projects {
        let connection = connect(
            &first,
            project,
            json!({"kind": "slack", "name": "alerts", "webhook_url": format!("{}/services/T0/B0/rotated", slack.uri())}),
        )
        .await;
        rule(&first, project, &connection, &["build.completed"]).await;
    }
    first.stop().await;

    // As an operator runs it: the binary, configured by the environment,
    // with the new master key `k2` current and the old `k1` still known.
    let rotation = with_master_keys("k2", &[("k1", 1), ("k2", 2)]);
    let (host, port) = database.host_and_port();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_integration-gateway"))
        .args(["keys", "rewrap"])
        .env("FAULTLINE__ENVIRONMENT", "test")
        .envs(test_support::internal_token_env())
        .env("FAULTLINE__DATABASE__HOST", host)
        .env("FAULTLINE__DATABASE__PORT", port.to_string())
        .env("FAULTLINE__DATABASE__NAME", database.name())
        .envs(rotation.iter().map(|(key, value)| {
            (
                format!("FAULTLINE__{}", key.replace('.', "__").to_uppercase()),
                value.clone(),
            )
        }))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "keys rewrap: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    // A second run finds nothing left to move.
    let settings: integration_gateway::Settings =
        test_support::settings(&SPEC, Some(&database), &rotation);
    let db = tenant_core::server::connect_database(&SPEC, &settings)
        .await
        .unwrap()
        .unwrap();
    let keys = integration_gateway::master_keys(&settings).unwrap();
    assert_eq!(rewrap_data_keys(&db, &keys).await.unwrap().rewrapped, 0);
    let client = database.admin_client().await;
    let ids: Vec<String> = client
        .query("SELECT master_key_id FROM integration.project_keys", &[])
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(ids, ["k2", "k2"]);

    // The old master key is gone from the settings; secrets still open.
    let rotated = spawn_with(database.clone(), &with_master_keys("k2", &[("k2", 2)])).await;
    for project in projects {
        relay_events(
            &rotated,
            project,
            &[build_completed(project, "job-0", "main")],
        )
        .await;
        wait_for_deliveries(&rotated, project, 1, "delivered").await;
    }
    assert_eq!(slack.received_requests().await.unwrap().len(), 2);
}

#[tokio::test]
async fn a_data_key_whose_master_key_is_not_configured_is_reported_and_left_as_it_was() {
    let first = spawn(&[]).await;
    let database = first.shared_database().unwrap();
    let project = Uuid::now_v7();
    connect(
        &first,
        project,
        json!({"kind": "slack", "name": "alerts", "webhook_url": "http://127.0.0.1:9/services/x"}),
    )
    .await;
    first.stop().await;
    let settings: integration_gateway::Settings = test_support::settings(
        &SPEC,
        Some(&database),
        &with_master_keys("k2", &[("k2", 2)]),
    );
    let db = tenant_core::server::connect_database(&SPEC, &settings)
        .await
        .unwrap()
        .unwrap();
    let keys = integration_gateway::master_keys(&settings).unwrap();
    let report = rewrap_data_keys(&db, &keys).await.unwrap();
    assert_eq!(report.rewrapped, 0);
    assert_eq!(report.failed, [project]);
}

#[tokio::test]
async fn a_sealed_secret_copied_to_another_project_or_connection_does_not_open() {
    let app = spawn(&[]).await;
    let theirs = receiver("/hook", 200).await;
    let ours = receiver("/hook", 200).await;
    let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
    let hook = |server: &MockServer, secret: &str| json!({"kind": "webhook", "name": "hook", "url": format!("{}/hook", server.uri()), "signing_secret": secret});
    let from = connect(
        &app,
        a,
        hook(&theirs, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
    )
    .await;
    let to = connect(
        &app,
        b,
        hook(&ours, "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
    )
    .await;
    rule(&app, b, &to, &["build.completed"]).await;
    // Same project, same data key: only the associated data tells them apart.
    let mut sibling_hook = hook(&theirs, "whsec_BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB");
    sibling_hook["name"] = json!("sibling");
    let sibling = connect(&app, b, sibling_hook).await;
    let client = app.database().admin_client().await;
    let copy = |source: String| {
        let client = &client;
        let to = to.clone();
        async move {
            client
                .execute(
                    "UPDATE integration.connection_secrets AS target
                        SET sealed = source.sealed
                       FROM integration.connection_secrets AS source
                      WHERE source.connection_id = $1 AND target.connection_id = $2",
                    &[
                        &source.parse::<Uuid>().unwrap(),
                        &to.parse::<Uuid>().unwrap(),
                    ],
                )
                .await
                .unwrap()
        }
    };
    assert_eq!(copy(from).await, 1);
    relay_events(&app, b, &[build_completed(b, "job-0", "main")]).await;
    let dead = wait_for_deliveries(&app, b, 1, "dead").await;
    assert!(
        dead[0]["last_error"]
            .as_str()
            .unwrap()
            .contains("cannot be opened"),
        "{}",
        dead[0]
    );

    assert_eq!(copy(sibling).await, 1);
    let id = dead[0]["id"].as_str().unwrap();
    app.post(
        &format!("{}/{id}/retry", crate::helpers::deliveries_path(b)),
        &crate::helpers::admin(b),
        json!({}),
    )
    .await
    .expect(202);
    let dead = wait_for_deliveries(&app, b, 1, "dead").await;
    assert_eq!(dead[0]["attempts"], 1);
    assert!(ours.received_requests().await.unwrap().is_empty());
    assert!(theirs.received_requests().await.unwrap().is_empty());
}
