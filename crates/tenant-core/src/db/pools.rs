//! The connection pools behind [`Db`](super::Db): one per thread that uses
//! the database, all under one limit.
//!
//! A tokio-postgres connection's traffic goes through a task on the runtime
//! where the connection was opened. Every actix worker is a runtime of its
//! own and background jobs run on another, so a connection opened on one
//! thread and used from another wakes that thread for every statement sent
//! and every answer read. On an idle machine those wake-ups were most of an
//! access lookup's time (docs/benchmarks.md). So each thread takes
//! connections from a pool of its own: they were opened there, and their
//! tasks run on the thread that uses them.
//!
//! `database.pool_max_size` still bounds the connections a process holds
//! open: each one holds a permit of one shared semaphore. A thread that
//! finds none left closes a connection lying idle in another thread's pool
//! and takes its permit, or waits for one as long as the pool waits
//! (`database.pool_wait_timeout_ms`).

use std::ops::Deref;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use deadpool::managed::{self, Metrics, RecycleError, RecycleResult};
use deadpool_postgres::{ClientWrapper, Manager, ManagerConfig, RecyclingMethod, Runtime};
use thread_local::ThreadLocal;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_postgres::NoTls;

use crate::config::DatabaseSettings;

pub type Object = managed::Object<Capped>;

/// How often a caller waiting for a permit looks for an idle connection
/// to close: only when every connection is open at once.
const IDLE_RECHECK: Duration = Duration::from_millis(5);
pub type PoolError = managed::PoolError<ConnectError>;
type Pool = managed::Pool<Capped>;

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error(transparent)]
    Postgres(#[from] tokio_postgres::Error),
    #[error("all {0} connections this process may open are in use")]
    Exhausted(usize),
}

/// A pooled connection and its share of the process's limit.
#[derive(Debug)]
pub struct Connection {
    client: ClientWrapper,
    _open: OwnedSemaphorePermit,
}

impl Deref for Connection {
    type Target = ClientWrapper;

    fn deref(&self) -> &ClientWrapper {
        &self.client
    }
}

/// The pools of every thread that used the database.
pub(super) struct Pools {
    threads: ThreadLocal<Pool>,
    open: Arc<Semaphore>,
    settings: DatabaseSettings,
    application_name: String,
}

impl Pools {
    pub(super) fn new(settings: &DatabaseSettings, application_name: &str) -> Arc<Self> {
        Arc::new(Self {
            threads: ThreadLocal::new(),
            open: Arc::new(Semaphore::new(settings.pool_max_size)),
            settings: settings.clone(),
            application_name: application_name.to_owned(),
        })
    }

    /// A connection from this thread's pool, opened here if it has none
    /// idle.
    pub(super) async fn get(self: &Arc<Self>) -> Result<Object, PoolError> {
        let pool = self
            .threads
            .get_or_try(|| self.build())
            .map_err(|_no_runtime| PoolError::NoRuntimeSpecified)?;
        pool.get().await
    }

    /// Connections open, and how many of them are idle, over all threads.
    pub(super) fn status(&self) -> (usize, usize) {
        self.threads.iter().fold((0, 0), |(size, idle), pool| {
            let status = pool.status();
            (size + status.size, idle + status.available)
        })
    }

    /// Fails waiting callers and closes idle connections, on every thread.
    pub(super) fn close(&self) {
        self.open.close();
        for pool in self.threads.iter() {
            pool.close();
        }
    }

    fn build(self: &Arc<Self>) -> Result<Pool, managed::BuildError> {
        let settings = &self.settings;
        let manager = Capped {
            postgres: Manager::from_config(
                settings.app_connection(&self.application_name),
                NoTls,
                // A connection is reused when its connection task has not
                // seen it close: no statement to prove it (`Verified` cost
                // a round trip per transaction). One that died unnoticed
                // fails its statement, which is a 503
                // `database.unavailable`.
                ManagerConfig {
                    recycling_method: RecyclingMethod::Fast,
                },
            ),
            pools: Arc::downgrade(self),
            open: Arc::clone(&self.open),
            limit: settings.pool_max_size,
            wait: settings.pool_wait_timeout(),
        };
        Pool::builder(manager)
            .max_size(settings.pool_max_size)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(settings.pool_wait_timeout()))
            .create_timeout(Some(settings.connect_timeout()))
            .recycle_timeout(Some(settings.recycle_timeout()))
            .build()
    }

    /// Closes one connection lying idle in some thread's pool, which frees
    /// its permit.
    fn close_one_idle(&self) {
        for pool in self.threads.iter() {
            let mut kept = false;
            let closed = pool.retain(|_, _| std::mem::replace(&mut kept, true));
            if !closed.removed.is_empty() {
                return;
            }
        }
    }
}

/// Opens connections for one thread's pool within the process's limit.
pub struct Capped {
    postgres: Manager,
    pools: Weak<Pools>,
    open: Arc<Semaphore>,
    limit: usize,
    wait: Duration,
}

impl Capped {
    /// A permit to open one more connection. With all of them taken, a
    /// connection lying idle anywhere is closed for it, including one
    /// given back while this waits (a returned connection goes idle into
    /// its thread's pool and frees no permit by itself), until the pool's
    /// wait is over.
    async fn permit(&self) -> Result<OwnedSemaphorePermit, ConnectError> {
        let deadline = Instant::now() + self.wait;
        loop {
            if let Ok(permit) = Arc::clone(&self.open).try_acquire_owned() {
                return Ok(permit);
            }
            if let Some(pools) = self.pools.upgrade() {
                pools.close_one_idle();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(ConnectError::Exhausted(self.limit));
            }
            let freed = Arc::clone(&self.open).acquire_owned();
            match tokio::time::timeout(left.min(IDLE_RECHECK), freed).await {
                Ok(Ok(permit)) => return Ok(permit),
                Ok(Err(_closed)) => return Err(ConnectError::Exhausted(self.limit)),
                Err(_) => {}
            }
        }
    }
}

impl managed::Manager for Capped {
    type Type = Connection;
    type Error = ConnectError;

    async fn create(&self) -> Result<Connection, ConnectError> {
        let open = self.permit().await?;
        let client = managed::Manager::create(&self.postgres).await?;
        Ok(Connection {
            client,
            _open: open,
        })
    }

    async fn recycle(
        &self,
        connection: &mut Connection,
        metrics: &Metrics,
    ) -> RecycleResult<ConnectError> {
        managed::Manager::recycle(&self.postgres, &mut connection.client, metrics)
            .await
            .map_err(|error| match error {
                RecycleError::Message(message) => RecycleError::Message(message),
                RecycleError::Backend(error) => RecycleError::Backend(error.into()),
            })
    }

    fn detach(&self, connection: &mut Connection) {
        managed::Manager::detach(&self.postgres, &mut connection.client);
    }
}
