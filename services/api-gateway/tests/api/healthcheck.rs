//! `healthcheck` is what container health checks run (the image has no
//! shell or curl): 0 while the service answers, 1 when it does not.

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use test_support::eventually;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_api-gateway");

/// Runs `api-gateway healthcheck` against the admin port `admin_port`.
async fn healthcheck(admin_port: u16) -> bool {
    Command::new(BIN)
        .arg("healthcheck")
        .env("FAULTLINE__SERVER__ADMIN_PORT", admin_port.to_string())
        .stderr(Stdio::null())
        .status()
        .await
        .unwrap()
        .success()
}

#[tokio::test]
async fn healthcheck_passes_while_the_service_runs_and_fails_once_it_stopped() {
    // A port of our own that nothing listens on: bound, never listening.
    let reserved = tokio::net::TcpSocket::new_v4().unwrap();
    reserved
        .bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .unwrap();
    assert!(
        !healthcheck(reserved.local_addr().unwrap().port()).await,
        "nothing listens there"
    );

    // Both ports from the kernel; the service says which in its log.
    let mut service = Command::new(BIN)
        .arg("serve")
        .env("FAULTLINE__SERVER__PORT", "0")
        .env("FAULTLINE__SERVER__ADMIN_PORT", "0")
        .env("FAULTLINE__TELEMETRY__LOG_FORMAT", "json")
        .env("FAULTLINE__TELEMETRY__LOG_FILTER", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut log = BufReader::new(service.stdout.take().unwrap()).lines();
    let admin_port = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = log.next_line().await.unwrap() {
            let Ok(event) = serde_json::from_str::<Value>(&line) else {
                continue;
            };
            if event["message"] == "listening" {
                return u16::try_from(event["admin_port"].as_u64().unwrap()).unwrap();
            }
        }
        panic!("the service exited without listening");
    })
    .await
    .expect("the service logs its ports when it listens");
    // The rest of the log is read and dropped, so the service never
    // blocks writing it.
    tokio::spawn(async move { while let Ok(Some(_)) = log.next_line().await {} });

    eventually(
        "the service to become healthy",
        Duration::from_secs(10),
        || async { healthcheck(admin_port).await.then_some(()) },
    )
    .await;

    let terminated = Command::new("kill")
        .args(["-TERM", &service.id().unwrap().to_string()])
        .status()
        .await
        .unwrap();
    assert!(terminated.success());
    assert!(
        service.wait().await.unwrap().success(),
        "SIGTERM is a clean exit"
    );
    assert!(!healthcheck(admin_port).await);
}
