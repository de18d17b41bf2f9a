//! A body length two HTTP parsers could read differently is refused before
//! the route table, so nothing behind the gateway can be smuggled a second
//! request.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers;

/// The gateway's answer to `request` written on a raw connection.
async fn exchange(url: &str, request: String) -> String {
    let address = url.trim_start_matches("http://").trim_end_matches('/');
    let mut socket = TcpStream::connect(address).await.unwrap();
    socket.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    socket.read_to_end(&mut answer).await.unwrap();
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn transfer_encoding_beside_content_length_is_refused() {
    let gateway = helpers::gateway(&[]).await;
    let answer = exchange(
        &gateway.url(""),
        "POST /api/v1/auth/login HTTP/1.1\r\nHost: gateway\r\nConnection: close\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nContent-Length: 9\r\n\r\n\
         2\r\n{}\r\n0\r\n\r\n"
            .to_owned(),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 400 "), "{answer}");
    assert!(
        answer.contains("\"code\":\"request.ambiguous_length\""),
        "{answer}"
    );

    // The same body with one way of saying its length reaches the route.
    let answer = exchange(
        &gateway.url(""),
        "POST /api/v1/auth/login HTTP/1.1\r\nHost: gateway\r\nConnection: close\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n\
         2\r\n{}\r\n0\r\n\r\n"
            .to_owned(),
    )
    .await;
    assert!(!answer.contains("request.ambiguous_length"), "{answer}");
}
