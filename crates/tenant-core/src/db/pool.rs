//! The connection pool behind [`Db`](super::Db): at most
//! `database.pool_max_size` connections, each handed to the thread that
//! opened it when that thread asks again.
//!
//! A tokio-postgres connection's traffic goes through a task on the
//! runtime where the connection was opened. Every actix worker is a
//! runtime of its own and background jobs run on another, so a connection
//! opened on one thread and used from another wakes that thread for every
//! statement sent and every answer read: on an idle machine those wake-ups
//! were most of an access lookup's time (docs/benchmarks.md). So a caller
//! takes an idle connection its own thread opened; with none, it opens
//! one while the pool is below its limit, and only at the limit borrows
//! another thread's idle connection as it is. No connection is closed to
//! make room for another, and a caller waits only while every connection
//! is in use, in line (first come, first served) for the next one given
//! back.
//!
//! Connections are reused without a statement to prove them: one whose
//! connection task saw it close is dropped when it is picked, and one that
//! died unnoticed fails its next statement, a 503 `database.unavailable`
//! (`Verified` recycling cost a round trip per transaction).

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::{self, ThreadId};
use std::time::Duration;

use deadpool_postgres::ClientWrapper;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_postgres::NoTls;

use crate::config::DatabaseSettings;

#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    #[error("all {size} connections stayed in use for {waited:?}")]
    Exhausted { size: usize, waited: Duration },
    #[error("the connection pool is closed")]
    Closed,
    #[error("connecting took longer than {0:?}")]
    ConnectTimeout(Duration),
    #[error("could not connect")]
    Connect(#[source] tokio_postgres::Error),
}

/// What the pool exports (the host registers them as
/// `<schema>_db_connections_*`); clones share the values.
#[derive(Debug, Clone, Default)]
pub struct PoolMetrics {
    /// Connections open or being opened, idle or not.
    pub open: Gauge,
    /// Open connections no caller holds.
    pub idle: Gauge,
    /// Connections opened since the start: a figure that keeps rising
    /// while `open` stays level is connections being replaced.
    pub opened: Counter,
}

/// The pool; clones share it.
#[derive(Clone)]
pub(super) struct Pool {
    shared: Arc<Shared>,
}

struct Shared {
    config: tokio_postgres::Config,
    /// One permit per connection in use (or being opened): a caller holds
    /// one from before it picks a connection until it gives it back.
    in_use: Arc<Semaphore>,
    state: Mutex<State>,
    max_size: usize,
    wait: Duration,
    connect_timeout: Duration,
    metrics: PoolMetrics,
}

#[derive(Default)]
struct State {
    /// Idle connections, the most recently given back last.
    idle: Vec<Idle>,
    /// Connections open or being opened, idle or not.
    size: usize,
}

struct Idle {
    client: ClientWrapper,
    opened_on: ThreadId,
}

/// What a caller holding a permit does.
enum Pick {
    Idle(Idle),
    Open,
}

impl Pool {
    pub(super) fn new(settings: &DatabaseSettings, application_name: &str) -> Self {
        Self {
            shared: Arc::new(Shared {
                config: settings.app_connection(application_name),
                in_use: Arc::new(Semaphore::new(settings.pool_max_size)),
                state: Mutex::new(State::default()),
                max_size: settings.pool_max_size,
                wait: settings.pool_wait_timeout(),
                connect_timeout: settings.connect_timeout(),
                metrics: PoolMetrics::default(),
            }),
        }
    }

    /// A connection: an idle one this thread opened, a new one, or at the
    /// limit another thread's idle one; waits while all are in use.
    pub(super) async fn get(&self) -> Result<Object, PoolError> {
        let shared = &self.shared;
        let permit =
            match tokio::time::timeout(shared.wait, Arc::clone(&shared.in_use).acquire_owned())
                .await
            {
                Ok(Ok(permit)) => permit,
                Ok(Err(_closed)) => return Err(PoolError::Closed),
                Err(_elapsed) => {
                    return Err(PoolError::Exhausted {
                        size: shared.max_size,
                        waited: shared.wait,
                    });
                }
            };
        let here = thread::current().id();
        loop {
            match shared.pick(here) {
                Pick::Idle(idle) if idle.client.is_closed() => shared.forget_one(),
                Pick::Idle(idle) => {
                    return Ok(Object::new(idle.client, idle.opened_on, shared, permit));
                }
                Pick::Open => {
                    let opening = Opening { shared };
                    let client = shared.open().await?;
                    std::mem::forget(opening);
                    shared.metrics.opened.inc();
                    return Ok(Object::new(client, here, shared, permit));
                }
            }
        }
    }

    pub(super) fn metrics(&self) -> &PoolMetrics {
        &self.shared.metrics
    }

