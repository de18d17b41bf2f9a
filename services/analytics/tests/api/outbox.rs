//! `gate.failed`: written to the analytics outbox once per build, in the
//! transaction that stores the failed gate, and relayed to the real
//! integration gateway (started on the same database).

use serde_json::{Value, json};
use test_support::{TestApp, eventually};

use crate::helpers::{DEADLINE, Platform, Relay, fail, pass};

/// `(kind, payload)` of the analytics outbox's events, read as the admin.
async fn outbox(platform: &Platform) -> Vec<(String, Value)> {
    platform
        .database
        .admin_client()
        .await
        .query(
            "SELECT kind, payload FROM analytics.outbox ORDER BY id",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| (row.try_get(0).unwrap(), row.try_get(1).unwrap()))
        .collect()
}

#[tokio::test]
async fn a_failed_gate_lands_in_the_outbox_once_per_build_and_a_passed_one_never() {
    let platform = Platform::start(Relay::Nowhere).await;
    let project = platform.new_project().await;
    platform
        .rule(&project, "no failures", "max_failures", Some(0.0), "main")
        .await;
    platform
        .rule(&project, "enough", "min_tests", Some(1.0), "main")
        .await;
    let build = platform.create_build(&project, "ci", "main").await;
    platform
        .upload(&project, build, &[fail("t1", "A"), pass("t2")])
        .await;
    // Pending answers publish nothing.
    platform.gate(&project, build).await.expect(200);
    assert!(outbox(&platform).await.is_empty());
    platform.finish(&project, build, "failed").await;

    // Asked again and again, and evaluated by the consumer too: once.
    let db = platform.analytics_db().await;
    let calls = (0..4).map(|_| platform.gate(&project, build));
    for reply in futures_util::future::join_all(calls).await {
        assert_eq!(reply.body["status"], "failed", "{}", reply.text);
    }
    analytics_service::jobs::gate_evaluation::evaluate_on_build_completed(&db, project.id, build)
        .await
        .unwrap();
    let events = outbox(&platform).await;
    assert_eq!(events.len(), 1, "{events:?}");
    let (kind, payload) = &events[0];
    assert_eq!(kind, "gate.failed");
    let gate = platform.gate(&project, build).await.expect(200);
    assert_eq!(
        payload,
        &json!({
            "build_id": build,
            "job_name": "ci",
            "branch": "main",
            "commit_sha": null,
            "url": null,
            "failed_rules": [{"kind": "max_failures", "summary": "1 failure, at most 0 allowed"}],
            "evaluated_at": gate["evaluated_at"],
        })
    );

    let passing = platform
        .build(&project, "ci", "main", &[pass("t1")], "passed")
        .await;
    assert_eq!(
        platform.gate(&project, passing).await.expect(200)["status"],
        "passed"
    );
    assert_eq!(outbox(&platform).await.len(), 1);
}

#[tokio::test]
async fn gate_failed_is_relayed_to_the_integration_gateway() {
    let port = test_support::later_port();
    let platform = Platform::start_with(
        Relay::Nowhere,
        &[
            (
                "service.integration_gateway_url",
                format!("http://127.0.0.1:{port}"),
            ),
            ("service.outbox_relay_interval_ms", "50".to_owned()),
            ("service.outbox_backoff_base_ms", "100".to_owned()),
            ("service.outbox_backoff_max_secs", "1".to_owned()),
        ],
    )
    .await;
    let _gateway = TestApp::spawn_on(
        &integration_gateway::SPEC,
        integration_gateway::build,
        Some(platform.database.clone()),
        &[("server.port", port.to_string())],
    )
    .await;
    let project = platform.new_project().await;
    platform
        .rule(&project, "no failures", "max_failures", Some(0.0), "*")
        .await;
    let build = platform
        .build(&project, "ci", "main", &[fail("t1", "A")], "failed")
        .await;
    assert_eq!(
        platform.gate(&project, build).await.expect(200)["status"],
        "failed"
    );

    let admin = platform.database.admin_client().await;
    let (source, kind, payload): (String, String, Value) = eventually(
        "gate.failed in the integration gateway's inbox",
        DEADLINE,
        || async {
            admin
                .query_opt(
                    "SELECT source, kind, payload FROM integration.event_inbox
                      WHERE project_id = $1",
                    &[&project.id],
                )
                .await
                .unwrap()
                .map(|row| {
                    (
                        row.try_get(0).unwrap(),
                        row.try_get(1).unwrap(),
                        row.try_get(2).unwrap(),
                    )
                })
        },
    )
    .await;
    assert_eq!(
        (source.as_str(), kind.as_str()),
        ("analytics-service", "gate.failed")
    );
    assert_eq!(payload["build_id"], json!(build));
    platform
        .wait_for_count(
            "the event marked delivered",
            "SELECT count(*) FROM analytics.outbox WHERE delivered_at IS NOT NULL",
            1,
        )
        .await;
}
