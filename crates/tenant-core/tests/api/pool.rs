//! The connection pool: a thread is given the connections it opened
//! itself, borrows another thread's only at the limit, and the process
//! never holds more than `database.pool_max_size` open.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use tenant_core::config::Settings;
use tenant_core::{Db, ServiceSpec, TenantTx};
use test_support::TestDatabase;
use tokio::sync::{mpsc, oneshot};

use crate::context_token::member_context;

static SPEC: ServiceSpec = ServiceSpec {
    name: "pools-test",
    schema: Some("failure"),
    migrations: &[],
};

const APPLICATION: &str = "pools-test";

type Job = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A thread with a runtime of its own, as every actix worker has.
struct Worker {
    jobs: mpsc::UnboundedSender<Job>,
}

impl Worker {
    fn start() -> Self {
        let (jobs, mut queue) = mpsc::unbounded_channel::<Job>();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                while let Some(job) = queue.recv().await {
                    job.await;
                }
            });
        });
        Self { jobs }
    }

    async fn run<T: Send + 'static>(&self, work: impl Future<Output = T> + Send + 'static) -> T {
        let (done, result) = oneshot::channel();
        let job: Job = Box::pin(async move {
            let _ = done.send(work.await);
        });
        self.jobs.send(job).unwrap();
        result.await.unwrap()
    }
}

async fn db(database: &TestDatabase, overrides: &[(&'static str, &str)]) -> Db {
    let overrides: Vec<(&'static str, String)> = overrides
        .iter()
        .map(|(key, value)| (*key, (*value).to_owned()))
        .collect();
    let settings: Settings = test_support::settings(&SPEC, Some(database), &overrides);
    Db::connect(settings.database.as_ref().unwrap(), "failure", APPLICATION)
        .await
        .unwrap()
}

/// A transaction that has sent its first statement, so it holds its
/// connection, and the backend serving it.
async fn open_tx(db: Db) -> Result<(TenantTx, i32), tenant_core::DbError> {
    let tx = db.tenant_tx(&member_context()).await?;
    let pid: i32 = tx.query_one("SELECT pg_backend_pid()", &[]).await?.get(0);
    Ok((tx, pid))
}

/// The backend a short transaction ran on.
async fn backend_pid(db: Db) -> i32 {
    let (tx, pid) = open_tx(db).await.unwrap();
    tx.commit().await.unwrap();
    pid
}

/// Waits until the server counts `expected` backends of the pool (a
/// terminated one leaves a moment after it was told to).
async fn assert_open_connections(database: &TestDatabase, expected: i64) {
    let admin = database.admin_client().await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let open: i64 = admin
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND application_name = $2",
                &[&database.name(), &APPLICATION],
            )
            .await
            .unwrap()
            .get(0);
        if open == expected {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{open} connections open, expected {expected}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_thread_is_given_the_connection_it_opened_and_not_another_threads() {
    let database = TestDatabase::create().await;
    let db = db(&database, &[("database.pool_max_size", "4")]).await;
    let (a, b) = (Worker::start(), Worker::start());

    let first_on_a = a.run(backend_pid(db.clone())).await;
    let on_b = b.run(backend_pid(db.clone())).await;
    let again_on_a = a.run(backend_pid(db.clone())).await;
    let again_on_b = b.run(backend_pid(db.clone())).await;

    assert_ne!(
        first_on_a, on_b,
        "below the limit, a thread was given a connection another thread opened"
    );
    assert_eq!(
        (again_on_a, again_on_b),
        (first_on_a, on_b),
        "a thread was not given back the connection it opened"
    );
    // The role check's connection (this thread's), and one per worker.
    assert_open_connections(&database, 3).await;
    let metrics = db.pool_metrics();
    assert_eq!(
        (metrics.open.get(), metrics.idle.get(), metrics.opened.get()),
        (3, 3, 3),
        "the pool's gauges and counter (open, idle, opened)"
    );
}

#[tokio::test]
async fn at_the_limit_a_thread_borrows_an_idle_connection_instead_of_closing_one() {
    let database = TestDatabase::create().await;
    let db = db(&database, &[("database.pool_max_size", "1")]).await;
    let worker = Worker::start();

    let here = backend_pid(db.clone()).await;
    let there = worker.run(backend_pid(db.clone())).await;
    let here_again = backend_pid(db.clone()).await;

    assert_eq!(
        (there, here_again),
        (here, here),
        "the one connection was closed and another opened"
    );
    assert_open_connections(&database, 1).await;
    assert_eq!(db.pool_metrics().opened.get(), 1);
}

#[tokio::test]
async fn the_pool_never_holds_more_than_pool_max_size_connections() {
    let database = TestDatabase::create().await;
    let db = db(
        &database,
        &[
            ("database.pool_max_size", "2"),
            ("database.pool_wait_timeout_ms", "300"),
        ],
    )
    .await;
    let (a, b) = (Worker::start(), Worker::start());

    let held = a
        .run({
            let db = db.clone();
            async move {
                let first = open_tx(db.clone()).await.unwrap();
                let second = open_tx(db).await.unwrap();
                (first, second)
            }
        })
        .await;
    let error = b.run(open_tx(db.clone())).await.unwrap_err();
    assert_eq!(
        tenant_core::Problem::from(error).code(),
        "database.unavailable"
    );

    let ((first, first_pid), (second, second_pid)) = held;
    first.commit().await.unwrap();
    second.commit().await.unwrap();
    let on_b = b.run(backend_pid(db.clone())).await;
    assert!(
        on_b == first_pid || on_b == second_pid,
        "a third connection was opened past a limit of 2"
    );
    assert_open_connections(&database, 2).await;
}

#[tokio::test]
async fn a_caller_waiting_at_the_limit_gets_the_connection_given_back() {
    let database = TestDatabase::create().await;
    let db = db(
        &database,
        &[
            ("database.pool_max_size", "1"),
            ("database.pool_wait_timeout_ms", "10000"),
        ],
    )
    .await;
    let (a, b) = (Worker::start(), Worker::start());

    let (held, held_pid) = a.run(open_tx(db.clone())).await.unwrap();
    let waiting = tokio::spawn({
        let db = db.clone();
        async move { b.run(backend_pid(db)).await }
    });
    held.commit().await.unwrap();

    assert_eq!(waiting.await.unwrap(), held_pid);
}

#[tokio::test]
async fn a_connection_the_server_closed_is_replaced_by_a_new_one() {
    let database = TestDatabase::create().await;
    let db = db(&database, &[("database.pool_max_size", "1")]).await;
    let closed = backend_pid(db.clone()).await;
    database
        .admin_client()
        .await
        .execute("SELECT pg_terminate_backend($1)", &[&closed])
        .await
        .unwrap();

    // The first transaction may still be handed the dead connection (its
    // task has not read the close yet) and fail with a 503; the pool then
    // drops it and opens another.
    let deadline = Instant::now() + Duration::from_secs(10);
    let replacement = loop {
        match open_tx(db.clone()).await {
            Ok((tx, pid)) => {
                tx.commit().await.unwrap();
                break pid;
            }
            Err(error) => {
                let cause = error.to_string();
                assert_eq!(
                    tenant_core::Problem::from(error).code(),
                    "database.unavailable",
                    "{cause}"
                );
                assert!(
                    Instant::now() < deadline,
                    "the dead connection stayed in the pool"
                );
            }
        }
    };
    assert_ne!(replacement, closed);
    assert_open_connections(&database, 1).await;
    let metrics = db.pool_metrics();
    assert_eq!((metrics.open.get(), metrics.opened.get()), (1, 2));
}
