//! A round-robin TCP balancer over a changing set of replicas, as a
//! Service's endpoints are: a replica taken out gets no new connections,
//! and the connections it has stay open until it closes them.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;

#[derive(Debug)]
pub struct Balancer {
    port: u16,
    endpoints: Arc<Mutex<Vec<String>>>,
    accepting: AbortHandle,
}

impl Balancer {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let endpoints: Arc<Mutex<Vec<String>>> = Arc::default();
        let chosen = endpoints.clone();
        let next = AtomicUsize::new(0);
        let accepting = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let target = {
                    let endpoints = chosen.lock().unwrap();
                    if endpoints.is_empty() {
                        continue;
                    }
                    endpoints[next.fetch_add(1, Ordering::Relaxed) % endpoints.len()].clone()
                };
                tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
            }
        })
        .abort_handle();
        Self {
            port,
            endpoints,
            accepting,
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// `url` (`http://host:port`) gets new connections.
    pub fn add(&self, url: &str) {
        let address = url.trim_start_matches("http://").trim_end_matches('/');
        self.endpoints.lock().unwrap().push(address.to_owned());
    }

    /// `url` gets no new connections.
    pub fn remove(&self, url: &str) {
        let address = url.trim_start_matches("http://").trim_end_matches('/');
        self.endpoints.lock().unwrap().retain(|a| a != address);
    }
}

impl Drop for Balancer {
    fn drop(&mut self) {
        self.accepting.abort();
    }
}
