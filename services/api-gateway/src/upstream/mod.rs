//! The gateway's HTTP/1.1 client towards its upstreams.
//!
//! Every request through the gateway is one exchange with a service over
//! plain HTTP/1.1, so the client does only that, inside the request's own
//! task: take a pooled connection of the worker thread (or connect), write
//! the head the proxy built, stream the body, read the answer's head, then
//! read a small body whole or hand the connection to the body's stream,
//! which puts it back in the pool when the body ends. No connection task,
//! no URL parsing and no header map in between: a general-purpose client
//! (reqwest over hyper's pooled client) cost the gateway about a fifth of
//! its time (docs/benchmarks.md).
//!
//! Connections are pooled per worker thread: each actix worker is a
//! single-threaded runtime that drives the sockets it opened.

mod chunked;
mod exchange;
mod head;
#[cfg(test)]
mod tests;

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::io;
use std::sync::Arc;
use std::task::{Context, Waker};
use std::time::{Duration, Instant};

use actix_web::web::BytesMut;
use thread_local::ThreadLocal;
use tokio::net::TcpStream;

pub use exchange::{BodyStream, Request, RequestBody, ResponseBody, UpstreamResponse};

/// Why an exchange with an upstream failed.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("cannot connect to the upstream")]
    Connect(#[source] io::Error),
    #[error("the upstream did not answer in time")]
    Timeout,
    #[error("the connection to the upstream failed")]
    Io(#[source] io::Error),
    #[error("the upstream's answer is not valid HTTP/1.1: {0}")]
    Protocol(&'static str),
    #[error("the request body exceeds the route's limit")]
    BodyTooLarge,
    #[error("the client stopped sending its body")]
    BodyStalled,
    #[error("the client's body broke off: {0}")]
    ClientBody(String),
}

impl UpstreamError {
    /// Whether the upstream could not be reached at all.
    pub fn is_connect(&self) -> bool {
        matches!(self, Self::Connect(_))
    }

    pub fn is_timeout(&self) -> bool {
        matches!(self, Self::Timeout)
    }
}

/// Where an upstream listens, from its `http://host:port` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    host: String,
    port: u16,
    /// `host:port`, the `Host` header and the pool's key.
    authority: String,
    /// The URL's path, put before every upstream path (without a trailing `/`).
    base_path: String,
}

impl Origin {
    /// Parses an upstream URL. Only `http` is spoken: TLS between the
    /// gateway and a service is a sidecar's (docs/operations.md).
    pub fn parse(url: &str) -> Result<Self, String> {
        let parsed = reqwest::Url::parse(url).map_err(|_| "is not a URL".to_owned())?;
        if parsed.scheme() != "http" {
            return Err("must be an http:// URL (TLS to a service is a sidecar's)".to_owned());
        }
        if parsed.query().is_some() || parsed.fragment().is_some() || !parsed.username().is_empty()
        {
            return Err("must not carry a query, a fragment or credentials".to_owned());
        }
        let Some(named) = parsed.host_str() else {
            return Err("names no host".to_owned());
        };
        let port = parsed.port_or_known_default().unwrap_or(80);
        let authority = format!("{named}:{port}");
        // An IPv6 address is bracketed in a URL, not when connecting.
        let host = named
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        Ok(Self {
            host,
            port,
            authority,
            base_path: parsed.path().trim_end_matches('/').to_owned(),
        })
    }

    pub fn authority(&self) -> &str {
        &self.authority
    }

    pub fn base_path(&self) -> &str {
        &self.base_path
    }
}

/// A connection to an upstream and what was read from it but not used yet.
#[derive(Debug)]
struct Connection {
    stream: TcpStream,
    buf: BytesMut,
}

impl Connection {
    /// Whether the upstream left an idle connection open and quiet. Asked
    /// of the reactor's readiness first (no system call): a socket with
    /// nothing to read is open; one marked readable is read once to tell
    /// a stale mark from a close (or bytes nobody asked for).
    fn is_idle(&self) -> bool {
        let mut context = Context::from_waker(Waker::noop());
        if self.stream.poll_read_ready(&mut context).is_pending() {
            return true;
        }
        let mut probe = [0_u8; 1];
        matches!(self.stream.try_read(&mut probe), Err(error) if error.kind() == io::ErrorKind::WouldBlock)
    }
}

#[derive(Debug)]
struct Idle {
    connection: Connection,
    since: Instant,
}

/// One worker thread's idle connections, by upstream authority, newest last.
#[derive(Debug, Default)]
struct Pool {
    idle: RefCell<HashMap<String, VecDeque<Idle>>>,
}

#[derive(Debug)]
struct Pools {
    threads: ThreadLocal<Pool>,
    idle_timeout: Duration,
    max_idle: usize,
}

impl Pools {
    /// An idle connection to `origin` that is still open, if any.
    fn take(&self, origin: &Origin) -> Option<Connection> {
        let pool = self.threads.get_or_default();
        let mut idle = pool.idle.borrow_mut();
        let queue = idle.get_mut(&origin.authority)?;
        let now = Instant::now();
        while queue
            .front()
            .is_some_and(|oldest| now.duration_since(oldest.since) >= self.idle_timeout)
        {
            queue.pop_front();
        }
        while let Some(Idle { connection, .. }) = queue.pop_back() {
            if connection.is_idle() {
                return Some(connection);
            }
        }
        None
    }

    fn put(&self, authority: &str, connection: Connection) {
        if !connection.buf.is_empty() {
            return;
        }
        let pool = self.threads.get_or_default();
        let mut idle = pool.idle.borrow_mut();
        let queue = match idle.get_mut(authority) {
            Some(queue) => queue,
            None => idle.entry(authority.to_owned()).or_default(),
        };
        if queue.len() < self.max_idle {
            queue.push_back(Idle {
                connection,
                since: Instant::now(),
            });
        }
    }
}

/// The client every worker thread shares; connections are the thread's own.
#[derive(Debug, Clone)]
pub struct UpstreamClient {
    pools: Arc<Pools>,
    connect_timeout: Duration,
}

impl UpstreamClient {
    /// `idle_timeout` must stay below the services' keep-alive: a pooled
    /// connection the service is closing as it is reused fails a request
    /// that cannot always be sent again.
    pub fn new(connect_timeout: Duration, idle_timeout: Duration, max_idle: usize) -> Self {
        Self {
            pools: Arc::new(Pools {
                threads: ThreadLocal::new(),
                idle_timeout,
                max_idle,
            }),
            connect_timeout,
        }
    }

    async fn connect(&self, origin: &Origin) -> Result<Connection, UpstreamError> {
        let connecting = TcpStream::connect((origin.host.as_str(), origin.port));
        let stream = tokio::time::timeout(self.connect_timeout, connecting)
            .await
            .map_err(|_| {
                UpstreamError::Connect(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "connecting took too long",
                ))
            })?
            .map_err(UpstreamError::Connect)?;
        // A request's head and a small body are separate writes; without
        // this the body could wait for the upstream's delayed ACK.
        stream.set_nodelay(true).map_err(UpstreamError::Connect)?;
        Ok(Connection {
            stream,
            buf: BytesMut::with_capacity(8 * 1024),
        })
    }
}
