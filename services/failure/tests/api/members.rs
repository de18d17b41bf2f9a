//! A stand-in for the project service's `GET /internal/v1/access`: real
//! HTTP on a port of its own, answering 200 with a role for the members
//! it was given and 404 (`access.not_found`) for anyone else, as the
//! project service does.

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::TcpListener;

use uuid::Uuid;

/// The stand-in's base URL (for `service.project_url`); it answers, one
/// connection at a time on a thread of its own, until the test ends.
pub fn project_service(project_id: Uuid, members: &[Uuid]) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let members: HashSet<Uuid> = members.iter().copied().collect();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else {
                return;
            };
            {
                let mut head = Vec::new();
                let mut buffer = [0_u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buffer) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => head.extend_from_slice(&buffer[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&head);
                let target = head.split_whitespace().nth(1).unwrap_or_default();
                let user = target
                    .split(['?', '&'])
                    .find_map(|pair| pair.strip_prefix("user="))
                    .and_then(|user| user.parse::<Uuid>().ok());
                let (status, body) = match user {
                    Some(user)
                        if target.starts_with("/internal/v1/access?")
                            && members.contains(&user) =>
                    {
                        (
                            "200 OK",
                            serde_json::json!({
                                "project_id": project_id,
                                "slug": "shop",
                                "status": "active",
                                "role": "member",
                                "as_of_seq": 1,
                            })
                            .to_string(),
                        )
                    }
                    _ => (
                        "404 Not Found",
                        serde_json::json!({"code": "access.not_found", "status": 404}).to_string(),
                    ),
                };
                let response = format!(
                    "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes());
                let _ = stream.flush();
            }
        }
    });
    url
}
