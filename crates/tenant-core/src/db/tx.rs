//! [`TenantTx`]: a transaction on one pooled connection (see the parent
//! module's docs).

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};

use prometheus_client::metrics::counter::Counter;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Row, Statement};
use uuid::Uuid;

use super::pool::Object;
use super::{Db, DbError};

/// A database transaction bound to one connection; see the module docs.
pub struct TenantTx {
    conn: Option<Object>,
    /// `BEGIN` and the context settings, sent with the first statement.
    begin: String,
    /// Whether `begin` has been sent.
    begun: AtomicBool,
    /// One statement only, its `COMMIT` sent with it.
    single: bool,
    /// A `COMMIT` sent with the statement failed: the connection's state
    /// is unknown and it does not go back to the pool.
    broken: AtomicBool,
    project_id: Option<Uuid>,
    schema: &'static str,
    statements: Counter,
}

impl fmt::Debug for TenantTx {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TenantTx")
            .field("project_id", &self.project_id)
            .finish_non_exhaustive()
    }
}

impl TenantTx {
    /// A transaction on a pooled connection, its `BEGIN` and context
    /// settings (one batch) held for its first statement. The values are
    /// UUIDs we format ourselves, so inlining them cannot inject SQL.
    pub(super) async fn begin_with(
        db: &Db,
        project_id: Option<Uuid>,
        user_id: Option<Uuid>,
    ) -> Result<Self, DbError> {
        let conn = db.connection().await?;
        let mut begin = String::from("BEGIN;");
        if let Some(project_id) = project_id {
            begin.push_str(&format!(
                "SELECT set_config('app.project_id', '{project_id}', true);"
            ));
        }
        if let Some(user_id) = user_id {
            begin.push_str(&format!(
                "SELECT set_config('app.user_id', '{user_id}', true);"
            ));
        }
        Ok(Self {
            conn: Some(conn),
            begin,
            begun: AtomicBool::new(false),
            single: false,
            broken: AtomicBool::new(false),
            project_id,
            schema: db.schema,
            statements: db.statements.clone(),
        })
    }

    /// The connection for one more statement, counted.
    fn conn(&self) -> &Object {
        self.statements.inc();
        // `conn` is only taken by `commit`/`rollback`, which consume `self`.
        match &self.conn {
            Some(conn) => conn,
            None => unreachable!("TenantTx used after it ended"),
        }
    }

    /// This transaction runs one statement, and its `COMMIT` goes out with
    /// it (behind the `BEGIN`): one round trip in all, and
    /// [`TenantTx::commit`] has nothing left to send. For reads: a
    /// `rollback` after the statement has nothing left to undo. A second
    /// statement is refused ([`DbError::SecondStatement`]).
    #[must_use]
    pub fn single_statement(mut self) -> Self {
        self.single = true;
        self
    }

    /// The project this transaction is confined to, if any.
    pub fn project_id(&self) -> Option<Uuid> {
        self.project_id
    }

    /// The schema of the service whose pool this transaction came from,
    /// for shared statements that name the calling service's tables (the
    /// outbox).
    pub fn schema(&self) -> &'static str {
        self.schema
    }

    /// The connection and `sql` prepared (once per connection), for one
    /// more statement.
    async fn prepare(&self, sql: &str) -> Result<(&Object, Statement), DbError> {
        let conn = self.conn();
        let statement = conn.prepare_cached(sql).await?;
        Ok((conn, statement))
    }

    /// Runs `statement` in the transaction: its first statement goes out
    /// behind the `BEGIN` batch without waiting for that batch's answer.
    /// The batch sets transaction-local values to UUIDs, so it fails only
    /// with the connection, and the statement queued behind it with it.
    async fn run<T, F>(&self, conn: &Object, statement: impl FnOnce() -> F) -> Result<T, DbError>
    where
        F: Future<Output = Result<T, tokio_postgres::Error>>,
    {
        if self.begun.swap(true, Ordering::AcqRel) {
            if self.single {
                return Err(DbError::SecondStatement);
            }
            return Ok(statement().await?);
        }
        // `join!` polls in order on its first poll, and each future queues
        // its messages on that poll: `BEGIN` goes out first, a single
        // statement's `COMMIT` last. Boxed, so the future of every
        // statement of every transaction carries the statement's state
        // once, not once more beside the batch's.
        let single = self.single;
        let all = Box::pin(async move {
            tokio::join!(conn.batch_execute(&self.begin), statement(), async move {
                if single {
                    conn.batch_execute("COMMIT").await
                } else {
                    Ok(())
                }
            })
        });
        let (begun, result, committed) = all.await;
        if committed.is_err() {
            self.broken.store(true, Ordering::Release);
        }
        begun?;
        let result = result?;
        committed?;
        Ok(result)
    }

    pub async fn query(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, DbError> {
        let (conn, statement) = self.prepare(sql).await?;
        self.run(conn, || conn.query(&statement, params)).await
    }

    pub async fn query_one(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Row, DbError> {
        let (conn, statement) = self.prepare(sql).await?;
        self.run(conn, || conn.query_one(&statement, params)).await
    }

    pub async fn query_opt(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Row>, DbError> {
        let (conn, statement) = self.prepare(sql).await?;
        self.run(conn, || conn.query_opt(&statement, params)).await
    }

    pub async fn execute(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64, DbError> {
        let (conn, statement) = self.prepare(sql).await?;
        self.run(conn, || conn.execute(&statement, params)).await
    }

    /// Whether `BEGIN` went out: a transaction that ran no statement has
    /// nothing to end.
    fn begun(&self) -> bool {
        self.begun.load(Ordering::Acquire)
    }

    /// Whether the transaction is still open on its connection: it began
    /// and its `COMMIT` has not gone out with its one statement.
    fn open(&self) -> bool {
        self.begun() && !self.single
    }

    /// A connection whose pipelined `COMMIT` failed leaves the pool.
    fn release_ended(&self, conn: Object) {
        if self.broken.load(Ordering::Acquire) {
            conn.discard();
        }
    }

    pub async fn commit(self) -> Result<(), DbError> {
        self.end("COMMIT").await
    }

    pub async fn rollback(self) -> Result<(), DbError> {
        self.end("ROLLBACK").await
    }

    /// Ends the transaction with `command` where it is still open; one that
    /// ran nothing, or whose `COMMIT` went with its one statement, has
    /// nothing to send.
    async fn end(mut self, command: &str) -> Result<(), DbError> {
        match self.conn.take() {
            Some(conn) if self.open() => end_transaction(conn, command).await,
            Some(conn) => {
                self.release_ended(conn);
                Ok(())
            }
            None => Ok(()),
        }
    }
}

/// Ends the transaction with `command`; a connection it failed on is in an
/// unknown state (perhaps still in the transaction) and leaves the pool.
async fn end_transaction(conn: Object, command: &str) -> Result<(), DbError> {
    if let Err(error) = conn.batch_execute(command).await {
        conn.discard();
        return Err(error.into());
    }
    Ok(())
}

impl Drop for TenantTx {
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else {
            return;
        };
        if !self.open() {
            self.release_ended(conn);
            return;
        }
        // The connection must not reach the pool with the transaction open.
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move {
                    if conn.batch_execute("ROLLBACK").await.is_err() {
                        // Broken connection: keep it out of the pool.
                        conn.discard();
                    }
                });
            }
            Err(_) => conn.discard(),
        }
    }
}
