//! The client against an upstream that answers from a script, byte for byte.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::*;

/// What the scripted upstream does with the next request it reads.
enum Step {
    /// Writes these pieces, one write each, and keeps the connection.
    Answer(Vec<&'static [u8]>),
    /// Writes the answer, then closes the connection.
    AnswerAndClose(&'static [u8]),
    /// Reads the request and never answers.
    Silence,
}

struct Upstream {
    origin: Origin,
    connections: Arc<AtomicUsize>,
}

async fn scripted(steps: Vec<Step>) -> Upstream {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let connections = Arc::new(AtomicUsize::new(0));
    let steps = Arc::new(Mutex::new(VecDeque::from(steps)));
    let counted = connections.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
            let steps = steps.clone();
            tokio::spawn(async move {
                let mut seen = Vec::new();
                loop {
                    let mut buf = [0_u8; 4096];
                    while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                        match socket.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => seen.extend_from_slice(&buf[..n]),
                        }
                    }
                    seen.clear();
                    let step = steps.lock().unwrap().pop_front();
                    match step {
                        Some(Step::Answer(pieces)) => {
                            for piece in pieces {
                                socket.write_all(piece).await.unwrap();
                            }
                        }
                        Some(Step::AnswerAndClose(answer)) => {
                            socket.write_all(answer).await.unwrap();
                            return;
                        }
                        Some(Step::Silence) => {
                            std::future::pending::<()>().await;
                        }
                        None => return,
                    }
                }
            });
        }
    });
    Upstream {
        origin: Origin::parse(&format!("http://127.0.0.1:{port}")).unwrap(),
        connections,
    }
}

fn client() -> UpstreamClient {
    UpstreamClient::new(Duration::from_secs(2), Duration::from_secs(4), 8)
}

const GET: &[u8] = b"GET /v1/me HTTP/1.1\r\nhost: upstream\r\n\r\n";

async fn get(
    client: &UpstreamClient,
    upstream: &Upstream,
    timeout: Duration,
) -> Result<(u16, Vec<u8>), UpstreamError> {
    let response = client
        .send(Request {
            origin: &upstream.origin,
            head: GET,
            body: RequestBody::None,
            head_only: false,
            retriable: true,
            deadline: tokio::time::Instant::now() + timeout,
        })
        .await?;
    let body = match response.body {
        ResponseBody::Empty => Vec::new(),
        ResponseBody::Whole(bytes) => bytes.to_vec(),
        ResponseBody::Stream { mut stream, .. } => {
            let mut body = Vec::new();
            while let Some(piece) = stream.0.next().await {
                body.extend_from_slice(&piece?);
            }
            body
        }
    };
    Ok((response.status.as_u16(), body))
}

const SECOND: Duration = Duration::from_secs(1);

#[tokio::test]
async fn a_chunked_answer_arrives_whole_and_its_connection_serves_the_next_request() {
    let upstream = scripted(vec![
        Step::Answer(vec![
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhel",
            b"lo\r\n7\r\n, world\r\n0\r\n\r\n",
        ]),
        Step::Answer(vec![b"HTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\nok"]),
    ])
    .await;
    let client = client();
    assert_eq!(
        get(&client, &upstream, SECOND).await.unwrap(),
        (200, b"hello, world".to_vec())
    );
    assert_eq!(
        get(&client, &upstream, SECOND).await.unwrap(),
        (201, b"ok".to_vec())
    );
    assert_eq!(upstream.connections.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_pooled_connection_the_upstream_closed_is_replaced_without_failing_the_request() {
    let upstream = scripted(vec![
        Step::AnswerAndClose(b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\none"),
        Step::Answer(vec![b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\ntwo"]),
    ])
    .await;
    let client = client();
    assert_eq!(
        get(&client, &upstream, SECOND).await.unwrap(),
        (200, b"one".to_vec())
    );
    assert_eq!(
        get(&client, &upstream, SECOND).await.unwrap(),
        (200, b"two".to_vec())
    );
    assert_eq!(upstream.connections.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn an_answer_without_a_length_is_read_until_the_upstream_closes() {
    let upstream = scripted(vec![Step::AnswerAndClose(
        b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\nall of it",
    )])
    .await;
    assert_eq!(
        get(&client(), &upstream, SECOND).await.unwrap(),
        (200, b"all of it".to_vec())
    );
}

#[tokio::test]
async fn an_answer_cut_short_of_its_length_is_an_error_not_a_short_body() {
    let upstream = scripted(vec![Step::AnswerAndClose(
        b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nshort",
    )])
    .await;
    let error = get(&client(), &upstream, SECOND).await.unwrap_err();
    assert!(matches!(error, UpstreamError::Io(_)), "{error:?}");
}

#[tokio::test]
async fn an_answer_that_is_not_http_is_refused() {
    let upstream = scripted(vec![Step::AnswerAndClose(b"220 smtp ready\r\n\r\n")]).await;
    let error = get(&client(), &upstream, SECOND).await.unwrap_err();
    assert!(matches!(error, UpstreamError::Protocol(_)), "{error:?}");
}

#[tokio::test]
async fn informational_answers_are_skipped() {
    let upstream = scripted(vec![Step::Answer(vec![
        b"HTTP/1.1 100 Continue\r\n\r\n",
        b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\ndone",
    ])])
    .await;
    assert_eq!(
        get(&client(), &upstream, SECOND).await.unwrap(),
        (200, b"done".to_vec())
    );
}

#[tokio::test]
async fn an_upstream_that_never_answers_times_out_at_the_deadline() {
    let upstream = scripted(vec![Step::Silence]).await;
    let error = get(&client(), &upstream, Duration::from_millis(200))
        .await
        .unwrap_err();
    assert!(error.is_timeout(), "{error:?}");
}

#[tokio::test]
async fn an_upstream_nobody_listens_on_is_a_connect_error() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let upstream = Upstream {
        origin: Origin::parse(&format!("http://127.0.0.1:{port}")).unwrap(),
        connections: Arc::new(AtomicUsize::new(0)),
    };
    let error = get(&client(), &upstream, SECOND).await.unwrap_err();
    assert!(error.is_connect(), "{error:?}");
}

#[test]
fn only_plain_http_upstreams_are_accepted() {
    let origin = Origin::parse("http://failure-service:8080/base/").unwrap();
    assert_eq!(origin.authority(), "failure-service:8080");
    assert_eq!(origin.base_path(), "/base");
    assert_eq!(
        Origin::parse("http://[::1]:7401").unwrap().authority(),
        "[::1]:7401"
    );
    for refused in [
        "https://auth-service:8443",
        "http://user:secret@auth-service",
        "http://auth-service/?q=1",
        "auth-service:8080",
    ] {
        assert!(Origin::parse(refused).is_err(), "{refused}");
    }
}
