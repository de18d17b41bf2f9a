//! `healthcheck` is what container health checks run (the image has no
//! shell or curl): 0 while the service answers, 1 when it does not.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers fail the test at the first broken expectation"
)]

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_api-gateway");

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn healthcheck(admin_port: u16) -> bool {
    Command::new(BIN)
        .arg("healthcheck")
        .env("FAULTLINE__SERVER__ADMIN_PORT", admin_port.to_string())
        .stderr(Stdio::null())
        .status()
        .unwrap()
        .success()
}

#[test]
fn healthcheck_passes_while_the_service_runs_and_fails_once_it_stopped() {
    let (port, admin_port) = (free_port(), free_port());
    assert!(!healthcheck(admin_port), "nothing listens yet");

    let mut service = Command::new(BIN)
        .arg("serve")
        .env("FAULTLINE__SERVER__PORT", port.to_string())
        .env("FAULTLINE__SERVER__ADMIN_PORT", admin_port.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !healthcheck(admin_port) {
        assert!(
            Instant::now() < deadline,
            "the service never became healthy"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    Command::new("kill")
        .args(["-TERM", &service.id().to_string()])
        .status()
        .unwrap();
    assert!(service.wait().unwrap().success(), "SIGTERM is a clean exit");
    assert!(!healthcheck(admin_port));
}
