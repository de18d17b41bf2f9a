//! A backend whose first connection fails: the gateway retries an
//! idempotent GET once on a fresh connection, so the caller never sees a
//! connection failure that a second attempt would have got past.
//!
//! The failure is a connect timeout, made exactly once: the backend's
//! listener has an accept queue of one, held full, so the kernel drops the
//! gateway's first SYN. Once that SYN is seen waiting (`SYN_SENT` in
//! `/proc/net/tcp`) the queue is freed and the backend serves; the
//! gateway's connect timeout ends the first attempt long before the
//! kernel would send that SYN again (after a second), so the request
//! succeeds only if the gateway makes a second attempt.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use test_support::{Reply, TestApp};
use tokio::net::{TcpListener, TcpSocket, TcpStream};

use crate::isolation::FullPlatform;

/// The gateway's connect timeout here: well under the kernel's first SYN
/// retransmission (one second), so the first attempt can only time out.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(700);

/// Whether a connection from this machine to `port` is waiting for its
/// SYN to be answered.
fn syn_waiting_for(port: u16) -> bool {
    let Ok(table) = std::fs::read_to_string("/proc/net/tcp") else {
        return false;
    };
    let remote = format!(":{port:04X}");
    table.lines().skip(1).any(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        // sl, local_address, rem_address, st (02 = SYN_SENT), ...
        fields.len() > 3 && fields[2].ends_with(&remote) && fields[3] == "02"
    })
}

/// Forwards every connection `listener` accepts to `target` (`host:port`).
fn forward(listener: TcpListener, target: String) -> tokio::task::AbortHandle {
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let target = target.clone();
            tokio::spawn(async move {
                if let Ok(mut server) = TcpStream::connect(&target).await {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                }
            });
        }
    })
    .abort_handle()
}

#[tokio::test]
async fn an_idempotent_get_whose_first_connection_fails_is_retried_and_succeeds() {
    let failure = TestApp::spawn(&failure_service::SPEC, failure_service::build, &[]).await;
    let target = failure
        .url("")
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    // Backlog 0: one finished handshake fills the accept queue.
    let socket = TcpSocket::new_v4().unwrap();
    socket
        .bind((std::net::Ipv4Addr::LOCALHOST, test_support::later_port()).into())
        .unwrap();
    let listener = socket.listen(0).unwrap();
    let port = listener.local_addr().unwrap().port();
    let full = FullPlatform::start_with(
        failure,
        &[
            (
                "service.upstreams.failure.url",
                format!("http://127.0.0.1:{port}"),
            ),
            (
                "service.connect_timeout_ms",
                CONNECT_TIMEOUT.as_millis().to_string(),
            ),
        ],
    )
    .await;
    let owner = full.platform.sign_up_and_log_in("owner@example.com").await;
    full.platform.create_project(&owner, "shop").await;
    // The owner's membership is looked up (and cached) before the clock
    // matters: the GET below goes straight to the backend.
    full.send(
        Method::GET,
        "/api/v1/projects/shop",
        Some(&owner.access_token),
        None,
    )
    .await
    .expect(200);

    let filler = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let sent = Instant::now();
    let read = tokio::spawn(Reply::from_request(
        full.platform
            .request(Method::GET, "/api/v1/projects/shop/builds")
            .bearer_auth(&owner.access_token),
    ));
    let seen = test_support::app::poll_until(
        Duration::from_secs(10),
        Duration::from_millis(5),
        || async { syn_waiting_for(port).then_some(()) },
    )
    .await;
    assert!(seen.is_some(), "the gateway never tried to connect");
    // The queue is freed and the backend serves from here on.
    let (queued, _) = super::within(
        "the queued connection",
        Duration::from_secs(10),
        listener.accept(),
    )
    .await
    .unwrap();
    drop((queued, filler));
    let serving = forward(listener, target);

    let reply = super::within("the GET's answer", Duration::from_secs(30), read)
        .await
        .unwrap();
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert!(
        sent.elapsed() >= CONNECT_TIMEOUT,
        "answered after {:?}, before the first attempt could time out",
        sent.elapsed()
    );
    serving.abort();
}