    /// Fails waiting callers and closes the idle connections; connections
    /// in use close when given back.
    pub(super) fn close(&self) {
        self.shared.in_use.close();
        let idle = {
            let mut state = self.shared.lock();
            let idle = std::mem::take(&mut state.idle);
            state.size -= idle.len();
            idle
        };
        drop(idle);
    }
}

impl Shared {
    /// The state, its gauges set from it when the guard goes.
    fn lock(&self) -> Locked<'_> {
        Locked {
            // Nothing panics while holding the lock; a poisoned state is
            // still consistent.
            state: self.state.lock().unwrap_or_else(PoisonError::into_inner),
            metrics: &self.metrics,
        }
    }

    fn pick(&self, here: ThreadId) -> Pick {
        let mut state = self.lock();
        if let Some(own) = state.idle.iter().rposition(|idle| idle.opened_on == here) {
            return Pick::Idle(state.idle.remove(own));
        }
        if state.size < self.max_size {
            state.size += 1;
            return Pick::Open;
        }
        match state.idle.pop() {
            Some(other) => Pick::Idle(other),
            // Not reached: a caller holds a permit, so fewer than
            // `max_size` connections are in use and one is idle.
            None => {
                state.size += 1;
                Pick::Open
            }
        }
    }

    /// Opens a connection whose task runs on this thread's runtime.
    async fn open(&self) -> Result<ClientWrapper, PoolError> {
        let connect = async {
            let (client, connection) = self
                .config
                .connect(NoTls)
                .await
                .map_err(PoolError::Connect)?;
            let task = tokio::spawn(async move {
                if let Err(error) = connection.await {
                    tracing::warn!(error = %error, "database connection closed");
                }
            });
            Ok(ClientWrapper::new(client, task))
        };
        tokio::time::timeout(self.connect_timeout, connect)
            .await
            .map_err(|_elapsed| PoolError::ConnectTimeout(self.connect_timeout))?
    }

    /// A connection closed or never opened no longer counts.
    fn forget_one(&self) {
        self.lock().size -= 1;
    }

    fn give_back(&self, client: ClientWrapper, opened_on: ThreadId) {
        let mut state = self.lock();
        if self.in_use.is_closed() || client.is_closed() {
            state.size -= 1;
            drop(state);
            drop(client);
            return;
        }
        state.idle.push(Idle { client, opened_on });
    }
}

struct Locked<'a> {
    state: MutexGuard<'a, State>,
    metrics: &'a PoolMetrics,
}

impl Deref for Locked<'_> {
    type Target = State;

    fn deref(&self) -> &State {
        &self.state
    }
}

impl DerefMut for Locked<'_> {
    fn deref_mut(&mut self) -> &mut State {
        &mut self.state
    }
}

impl Drop for Locked<'_> {
    fn drop(&mut self) {
        let count = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        self.metrics.open.set(count(self.state.size));
        self.metrics.idle.set(count(self.state.idle.len()));
    }
}

/// A connection being opened counts towards the limit until it is open,
/// and stops counting if opening fails or the caller gives up.
struct Opening<'a> {
    shared: &'a Shared,
}

impl Drop for Opening<'_> {
    fn drop(&mut self) {
        self.shared.forget_one();
    }
}

/// A connection taken from the pool; dropping it gives it back.
pub struct Object {
    client: Option<ClientWrapper>,
    opened_on: ThreadId,
    shared: Arc<Shared>,
    /// Released after the connection is back among the idle ones, so the
    /// caller it wakes finds it there.
    _in_use: OwnedSemaphorePermit,
}

impl Object {
    fn new(
        client: ClientWrapper,
        opened_on: ThreadId,
        shared: &Arc<Shared>,
        in_use: OwnedSemaphorePermit,
    ) -> Self {
        Self {
            client: Some(client),
            opened_on,
            shared: Arc::clone(shared),
            _in_use: in_use,
        }
    }

    /// Closes the connection instead of giving it back: its state is
    /// unknown (a failed `COMMIT` or `ROLLBACK`).
    pub fn discard(mut self) {
        if let Some(client) = self.client.take() {
            self.shared.forget_one();
            drop(client);
        }
    }
}

impl Deref for Object {
    type Target = ClientWrapper;

    fn deref(&self) -> &ClientWrapper {
        match &self.client {
            Some(client) => client,
            None => unreachable!("a connection is only taken out when the object is dropped"),
        }
    }
}

impl Drop for Object {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            self.shared.give_back(client, self.opened_on);
        }
    }
}

impl fmt::Debug for Object {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Object")
            .field("opened_on", &self.opened_on)
            .finish_non_exhaustive()
    }
}
