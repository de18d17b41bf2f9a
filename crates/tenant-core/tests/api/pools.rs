//! The connection pools: a thread uses the connections it opened itself,
//! and the process never holds more than `database.pool_max_size` open,
//! however the threads share them.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use tenant_core::config::Settings;
use tenant_core::{
    Db, Principal, PrincipalKind, ProjectAccess, Role, ServiceSpec, TenantContext, TenantTx,
};
use test_support::TestDatabase;
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

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

fn context() -> TenantContext {
    TenantContext::new(
        Principal {
            id: Uuid::now_v7(),
            kind: PrincipalKind::User,
        },
        Some(ProjectAccess {
            project_id: Uuid::now_v7(),
            role: Role::Member,
        }),
        "pools",
    )
}

/// A transaction that has sent its first statement, so it holds its
/// connection, and the backend serving it.
async fn open_tx(db: Db) -> Result<(TenantTx, i32), tenant_core::DbError> {
    let tx = db.tenant_tx(&context()).await?;
    let pid: i32 = tx.query_one("SELECT pg_backend_pid()", &[]).await?.get(0);
    Ok((tx, pid))
}

/// The backend a short transaction ran on.
async fn backend_pid(db: Db) -> i32 {
    let (tx, pid) = open_tx(db).await.unwrap();
    tx.commit().await.unwrap();
    pid
}

async fn open_connections(database: &TestDatabase) -> i64 {
    database
        .admin_client()
        .await
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND application_name = $2",
            &[&database.name(), &APPLICATION],
        )
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn a_thread_uses_the_connections_it_opened_and_not_another_threads() {
    let database = TestDatabase::create().await;
    let db = db(&database, &[("database.pool_max_size", "4")]).await;
    let (a, b) = (Worker::start(), Worker::start());

    let first_on_a = a.run(backend_pid(db.clone())).await;
    let on_b = b.run(backend_pid(db.clone())).await;
    let again_on_a = a.run(backend_pid(db.clone())).await;

    assert_ne!(
        first_on_a, on_b,
        "a thread was given a connection another thread opened"
    );
    assert_eq!(
        first_on_a, again_on_a,
        "a thread opened a connection while its own lay idle"
    );
}

#[tokio::test]
async fn the_process_holds_at_most_pool_max_size_connections_over_all_threads() {
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

    // Both connections in use on one thread (the second closes the one
    // left idle by the role check on this thread).
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
    let problem = tenant_core::Problem::from(error);
    assert_eq!(problem.code(), "database.unavailable");

    // Idle on the first thread now: the second closes one and opens its own.
    let ((first, first_pid), (second, second_pid)) = held;
    first.commit().await.unwrap();
    second.commit().await.unwrap();
    let on_b = b.run(backend_pid(db.clone())).await;
    assert!(on_b != first_pid && on_b != second_pid);

    let deadline = Instant::now() + Duration::from_secs(5);
    let mut open = open_connections(&database).await;
    while open > 2 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
        open = open_connections(&database).await;
    }
    assert_eq!(open, 2, "connections open for a pool of 2");
}

#[tokio::test]
async fn a_thread_waiting_at_the_limit_gets_a_connection_another_thread_gives_back() {
    let database = TestDatabase::create().await;
    let db = db(&database, &[("database.pool_max_size", "1")]).await;
    let (a, b) = (Worker::start(), Worker::start());

    let (held, _) = a.run(open_tx(db.clone())).await.unwrap();
    let waiting = tokio::spawn({
        let db = db.clone();
        async move { b.run(backend_pid(db)).await }
    });
    let mut waiting = std::pin::pin!(waiting);
    assert!(
        tokio::time::timeout(Duration::from_millis(100), &mut waiting)
            .await
            .is_err(),
        "a second connection opened past a limit of 1"
    );

    // Given back, it lies idle in the first thread's pool: the waiting
    // thread closes it and opens its own, well within its 2 s wait.
    held.commit().await.unwrap();
    let pid = waiting.await.unwrap();
    assert!(pid > 0);
}
