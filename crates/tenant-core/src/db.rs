//! The only way a service reaches PostgreSQL.
//!
//! [`Db`] wraps the connection pool and never hands out a raw connection.
//! Request work runs in a [`TenantTx`]: a transaction whose first statement
//! sets `app.project_id` and `app.user_id` (transaction-local), so row level
//! security confines every statement to the caller's project even when a
//! query forgets its `WHERE project_id = $1`. A transaction without a
//! project sees no tenant rows at all: the policies fail closed.
//!
//! A transaction's `BEGIN` and its settings are not a round trip of their
//! own: they are sent with its first statement, pipelined on the
//! connection ahead of it, and a transaction that ran no statement sends
//! nothing at all, not even its `COMMIT`. A transaction of one statement
//! ([`TenantTx::single_statement`], the lookups on every request's path)
//! sends its `COMMIT` behind that statement too: one round trip in all.
//!
//! Connections come back to the pool only after their transaction ended:
//! a [`TenantTx`] dropped without `commit` is rolled back before its
//! connection is reused, and one whose `COMMIT` or `ROLLBACK` failed (its
//! state unknown) is closed instead. Nothing is set for a session, only for
//! a transaction, so the pool hands a connection out again without a
//! statement to prove it; resetting the session as well (seven statements)
//! cost a tenth of a short request's time in the database. Which
//! connection a caller gets, and why it matters, is in [`pool`].

use std::fmt;
use std::time::Duration;

use actix_web::http::StatusCode;
use prometheus_client::metrics::counter::Counter;
use tokio_postgres::error::SqlState;
use uuid::Uuid;

use crate::config::DatabaseSettings;
use crate::context::TenantContext;
use crate::error::Problem;

mod pool;
mod tx;

pub use pool::{PoolError, PoolMetrics};
pub use tx::TenantTx;

use pool::{Object, Pool};

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("no database connection available")]
    Pool(#[from] PoolError),
    #[error("database error")]
    Query(#[from] tokio_postgres::Error),
    #[error("this operation needs a project context")]
    NoProject,
    #[error("the database role `{role}` is unsafe for a service: {reason}")]
    UnsafeRole { role: String, reason: String },
    #[error("database did not answer within {0:?}")]
    Timeout(Duration),
    #[error("a single-statement transaction was given a second statement")]
    SecondStatement,
    #[error("migrations are at version {applied}, this build expects {expected}")]
    MigrationsBehind { applied: i64, expected: i64 },
}

impl DbError {
    /// The SQLSTATE of a failed statement.
    pub fn sql_state(&self) -> Option<&SqlState> {
        match self {
            Self::Query(error) => error.code(),
            _ => None,
        }
    }

    /// The constraint a statement violated, for mapping to domain errors
    /// (`projects_slug_key` -> `project.slug_taken`).
    pub fn constraint(&self) -> Option<&str> {
        match self {
            Self::Query(error) => error.as_db_error().and_then(|db| db.constraint()),
            _ => None,
        }
    }

    /// No connection could be had, or the one used is gone: closed,
    /// never answered, or its session ended by the server (shut down,
    /// restarted, or terminated by an administrator). Another connection
    /// may do.
    fn connection_lost(&self) -> bool {
        match self {
            Self::Pool(_) | Self::Timeout(_) => true,
            Self::Query(inner) => {
                inner.is_closed()
                    || inner.as_db_error().is_none()
                    || matches!(inner.code(), Some(state)
                        if *state == SqlState::ADMIN_SHUTDOWN
                            || *state == SqlState::CRASH_SHUTDOWN
                            || *state == SqlState::CANNOT_CONNECT_NOW)
            }
            _ => false,
        }
    }

    pub fn is_unique_violation(&self) -> bool {
        self.sql_state() == Some(&SqlState::UNIQUE_VIOLATION)
    }

    /// A row that would belong to another project (RLS `WITH CHECK` failed).
    pub fn is_tenant_violation(&self) -> bool {
        matches!(self, Self::Query(error) if error.code() == Some(&SqlState::INSUFFICIENT_PRIVILEGE)
            && error.as_db_error().is_some_and(|db| db.message().contains("row-level security")))
    }
}

impl DbError {
    /// The problem a client sees for this error; the cause goes to the log.
    /// Service errors call it from their own `fn problem(&self)`.
    pub fn problem(&self) -> Problem {
        let error = self;
        if error.is_tenant_violation() {
            return Problem::forbidden(
                "tenant.violation",
                "the data does not belong to the project of this request",
            )
            .with_cause(error);
        }
        match error.sql_state() {
            Some(state) if *state == SqlState::UNIQUE_VIOLATION => {
                return Problem::conflict("conflict", "the resource already exists")
                    .with_cause(error);
            }
            // PostgreSQL text cannot hold U+0000 (and JSON cannot hold
            // `\u0000`): only a client's input puts it there.
            Some(state)
                if *state == SqlState::CHARACTER_NOT_IN_REPERTOIRE
                    || *state == SqlState::UNTRANSLATABLE_CHARACTER =>
            {
                return Problem::bad_request(
                    "request.invalid_text",
                    "text cannot contain the NUL character (U+0000)",
                )
                .with_cause(error);
            }
            Some(state)
                if *state == SqlState::T_R_SERIALIZATION_FAILURE
                    || *state == SqlState::T_R_DEADLOCK_DETECTED
                    || *state == SqlState::QUERY_CANCELED =>
            {
                return Problem::unavailable("database.busy", 1).with_cause(error);
            }
            _ => {}
        }
        if error.connection_lost() {
            return Problem::unavailable("database.unavailable", 2).with_cause(error);
        }
        match error {
            DbError::NoProject => Problem::new(
                StatusCode::BAD_REQUEST,
                "context.project_required",
                "Bad request",
            )
            .with_detail("this operation needs a project"),
            other => Problem::internal_cause(other),
        }
    }
}

impl From<DbError> for Problem {
    fn from(error: DbError) -> Self {
        error.problem()
    }
}

/// The service's handle on its database.
#[derive(Clone)]
pub struct Db {
    pool: Pool,
    schema: &'static str,
    statements: Counter,
}

impl fmt::Debug for Db {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Db")
            .field("schema", &self.schema)
            .field("connections_open", &self.pool.metrics().open.get())
            .field("connections_idle", &self.pool.metrics().idle.get())
            .finish()
    }
}

