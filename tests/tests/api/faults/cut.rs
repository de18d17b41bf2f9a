//! A TCP proxy a test can cut and restore: what a stopped database, a
//! network partition or a crashed backend looks like from the services in
//! front of it, for this test alone.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;

#[derive(Debug, Default)]
struct Shared {
    /// New connections are held open and never forwarded.
    swallowing: AtomicBool,
    /// Forwarding and swallowing connections, to drop on a cut.
    open: Mutex<Vec<AbortHandle>>,
}

#[derive(Debug)]
pub struct Cuttable {
    port: u16,
    target: String,
    shared: Arc<Shared>,
    accepting: Mutex<Option<AbortHandle>>,
}

impl Cuttable {
    /// Listens on a free port outside the ephemeral range (it rebinds it
    /// after a cut) and forwards every connection to `target`
    /// (`host:port`).
    pub async fn start(target: String) -> Self {
        let listener = TcpListener::bind(("127.0.0.1", test_support::later_port()))
            .await
            .unwrap();
        let cuttable = Self {
            port: listener.local_addr().unwrap().port(),
            target,
            shared: Arc::default(),
            accepting: Mutex::new(None),
        };
        cuttable.serve(listener);
        cuttable
    }

    fn serve(&self, listener: TcpListener) {
        let (target, shared) = (self.target.clone(), self.shared.clone());
        let accepting = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let target = target.clone();
                let swallow = shared.swallowing.load(Ordering::SeqCst);
                let connection = tokio::spawn(async move {
                    if swallow {
                        // A partition: connected, and then nothing, ever.
                        std::future::pending::<()>().await;
                    }
                    if let Ok(mut server) = TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                let mut open = shared.open.lock().unwrap();
                open.retain(|handle| !handle.is_finished());
                open.push(connection.abort_handle());
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

    fn drop_connections(&self) {
        for connection in self.shared.open.lock().unwrap().drain(..) {
            connection.abort();
        }
    }

    /// A stopped server: nothing listens, open connections are reset.
    pub fn cut(&self) {
        if let Some(accepting) = self.accepting.lock().unwrap().take() {
            accepting.abort();
        }
        self.drop_connections();
    }

    /// A partition: open connections are reset and new ones connect but
    /// never get an answer, so only the client's own timeouts end them.
    pub fn black_hole(&self) {
        self.shared.swallowing.store(true, Ordering::SeqCst);
        self.drop_connections();
    }

    /// Forwards again, on the same port.
    pub async fn restore(&self) {
        self.shared.swallowing.store(false, Ordering::SeqCst);
        self.drop_connections();
        if self.accepting.lock().unwrap().is_none() {
            let listener = TcpListener::bind(("127.0.0.1", self.port)).await.unwrap();
            self.serve(listener);
        }
    }
}

impl Drop for Cuttable {
    fn drop(&mut self) {
        self.cut();
    }
}
