//! A TCP proxy a test can cut and restore: what a stopped database or a
//! crashed backend looks like from the services in front of it (open
//! connections reset, new ones refused because nothing listens), for this
//! test alone.

use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;

#[derive(Debug)]
pub struct Cuttable {
    port: u16,
    target: String,
    connections: Arc<Mutex<Vec<AbortHandle>>>,
    accepting: Mutex<Option<AbortHandle>>,
}

impl Cuttable {
    /// Listens on a free port and forwards every connection to `target`
    /// (`host:port`).
    pub async fn start(target: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let cuttable = Self {
            port: listener.local_addr().unwrap().port(),
            target,
            connections: Arc::default(),
            accepting: Mutex::new(None),
        };
        cuttable.serve(listener);
        cuttable
    }

    fn serve(&self, listener: TcpListener) {
        let (target, tracked) = (self.target.clone(), self.connections.clone());
        let accepting = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let target = target.clone();
                let forwarding = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                let mut open = tracked.lock().unwrap();
                open.retain(|handle| !handle.is_finished());
                open.push(forwarding.abort_handle());
            }
        });
        *self.accepting.lock().unwrap() = Some(accepting.abort_handle());
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Stops listening and drops every open connection.
    pub fn cut(&self) {
        if let Some(accepting) = self.accepting.lock().unwrap().take() {
            accepting.abort();
        }
        for connection in self.connections.lock().unwrap().drain(..) {
            connection.abort();
        }
    }

    /// Listens on the same port again.
    pub async fn restore(&self) {
        let listener = TcpListener::bind(("127.0.0.1", self.port)).await.unwrap();
        self.serve(listener);
    }
}

impl Drop for Cuttable {
    fn drop(&mut self) {
        self.cut();
    }
}