impl Db {
    /// Builds the pool for the runtime role and refuses a role that could
    /// bypass row level security.
    pub async fn connect(
        settings: &DatabaseSettings,
        schema: &'static str,
        application_name: &str,
    ) -> Result<Self, DbError> {
        let pool = Pool::new(settings, application_name);
        let db = Self {
            pool,
            schema,
            statements: Counter::default(),
        };
        db.assert_runtime_role_is_safe().await?;
        Ok(db)
    }

    pub fn schema(&self) -> &'static str {
        self.schema
    }

    /// Statements issued through this pool's transactions, exported by the
    /// host as `<schema>_db_statements`, so tests can prove an endpoint
    /// issues a fixed number of queries whatever the page size.
    pub fn statements(&self) -> &Counter {
        &self.statements
    }

    /// The pool's connection gauges and counter, for the host to export.
    pub fn pool_metrics(&self) -> &PoolMetrics {
        self.pool.metrics()
    }

    /// The same pool with a statement counter of its own, for background
    /// work: `<schema>_db_statements` then counts what requests issue,
    /// undisturbed by a job's rounds.
    pub fn counting_apart(&self) -> Self {
        Self {
            pool: self.pool.clone(),
            schema: self.schema,
            statements: Counter::default(),
        }
    }

    /// The one place connections leave the pool; the pool itself is private.
    async fn connection(&self) -> Result<Object, DbError> {
        Ok(self.pool.get().await?)
    }

    /// A runtime role that is superuser, BYPASSRLS, or owns anything
    /// (owners bypass RLS unless it is forced) would defeat tenant isolation.
    async fn assert_runtime_role_is_safe(&self) -> Result<(), DbError> {
        let conn = self.connection().await?;
        let row = conn
            .query_one(
                "SELECT current_user::text AS role, r.rolsuper, r.rolbypassrls,
                        (SELECT count(*) FROM pg_class c
                           JOIN pg_namespace n ON n.oid = c.relnamespace
                          WHERE c.relowner = r.oid
                            AND n.nspname NOT IN ('pg_catalog', 'information_schema')
                            AND n.nspname NOT LIKE 'pg\\_toast%'
                            AND n.nspname NOT LIKE 'pg\\_temp%') AS owned_relations,
                        (SELECT count(*) FROM pg_namespace n
                          WHERE n.nspowner = r.oid
                            AND n.nspname NOT LIKE 'pg\\_%'
                            AND n.nspname <> 'information_schema') AS owned_schemas
                   FROM pg_roles r WHERE r.rolname = current_user",
                &[],
            )
            .await?;
        let role: String = row.try_get("role")?;
        let unsafe_role = |reason: &str| DbError::UnsafeRole {
            role: role.clone(),
            reason: reason.to_owned(),
        };
        if row.try_get::<_, bool>("rolsuper")? {
            return Err(unsafe_role(
                "it is a superuser; connect as the service's `_app` role",
            ));
        }
        if row.try_get::<_, bool>("rolbypassrls")? {
            return Err(unsafe_role(
                "it has BYPASSRLS; connect as the service's `_app` role",
            ));
        }
        if row.try_get::<_, i64>("owned_relations")? > 0
            || row.try_get::<_, i64>("owned_schemas")? > 0
        {
            return Err(unsafe_role(
                "it owns tables or schemas; the runtime role must own nothing",
            ));
        }
        Ok(())
    }

    /// Opens a transaction confined to the context's project.
    pub async fn tenant_tx(&self, ctx: &TenantContext) -> Result<TenantTx, DbError> {
        let project = ctx.project().ok_or(DbError::NoProject)?;
        TenantTx::begin_with(self, Some(project.project_id), Some(ctx.principal().id)).await
    }

    /// Opens a transaction with no project: tenant tables show no rows and
    /// accept no writes. For data that is not tenant data (users, the
    /// project registry) and for workers before they pick a project.
    pub async fn unscoped_tx(&self) -> Result<TenantTx, DbError> {
        TenantTx::begin_with(self, None, None).await
    }

    /// Opens a transaction that knows the calling user but no project:
    /// policies written for it (a user's own memberships across projects)
    /// apply; project-only policies still see nothing.
    pub async fn user_tx(&self, user_id: Uuid) -> Result<TenantTx, DbError> {
        TenantTx::begin_with(self, None, Some(user_id)).await
    }

    /// Opens a transaction for `user_id` that may also read, through the
    /// `member_overview` policies a schema defines for it, the rows of
    /// `project_ids`: the projects the project service says the user is a
    /// member of, for views that put them side by side in one statement.
    /// No project is set, so `tenant_isolation` matches nothing and the
    /// transaction can write no tenant row; tables without such a policy
    /// show nothing.
    pub async fn member_projects_tx(
        &self,
        user_id: Uuid,
        project_ids: &[Uuid],
    ) -> Result<TenantTx, DbError> {
        let tx = TenantTx::begin_with(self, None, Some(user_id)).await?;
        let list: Vec<String> = project_ids.iter().map(Uuid::to_string).collect();
        let value = format!("{{{}}}", list.join(","));
        tx.execute(
            "SELECT set_config('app.member_project_ids', $1, true)",
            &[&value],
        )
        .await?;
        Ok(tx)
    }

    /// Opens a transaction confined to `project_id` for a background
    /// worker, which has a project but no request and no user.
    pub async fn worker_tx(&self, project_id: Uuid) -> Result<TenantTx, DbError> {
        TenantTx::begin_with(self, Some(project_id), None).await
    }

    /// Readiness: the database answers within `timeout` and the schema is at
    /// least at `expected_version`.
    pub async fn check_ready(
        &self,
        expected_version: i64,
        timeout: Duration,
    ) -> Result<(), DbError> {
        let check = async {
            let conn = self.connection().await?;
            let sql = format!(
                "SELECT coalesce(max(version), 0) FROM {}.schema_migrations",
                self.schema
            );
            let applied: i64 = conn.query_one(&sql, &[]).await?.try_get(0)?;
            if applied < expected_version {
                return Err(DbError::MigrationsBehind {
                    applied,
                    expected: expected_version,
                });
            }
            Ok(())
        };
        tokio::time::timeout(timeout, check)
            .await
            .map_err(|_| DbError::Timeout(timeout))?
    }

    /// Closes the pool: waiting callers fail and idle connections are dropped.
    pub fn close(&self) {
        self.pool.close();
    }
}
